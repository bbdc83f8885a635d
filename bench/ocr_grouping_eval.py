"""How line grouping changes OCR text order: CER of the blocks' text, in reading order, against the truth.

    .venv/bin/python -m bench.ocr_grouping_eval   # OCR once per page, cached in /tmp/opticite-ocr-lines

RapidOCR reads each Tesseract test page once (the slow part); its lines are cached, so a change to the
grouping (`ingest.ocr.rapidocr.build_blocks`) is re-scored in a second on the same lines. CER is as in
`bench.ocr_cpu_eval`: Levenshtein over the whitespace-collapsed text, divided by the truth's length.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.ocr_cpu_eval import TESSERACT_PAGES, TESTDATA, cer, normalize
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, TextBox, build_blocks
from ingest.sources import open_source

CACHE = Path("/tmp/opticite-ocr-lines")
UPRIGHT = [name for name in TESSERACT_PAGES if "rotated" not in name]


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
    args = parser.parse_args(argv)
    engine = RapidOcrEngine(RapidOcrConfig(threads=1))
    folder = args.testdata / "tesseract-test"
    scores = {}
    for name in UPRIGHT:
        boxes, size_px = cached_lines(engine, folder / name)
        blocks = sorted(build_blocks(boxes, size_px), key=lambda b: b.order)
        text = normalize("\n".join(b.markdown for b in blocks))
        truth = normalize((folder / TESSERACT_PAGES[name]).read_text())
        scores[name] = {
            "cer": round(cer(text, truth), 4),
            "headings": sum(b.kind == "heading" for b in blocks),
        }
    print(json.dumps(scores, indent=2))


if __name__ == "__main__":
    main()
