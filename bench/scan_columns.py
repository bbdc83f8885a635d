"""Reading order and column mixing on scanned copies of multi-column pages, read by RapidOCR.

    .venv/bin/python -m bench.scan_columns --out bench/results/scan_columns.json

Pages: the multi-column pages of the olmOCR-bench sample and of docling-testdata (English, born-digital:
the truth is the page's text layer in its own order), and five generated Chinese pages
(`bench.cjk_columns`: newspapers in two and three columns, broker reports with a side column; the
truth is the order the lines were drawn in). Each page is scan-copied like `bench.scan_reading_order`
(200 dpi grey, 0.6 degree turn, noise, JPEG 60) and read once by RapidOCR; its lines are cached in
/tmp/opticite-ocr-lines, so a change to the grouping is re-scored in seconds.

Per page: distance = Levenshtein(blocks' text in reading order, truth) / len(truth), whitespace-collapsed
(English truth: the text layer as `TextLayerEngine` orders it; `distance_stream`: against PyMuPDF's
plain text, in the PDF's content-stream order)
(Chinese: whitespace removed, NFKC); mixed = blocks holding lines of two columns (each OCR line takes the
column of the nearest truth line; English columns come from the text layer's gutters, lines across a
gutter belong to none); and the olmOCR-bench "order" tests of the page, on the same text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import unicodedata
from pathlib import Path
from typing import Any

import pymupdf

from bench.cjk_columns import make_pages
from bench.ocr_cpu_eval import TESTDATA, cer, normalize
from bench.olmocr_eval import check_order
from bench.scan_reading_order import cached_lines
from ingest.layout import BBox, Block
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, TextBox, build_blocks
from ingest.ocr.reading_order import column_separators
from ingest.ocr.textlayer import TextLayerEngine
from ingest.sources import open_source

OLMOCR = [
    "multi_column_miss",
    "mathfuncs",
    "mathfuncs_colswitch",
    "openstax_caculus_pg_273",
    "small_page_size",
]
OLMOCR_HF = ["ff518b1240a66978f22035528ccb029450b5_pg2"]
# normal_4pages (two columns) is Korean, which RapidOCR's default models do not read
DOCLING = [("amt_handbook_sample", 1), ("table_mislabeled_as_picture", 1)]

Truth = list[tuple[BBox, int]]  # truth lines: box on the page, column (-1: across columns)


def english_pages(testdata: Path) -> list[tuple[str, Path, int]]:
    olm = testdata / "olmocr-bench-sample" / "pdfs"
    docling = testdata / "docling-testdata" / "pdf" / "sources"
    return (
        [(f"olmocr/{s}", olm / f"{s}.pdf", 1) for s in OLMOCR]
        + [(f"olmocr/{s}", olm / "headers_footers" / f"{s}.pdf", 1) for s in OLMOCR_HF]
        + [(f"docling/{s} p{p}", docling / f"{s}.pdf", p) for s, p in DOCLING]
    )


def text_layer_text(path: Path, number: int) -> str:
    """The page's text layer in our reading order (`TextLayerEngine`: paragraphs, columns cut by
    `order_blocks`), each block's lines as printed (no Markdown marks)."""
    with open_source(path) as doc:
        layout = TextLayerEngine().recognize_sync(doc.render_page(number))
    blocks = sorted(layout.blocks, key=lambda b: b.order)
    return "\n".join("\n".join(ln.text for ln in b.lines) if b.lines else b.markdown for b in blocks)


def text_layer_truth(page: pymupdf.Page) -> Truth:
    """The text layer's lines, each in the column of the page's gutters it falls in."""
    w, h = page.rect.width, page.rect.height
    boxes = [
        BBox(x0=max(0, x0 / w), y0=max(0, y0 / h), x1=min(1, x1 / w), y1=min(1, y1 / h))
        for b in page.get_text("dict")["blocks"]
        for x0, y0, x1, y1 in (ln["bbox"] for ln in b.get("lines", []))
    ]
    seps = column_separators(boxes)

    def column(b: BBox) -> int:
        if any(b.x0 < s < b.x1 for s in seps):
            return -1
        return sum(1 for s in seps if (b.x0 + b.x1) / 2 > s)

    return [(b, column(b)) for b in boxes]


def mixed_blocks(blocks: list[Block], truth: Truth) -> int:
    """Blocks whose lines fall in more than one column of the truth."""

    def column(line: BBox) -> int:
        cx, cy = (line.x0 + line.x1) / 2, (line.y0 + line.y1) / 2
        box, col = min(truth, key=lambda t: _distance(t[0], cx, cy))
        return col

    return sum(len({c for ln in b.lines if (c := column(ln.bbox)) >= 0}) > 1 for b in blocks)


def _distance(b: BBox, x: float, y: float) -> float:
    dx = max(b.x0 - x, 0.0, x - b.x1)
    dy = max(b.y0 - y, 0.0, y - b.y1)
    return dx * dx + 4 * dy * dy  # rows are closer together than columns


def cjk_normalize(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def read_blocks(engine: RapidOcrEngine, key: str, page: pymupdf.Page, number: int) -> list[Block]:
    record = cached_lines(engine, f"cols-{key}", page, number)
    boxes = [TextBox(text, *box, score) for text, box, score in record["lines"]]
    return sorted(build_blocks(boxes, tuple(record["size_px"])), key=lambda b: b.order)


def order_tests(testdata: Path) -> dict[str, list[dict]]:
    tests: dict[str, list[dict]] = {}
    for line in (testdata / "olmocr-bench-sample" / "dataset.jsonl").read_text().splitlines():
        test = json.loads(line) if line.strip() else {}
        if test.get("type") == "order":
            tests.setdefault(Path(test["pdf"]).stem, []).append(test)
    return tests


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata", type=Path, default=TESTDATA, help="the shared testdata folder")
    parser.add_argument("--out", type=Path, help="write the figures here as JSON")
    args = parser.parse_args(argv)
    engine = RapidOcrEngine(RapidOcrConfig(threads=1))
    tests = order_tests(args.testdata)
    rows: dict[str, dict[str, Any]] = {}
    for key, path, number in english_pages(args.testdata):
        with pymupdf.open(path) as doc:
            page = doc[number - 1]
            blocks = read_blocks(engine, key.replace("/", "-").replace(" ", "-"), page, number)
            text = "\n".join(b.markdown for b in blocks)
            row: dict[str, Any] = {
                "distance": round(cer(normalize(text), normalize(text_layer_text(path, number))), 4),
                "distance_stream": round(cer(normalize(text), normalize(page.get_text())), 4),
                "blocks": len(blocks),
                "headings": sum(b.kind == "heading" for b in blocks),
                "mixed": mixed_blocks(blocks, text_layer_truth(page)),
            }
            page_tests = tests.get(path.stem, [])
            if page_tests:
                row["order_passed"] = [check_order(t, text) for t in page_tests]
            rows[key] = row
    doc, cjk = make_pages()
    for i, spec in enumerate(cjk):
        blocks = read_blocks(engine, f"cjk-{spec.name}", doc[i], i + 1)
        text = cjk_normalize("".join(b.markdown for b in blocks))
        truth_text = cjk_normalize("".join(t for t, _, _ in spec.truth))
        truth = [(BBox(x0=b[0], y0=b[1], x1=b[2], y1=b[3]), region) for _, region, b in spec.truth]
        rows[f"cjk/{spec.name}"] = {
            "distance": round(cer(text, truth_text), 4),
            "blocks": len(blocks),
            "headings": sum(b.kind == "heading" for b in blocks),
            "mixed": mixed_blocks(blocks, truth),
        }
    summary = _summary(rows)
    for key, row in rows.items():
        passed = row.get("order_passed")
        order = f" order {sum(passed)}/{len(passed)}" if passed else ""
        print(
            f"{key:52s} distance {row['distance']:.4f} blocks {row['blocks']:3d} headings {row['headings']:2d} "
            f"mixed {row['mixed']:2d}{order}"
        )
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "pages": rows}, indent=2) + "\n")


def _summary(rows: dict[str, dict]) -> dict[str, object]:
    out: dict[str, object] = {}
    for group in ("olmocr", "docling", "cjk"):
        part = [r for k, r in rows.items() if k.startswith(group)]
        out[group] = {
            "pages": len(part),
            "mean_distance": round(statistics.mean(r["distance"] for r in part), 4),
            "mixed_blocks": sum(r["mixed"] for r in part),
        }
    passed = [p for r in rows.values() for p in r.get("order_passed", [])]
    out["olmocr_order_tests"] = f"{sum(passed)}/{len(passed)}"
    return out


if __name__ == "__main__":
    main()
