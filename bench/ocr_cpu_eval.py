"""RapidOCR on CPU: character error rate on Tesseract's test pages and SROIE receipts, and pages/s on 2 cores.

    .venv/bin/python -m bench.ocr_cpu_eval --sroie 10   # writes bench/results/ocr_cpu_eval.json

Every page is read twice, with `auto_orient` on (the default; the summaries) and off
(`orientation.without`), so the cost and gain of turning pages upright are measured on the same
pages in the same run; `orientation.extra_cpu_s_per_page` is the difference in CPU seconds.

CER = Levenshtein(ocr, truth) / len(truth) after collapsing whitespace (SROIE's truth is upper case:
compared case-folded). `cer` reads the blocks' Markdown in reading order, so it also charges
grouping and order mistakes; `cer_rows` reads every line row by row, top to bottom (the order of
SROIE's truth), and `word_recall` (truth words found anywhere) ignores order altogether.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, TextBox, block_text, fit_side
from ingest.ocr.text_score import cer, normalize
from ingest.orientation import detect_orientation
from ingest.preprocess import decode_png
from ingest.sources import open_source

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
RESULTS = Path(__file__).resolve().parent / "results" / "ocr_cpu_eval.json"
TESSERACT_PAGES = {  # image -> ground-truth text (the rotated variants share phototest's text)
    "phototest.tif": "phototest.txt",
    "eurotext.tif": "eurotext.txt",
    "8071_093.3B.tif": "8071_093.3B.txt",
    "8087_054.3B.tif": "8087_054.3B.txt",
    "phototest-rotated-180.png": "phototest.txt",
    "phototest-rotated-L.png": "phototest.txt",
    "phototest-rotated-R.png": "phototest.txt",
}
DOCLING_OCR = "docling-testdata/ocr"  # one scanned sentence, upright and turned 90/180/270
DOCLING_PAGES = [
    "ocr_test.pdf",
    "ocr_test_rotated_90.pdf",
    "ocr_test_rotated_180.pdf",
    "ocr_test_rotated_270.pdf",
]
DOCLING_TRUTH = "groundtruth/rapidocr/full_page/ocr_test.rapidocr.full_page.md"


def score(texts: tuple[str, str], truth: str, fold: bool = False) -> dict[str, float]:
    ordered, rows = (normalize(t.casefold() if fold else t) for t in texts)
    t = normalize(truth.casefold() if fold else truth)
    words = set(ordered.split())
    truth_words = t.split()
    return {
        "cer": cer(ordered, t),
        "cer_rows": cer(rows, t),
        "word_recall": sum(w in words for w in truth_words) / max(len(truth_words), 1),
    }


def ocr_file(engine: RapidOcrEngine, path: Path) -> tuple[tuple[str, str], dict[str, Any], tuple[int, int]]:
    """(text in reading order, text row by row), {seconds, cpu_s, rotation}, page pixels."""
    with open_source(path) as doc:
        page = doc.render_page(1)
    started, cpu_started = time.perf_counter(), time.process_time()
    layout = engine.recognize_sync(page)
    elapsed = {
        "seconds": time.perf_counter() - started,
        "cpu_s": time.process_time() - cpu_started,
        "rotation": json.loads(layout.raw)["rotation"],
    }
    ordered = "\n".join(b.markdown for b in sorted(layout.blocks, key=lambda b: b.order))
    lines = [ln for b in layout.blocks for ln in b.lines]
    boxes = [TextBox(ln.text, *ln.bbox.to_pixels(page.image_size)) for ln in lines]
    return (ordered, block_text(boxes) if boxes else ""), elapsed, page.image_size


@dataclass(frozen=True)
class Case:
    group: str  # tesseract, docling or sroie
    path: Path
    truth: str
    fold: bool = False  # compare case-folded


def cases(sroie: int, testdata: Path = TESTDATA) -> list[Case]:
    tess, docling = testdata / "tesseract-test", testdata / DOCLING_OCR
    out = [
        Case("tesseract", tess / image, (tess / truth).read_text())
        for image, truth in TESSERACT_PAGES.items()
    ]
    docling_truth = (docling / DOCLING_TRUTH).read_text()
    out += [Case("docling", docling / "sources" / name, docling_truth) for name in DOCLING_PAGES]
    for image in sorted((testdata / "sroie-sample" / "img").glob("*.jpg"))[:sroie]:
        lines = (image.parent.parent / "box" / f"{image.stem}.csv").read_text(errors="replace").splitlines()
        truth = "\n".join(line.split(",", 8)[8] for line in lines if line.count(",") >= 8)
        out.append(Case("sroie", image, truth, fold=True))
    return out


def evaluate(engines: dict[str, RapidOcrEngine], todo: list[Case]) -> dict[str, list[dict[str, Any]]]:
    """Rows per engine; the engines take turns page by page, so both see the same machine load.

    The first read of a new page size is slower (onnxruntime meets new shapes), so which engine goes
    first alternates from page to page.
    """
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in engines}
    for i, case in enumerate(todo):
        turns = list(engines.items())
        for name, engine in turns if i % 2 == 0 else reversed(turns):
            text, secs, size = ocr_file(engine, case.path)
            row = {"group": case.group, "file": case.path.name, "size_px": size, **secs}
            rows[name].append(row | score(text, case.truth, fold=case.fold))
    return rows


def orientation_step_s(engine: RapidOcrEngine, todo: list[Case]) -> dict[str, float]:
    """CPU seconds of the orientation decision alone, on pages found upright: all they pay extra.

    Whole-page CPU times on a shared machine vary by more than this step costs, so it is timed apart.
    """
    spent = []
    for case in todo:
        with open_source(case.path) as doc:
            img = fit_side(decode_png(doc.render_page(1).image_png), engine.config.max_side_px)
        lines = engine.read_lines(img)
        started = time.process_time()
        found = detect_orientation(
            img, [b.bbox_px for b in lines], [b.score for b in lines], engine.score_crops
        )
        if found.rotation == 0:
            spent.append(time.process_time() - started)
    return {"pages": len(spent), "mean_cpu_s": statistics.fmean(spent), "max_cpu_s": max(spent)}


def textlayer_iou() -> dict[str, Any] | None:
    """Place for the text-layer engine's box-IoU eval (owned by that engine's author).

    Its full evaluation currently lives in bench/textlayer_eval.py; return its summary here to
    have both CPU engines in one results file.
    """
    return None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    secs = sum(r["seconds"] for r in rows)
    return {
        "pages": len(rows),
        "mean_cer": statistics.fmean(r["cer"] for r in rows),
        "median_cer": statistics.median(r["cer"] for r in rows),
        "mean_cer_rows": statistics.fmean(r["cer_rows"] for r in rows),
        "mean_word_recall": statistics.fmean(r["word_recall"] for r in rows),
        "pages_per_s": len(rows) / secs if secs else 0.0,
        # CPU seconds per page: less sensitive than wall time to other work on a shared machine
        "cpu_s_per_page": statistics.fmean(r["cpu_s"] for r in rows),
    }


def summaries(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tesseract, docling, sroie = (
        [r for r in rows if r["group"] == g] for g in ("tesseract", "docling", "sroie")
    )
    return {
        "tesseract_upright": summarize([r for r in tesseract if "rotated" not in r["file"]]),
        "tesseract_rotated": summarize([r for r in tesseract if "rotated" in r["file"]]),
        "docling_upright": summarize([r for r in docling if "rotated" not in r["file"]]),
        "docling_rotated": summarize([r for r in docling if "rotated" in r["file"]]),
        "sroie": summarize(sroie),
        "all_pages": summarize(tesseract + docling + sroie),
    }


def orientation_cost(on: dict[str, Any], off: dict[str, Any]) -> dict[str, Any]:
    """Extra CPU seconds per page and CER before/after, for upright and rotated pages."""
    out: dict[str, Any] = {}
    for group in on:
        out[group] = {
            "extra_cpu_s_per_page": on[group]["cpu_s_per_page"] - off[group]["cpu_s_per_page"],
            "mean_cer_before": off[group]["mean_cer"],
            "mean_cer_after": on[group]["mean_cer"],
        }
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sroie", type=int, default=10, help="receipts to evaluate (of 30)")
    parser.add_argument("--threads", type=int, default=2, help="onnxruntime intra-op threads")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    engine = RapidOcrEngine(RapidOcrConfig(threads=args.threads))
    started = time.perf_counter()
    engine.warm_up()  # model load is reported apart from pages/s
    load_s = time.perf_counter() - started
    plain = RapidOcrEngine(RapidOcrConfig(threads=args.threads, auto_orient=False))
    plain._ocr = engine._ocr  # same models, only the orientation step differs
    load_before = os.getloadavg()
    todo = cases(args.sroie)
    runs = evaluate({"on": engine, "off": plain}, todo)
    with_orient, without = summaries(runs["on"]), summaries(runs["off"])
    result = {
        "command": f".venv/bin/python -m bench.ocr_cpu_eval --sroie {args.sroie} --threads {args.threads}",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "threads": args.threads},
        "loadavg_1m": {"before": load_before[0], "after": os.getloadavg()[0]},
        "model_load_s": load_s,
        "config": engine.config.model_dump(),
        **with_orient,
        "orientation": {
            "without": without,
            "cost": orientation_cost(with_orient, without),
            "step_on_upright_pages": orientation_step_s(
                engine, [c for c in todo if "rotated" not in c.path.name]
            ),
        },
        "textlayer": textlayer_iou(),
        "pages": runs["on"],
        "pages_without_orientation": runs["off"],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    shown = {k: v for k, v in result.items() if not k.startswith("pages") and k != "orientation"}
    print(json.dumps(shown, indent=2))
    print(json.dumps({k: v for k, v in result["orientation"].items() if k != "without"}, indent=2))


if __name__ == "__main__":
    main()
