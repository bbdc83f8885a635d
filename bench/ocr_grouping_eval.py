"""How line grouping changes OCR text order: CER of the blocks' text, in reading order, against the truth.

    .venv/bin/python -m bench.ocr_grouping_eval --sroie 5   # OCR once per page, cached in /tmp/opticite-ocr-lines

RapidOCR reads each upright Tesseract test page and a few SROIE receipts once (the slow part); its lines are cached, so a change to the
grouping (`ingest.ocr.rapidocr.build_blocks`) is re-scored in a second on the same lines. CER is as in
`bench.ocr_cpu_eval`: Levenshtein over the whitespace-collapsed text, divided by the truth's length.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.ocr_cpu_eval import TESTDATA, cases, cer, normalize
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, TextBox, build_blocks
from ingest.sources import open_source

CACHE = Path("/tmp/opticite-ocr-lines")


def cached_lines(engine: RapidOcrEngine, path: Path) -> tuple[list[TextBox], tuple[int, int]]:
    """The page's kept lines in pixels of the image read, and that image's size."""
    cache = CACHE / f"{path.name}.json"
    if not cache.exists():
        with open_source(path) as doc:
            layout = engine.recognize_sync(doc.render_page(1))
        CACHE.mkdir(parents=True, exist_ok=True)
        cache.write_text(layout.raw or "{}")
    record = json.loads(cache.read_text())
    boxes = [TextBox(text, *box, score) for text, box, score in record["lines"]]
    return boxes, tuple(record["size_px"])  # type: ignore[return-value]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata", type=Path, default=TESTDATA, help="the shared testdata folder")
    parser.add_argument("--sroie", type=int, default=5, help="receipts to score too (of 30)")
    args = parser.parse_args(argv)
    engine = RapidOcrEngine(RapidOcrConfig(threads=1))
    scores = {}
    for case in cases(args.sroie, args.testdata):
        if case.group == "docling" or "rotated" in case.path.name:
            continue  # one sentence, or the same text turned: nothing for the grouping to change
        boxes, size_px = cached_lines(engine, case.path)
        blocks = sorted(build_blocks(boxes, size_px), key=lambda b: b.order)
        text = "\n".join(b.markdown for b in blocks)
        fold = str.casefold if case.fold else str
        score = cer(normalize(fold(text)), normalize(fold(case.truth)))
        scores[case.path.name] = {
            "cer": round(score, 4),
            "headings": sum(b.kind == "heading" for b in blocks),
        }
    print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
