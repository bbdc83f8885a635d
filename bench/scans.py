"""Scanned copies of cuad-dev contracts, read once by the built-in CPU OCR (RapidOCR) and cached.

    nice -n 10 .venv/bin/python -m bench.scan_cache      # RapidOCR on every scanned page, once
    .venv/bin/python -m bench.scans --structure [--before]  # headings and reading order vs the text layer
    .venv/bin/python -m bench.scans --cer 7 --contracts 01,06   # CER and pages/CPU-s, RapidOCR vs OCRmyPDF
    .venv/bin/python bench/retrieval_eval.py --scans ocr    # and answer_eval.py: see `bench_layouts`
    .venv/bin/python bench/retrieval_eval.py --scans ocr-all  # every page of all ten (bench.scan_cache --every)

A scanned copy is what a cheap office scan gives: each page rendered at 200 dpi in grey, turned 0.6
degrees, given Gaussian noise (seeded by the page number) and saved as JPEG (quality 60). Scanned:
contracts 01-06 (`SCANNED`, three per half), their first four pages and every gold page of their
questions (`scan_pages`), 33 pages; `--scans ocr-all` takes every page of all ten (343). RapidOCR (one thread) reads each page image once; its lines
(normalized boxes, word extents) and CPU seconds are cached per page in /tmp/opticite_scans, keyed by
the contract file's hash and the scan settings, and grouped into blocks by today's code
(`ingest.ocr.rapidocr.build_blocks`) on every run, so a change to the structure code is re-scored
without OCR. OCRmyPDF (Tesseract) reads the same pixels as an image-only PDF; OCRmyPDF and Tesseract
are bench-only tools (`apt-get install ocrmypdf tesseract-ocr`), never runtime dependencies.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cuad import is_tuning  # noqa: E402
from bench.cuad_kb import ingest_hash, layouts_for  # noqa: E402
from bench.ocr_cpu_eval import cer, normalize  # noqa: E402
from bench.scan_cache import CACHE, CUAD, _key, contracts, ocr_contract, ocr_page, scan_pages  # noqa: E402
from bench.scan_copy import DPI, TURN_DEG, scan_copy  # noqa: E402
from ingest.clauses import mark_clauses  # noqa: E402
from ingest.layout import BBox, Block, PageLayout  # noqa: E402
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, TextBox, build_blocks  # noqa: E402
from ingest.ocr.reading_order import mark_furniture  # noqa: E402


def page_blocks(record: dict[str, Any], paragraphs: bool = True) -> list[Block]:
    """The cached lines grouped into blocks by today's code (pixels again, as the engine groups them)."""
    w, h = record["size_px"]
    boxes = [
        TextBox(
            text,
            box[0] * w,
            box[1] * h,
            box[2] * w,
            box[3] * h,
            words_x=tuple((a * w, z * w) for a, z in words_x) if words_x else None,
        )
        for text, box, words_x in record["lines"]
    ]
    return build_blocks(boxes, (w, h), paragraphs)


def scan_layouts(path: Path, paragraphs: bool = True, every: bool = False) -> list[PageLayout]:
    """The scanned copy's pages as the pipeline makes them from RapidOCR: blocks, then furniture marks;
    boxes finally put back on the original page (`_unturned`) so they compare with the PDF's gold boxes."""
    layouts = []
    with pymupdf.open(path) as doc:
        for number, record in ocr_contract(path, every=every).items():
            w, h = record["size_px"]
            blocks = page_blocks(record, paragraphs)
            layouts.append(
                PageLayout(
                    page=number,
                    width=w,
                    height=h,
                    unit="px",
                    image_size=(w, h),
                    engine="rapidocr",
                    blocks=blocks,
                )
            )
        layouts = mark_furniture(layouts)
        return [_unturned(lay, doc[lay.page - 1]) for lay in layouts]


def _unturned(layout: PageLayout, page: pymupdf.Page) -> PageLayout:
    """Each box moved (centre by the inverse of the scan's turn, size by the canvas scale) from the scan
    image onto the original page, the frame of the gold boxes; the grouping saw the scan as it is."""
    w = round(page.rect.width * DPI / 72)
    big_w, _ = layout.image_size or (w, 0)

    def move(box: BBox) -> BBox:
        return unturn_box(box, page, layout.image_size)

    def words(words_x: Any, old: BBox, new: BBox) -> Any:
        k = big_w / w
        return (
            [(new.x0 + (a - old.x0) * k, new.x0 + (z - old.x0) * k) for a, z in words_x] if words_x else None
        )

    blocks = []
    for b in layout.blocks:
        lines = []
        for ln in b.lines:
            box = move(ln.bbox)
            lines.append(ln.model_copy(update={"bbox": box, "words_x": words(ln.words_x, ln.bbox, box)}))
        blocks.append(b.model_copy(update={"bbox": move(b.bbox), "lines": lines}))
    return layout.model_copy(update={"blocks": blocks})


def unturn_box(box: BBox, page: pymupdf.Page, canvas_px: tuple[int, int] | None) -> BBox:
    """A box normalized to the scan's canvas (`canvas_px`, the turned page, a little larger than the page)
    moved back onto the original page: centre by the inverse of the turn, size by the canvas scale."""
    w, h = round(page.rect.width * DPI / 72), round(page.rect.height * DPI / 72)
    big_w, big_h = canvas_px or (w, h)
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), TURN_DEG, 1.0)
    m[0, 2] += big_w / 2.0 - w / 2.0
    m[1, 2] += big_h / 2.0 - h / 2.0
    back = cv2.invertAffineTransform(m)
    cx, cy = back @ np.array([(box.x0 + box.x1) / 2 * big_w, (box.y0 + box.y1) / 2 * big_h, 1.0])
    hw, hh = (box.x1 - box.x0) * big_w / w / 2, (box.y1 - box.y0) * big_h / h / 2
    return BBox(x0=cx / w - hw, y0=cy / h - hh, x1=cx / w + hw, y1=cy / h + hh)


def bench_layouts(path: Path, scans: str | None, code: str) -> list[PageLayout]:
    """A contract's layouts for the benches' `--scans`: None, the text layer of every page; "pdf", the
    text layer of the scanned pages only (the like-for-like baseline); "ocr", RapidOCR on their scans;
    "ocr-before", the same lines grouped without `split_paragraphs` (as before it existed); "ocr-all",
    RapidOCR on the scan of every page."""
    if scans in ("ocr", "ocr-before", "ocr-all"):
        return scan_layouts(path, paragraphs=scans != "ocr-before", every=scans == "ocr-all")
    layouts = layouts_for(path, code)
    if scans == "pdf":
        keep = set(scan_pages(path))
        return [lay for lay in layouts if lay.page in keep]
    return layouts


def scanned_pdf(path: Path, pages: list[int]) -> Path:
    """These pages' scans as an image-only PDF of the same JPEG-damaged pixels, made once."""
    out = CACHE / _key(path) / f"{path.stem}.p{'-'.join(map(str, pages))}.scan.pdf"
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with pymupdf.open(path) as doc, pymupdf.open() as scan:
        for number in pages:
            image = scan_copy(doc[number - 1], number, seed=number)
            page = scan.new_page(width=image.width * 72 / DPI, height=image.height * 72 / DPI)
            page.insert_image(page.rect, stream=image.image_png)
        scan.save(out.with_suffix(".tmp"))
    out.with_suffix(".tmp").replace(out)
    return out


def ocrmypdf_pages(path: Path, pages: list[int]) -> dict[str, Any]:
    """These pages' scans read by OCRmyPDF (Tesseract, English, one job), once: {"pages": [text of each
    page, from its sidecar], "cpu_s": CPU seconds of OCRmyPDF and its children (Tesseract, Ghostscript)}."""
    scan = scanned_pdf(path, pages)
    meta = scan.with_suffix(".ocrmypdf.json")
    if meta.is_file():
        return dict(json.loads(meta.read_text()))
    if not shutil.which("ocrmypdf"):
        raise SystemExit("OCRmyPDF is a bench-only tool: apt-get install ocrmypdf tesseract-ocr")
    sidecar = scan.with_suffix(".ocrmypdf.txt")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        ["ocrmypdf", "--jobs", "1", "-l", "eng", "--optimize", "0", "--output-type", "pdf",
         "--sidecar", str(sidecar), "--quiet", str(scan), str(scan.with_suffix(".ocrmypdf.pdf"))],
        check=True,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    texts = sidecar.read_text(encoding="utf-8").split("\f")[: len(pages)]
    meta.write_text(json.dumps({"cpu_s": round(cpu, 2), "pages": texts}))
    return dict(json.loads(meta.read_text()))


def character_accuracy(samples: dict[Path, list[int]]) -> dict[str, Any]:
    """CER of RapidOCR (its blocks in reading order) and OCRmyPDF (its sidecar text) against the PDF's
    text layer (PyMuPDF's order), whitespace-collapsed, per page; means per half; pages per CPU-second."""
    rows = []
    engine = RapidOcrEngine(RapidOcrConfig(threads=1))
    for path, pages in samples.items():
        tess = ocrmypdf_pages(path, pages)
        with pymupdf.open(path) as doc:
            for number, tess_text in zip(pages, tess["pages"], strict=True):
                record = ocr_page(engine, path, doc, number)
                truth = normalize(doc[number - 1].get_text())
                rapid = normalize("\n".join(b.markdown for b in page_blocks(record)))
                rows.append(
                    {
                        "page": f"{path.stem} p{number}",
                        "tuning": is_tuning(path.stem),
                        "rapidocr": round(cer(rapid, truth), 4),
                        "ocrmypdf": round(cer(normalize(tess_text), truth), 4),
                        "rapidocr_cpu_s": record["cpu_s"],
                    }
                )
        rows[-1]["ocrmypdf_cpu_s_file"] = tess["cpu_s"]

    def half(keep: list[dict[str, Any]]) -> dict[str, Any]:
        if not keep:
            return {"pages": 0}
        return {
            "pages": len(keep),
            "rapidocr_cer": round(statistics.mean(r["rapidocr"] for r in keep), 4),
            "ocrmypdf_cer": round(statistics.mean(r["ocrmypdf"] for r in keep), 4),
        }

    timed = [r for r in rows if r.get("ocrmypdf_cpu_s_file")]  # a file OCR'd before timing was kept has none
    timed_pages = sum(len(samples[p]) for p in samples if any(r["page"].startswith(p.stem) for r in timed))
    tess_cpu = sum(r["ocrmypdf_cpu_s_file"] for r in timed)
    return {
        "tuning": half([r for r in rows if r["tuning"]]),
        "held_out": half([r for r in rows if not r["tuning"]]),
        "pages_per_cpu_s": {
            "rapidocr": round(len(rows) / sum(r["rapidocr_cpu_s"] for r in rows), 4),
            "ocrmypdf": round(timed_pages / tess_cpu, 4) if tess_cpu else None,
            "ocrmypdf_timed_pages": timed_pages,
        },
        "rows": rows,
    }


def _heading_key(text: str) -> str:
    return "".join(c for c in text.casefold() if c.isalnum())


def structure_scores(path: Path, paragraphs: bool = True) -> dict[int, dict[str, Any]]:
    """Per scanned page, against the text-layer layout of the same page (both after `mark_clauses`, as
    chunking sees them): reading-order distance (Levenshtein of the content blocks' text in order, over
    the text layer's length, whitespace-collapsed), headings in each, and the text layer's headings found
    as headings on the scan (the same letters and digits, up to 15% edits)."""
    text_pages = {lay.page: lay for lay in mark_clauses(layouts_for(path, ingest_hash()))}
    out = {}
    for scan in mark_clauses(scan_layouts(path, paragraphs)):
        truth = text_pages[scan.page]
        heads = [_heading_key(b.markdown) for b in truth.content_blocks() if b.kind in ("heading", "title")]
        found = [_heading_key(b.markdown) for b in scan.content_blocks() if b.kind in ("heading", "title")]
        hit = sum(any(cer(f, h) <= 0.15 for f in found) for h in heads if h)
        order = normalize("\n".join(b.markdown for b in scan.content_blocks()))
        want = normalize("\n".join(b.markdown for b in truth.content_blocks()))
        out[scan.page] = {
            "distance": round(cer(order, want), 4),
            "headings_text_layer": len(heads),
            "headings_scan": len(found),
            "headings_found": hit,
        }
    return out


def structure(files: list[Path], paragraphs: bool = True) -> dict[str, Any]:
    rows = {f"{p.stem} p{n}": (p.stem, r) for p in files for n, r in structure_scores(p, paragraphs).items()}

    def summary(keep: list[dict[str, Any]]) -> dict[str, Any]:
        if not keep:
            return {"pages": 0}
        heads = sum(r["headings_text_layer"] for r in keep)
        return {
            "pages": len(keep),
            "mean_distance": round(statistics.mean(r["distance"] for r in keep), 4),
            "headings_text_layer": heads,
            "headings_scan": sum(r["headings_scan"] for r in keep),
            "headings_found": sum(r["headings_found"] for r in keep),
            "heading_recall": round(sum(r["headings_found"] for r in keep) / max(1, heads), 3),
        }

    return {
        "pages": {k: r for k, (_, r) in rows.items()},
        "tuning": summary([r for stem, r in rows.values() if is_tuning(stem)]),
        "held_out": summary([r for stem, r in rows.values() if not is_tuning(stem)]),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuad", type=Path, default=CUAD, help="the cuad-dev folder")
    parser.add_argument("--structure", action="store_true", help="headings and reading order vs text layer")
    parser.add_argument("--before", action="store_true", help="group without split_paragraphs")
    parser.add_argument("--contracts", help="comma-separated numbers (01,03): only these contracts")
    parser.add_argument("--out", type=Path, help="results JSON (default bench/results/scans_<part>.json)")
    parser.add_argument(
        "--cer",
        metavar="N",
        type=int,
        help="CER and pages/CPU-s, RapidOCR vs OCRmyPDF, on N first pages each",
    )
    args = parser.parse_args(argv)
    files = contracts(args.cuad)
    result: dict[str, Any]
    if args.contracts:
        files = [p for p in files if p.stem.split("_")[0] in args.contracts.split(",")]
    if args.cer:
        samples = {p: list(range(1, args.cer + 1)) for p in files}
        result = {
            "command": f"python -m bench.scans --cer {args.cer}"
            + (f" --contracts {args.contracts}" if args.contracts else "")
        }
        result |= character_accuracy(samples)
        print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=1))
        (args.out or ROOT / "bench/results/scans_cer.json").write_text(json.dumps(result, indent=1))
    if args.structure:
        result = {
            "command": "python -m bench.scans --structure"
            + (f" --contracts {args.contracts}" if args.contracts else "")
            + (" --before" if args.before else "")
        }
        result["paragraphs"] = not args.before
        result |= structure(files, not args.before)
        for key, row in result["pages"].items():
            print(f"{key:32s} {row}")
        print(json.dumps({k: result[k] for k in ("tuning", "held_out")}, indent=1))
        (args.out or ROOT / "bench/results/scans_structure.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
