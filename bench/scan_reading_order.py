"""Reading order on scanned copies of cuad-dev contracts: edit distance per page against the text layer.

    .venv/bin/python -m bench.scan_reading_order --contracts 3 --pages 2

Each page is rendered at 200 dpi in grey, turned 0.6 degrees, given noise and saved as JPEG (quality 60),
like a contract printed and scanned; RapidOCR reads it once and its lines are cached in
/tmp/opticite-ocr-lines, so a change to the grouping is re-scored in seconds. Distance =
Levenshtein(OCR blocks' text in reading order, the PDF's text layer) / len(text layer), both
whitespace-collapsed; it charges order mistakes as well as misread characters. Headings count the
blocks marked by the engine or, for numbered titles, by `ingest.clauses` (as chunking sees them).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import pymupdf

from bench.ocr_cpu_eval import TESTDATA, cer, normalize
from bench.scan_copy import scan_copy
from ingest.clauses import label_block
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, TextBox, build_blocks

CACHE = Path("/tmp/opticite-ocr-lines")


def cached_lines(engine: RapidOcrEngine, key: str, page: pymupdf.Page, number: int) -> dict:
    cache = CACHE / f"scan-{key}.json"
    if not cache.exists():
        layout = engine.recognize_sync(scan_copy(page, number, seed=number))
        CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(layout.raw or "{}")
    return json.loads(cache.read_text())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata", type=Path, default=TESTDATA, help="the shared testdata folder")
    parser.add_argument("--contracts", type=int, default=3)
    parser.add_argument("--pages", type=int, default=2, help="first pages of each contract")
    args = parser.parse_args(argv)
    engine = RapidOcrEngine(RapidOcrConfig(threads=1))
    scores = {}
    for path in sorted((args.testdata / "cuad-dev" / "contracts").glob("*.pdf"))[: args.contracts]:
        with pymupdf.open(path) as doc:
            for number in range(1, min(args.pages, doc.page_count) + 1):
                page = doc[number - 1]
                record = cached_lines(engine, f"{path.stem}-{number}", page, number)
                boxes = [TextBox(text, *box, score) for text, box, score in record["lines"]]
                blocks = sorted(build_blocks(boxes, tuple(record["size_px"])), key=lambda b: b.order)
                text = normalize("\n".join(b.markdown for b in blocks))
                heads = sum(label_block(b).kind == "heading" for b in blocks)  # numbered ones too
                scores[f"{path.stem} p{number}"] = (round(cer(text, normalize(page.get_text())), 4), heads)
    for key, (dist, heads) in scores.items():
        print(f"{key:40s} distance {dist:.4f} headings {heads}")
    print(f"mean distance {statistics.mean(d for d, _ in scores.values()):.4f}")


if __name__ == "__main__":
    main()
