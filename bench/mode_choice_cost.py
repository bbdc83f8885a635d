"""What `ocr.mode: auto` costs and chooses: seconds to measure a page, and the mode it picks, on
rendered A4 pages of known print size and on the real scans of ../shared/testdata.

    .venv/bin/python -m bench.mode_choice_cost          # writes bench/results/mode_choice_cost.json
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

from ingest.ocr.deepseek import DeepSeekConfig, auto_modes
from ingest.ocr.mode_choice import choose_mode, measure_page
from ingest.page import PageImage
from ingest.sources import SourceConfig, open_source
from tests.support.documents import TESTDATA, print_size_pdf

RESULTS = Path(__file__).parent / "results" / "mode_choice_cost.json"
RENDERED = [(7, False), (9, False), (11, False), (12, False), (14, False), (24, False), (11, True)]
SCANS = [
    "tesseract-test/*.tif",
    "tesseract-test/*.png",
    "docling-testdata/ocr/sources/*",
    "sroie-sample/img/*",
]
REPEATS = 5


def first_pages(paths: list[Path]) -> list[tuple[str, PageImage]]:
    pages = []
    for path in paths:
        try:
            with open_source(path, SourceConfig()) as doc:
                pages.append((path.name, doc.render_page(1)))
        except Exception as exc:  # a bench row per readable file; say what was skipped
            print(f"skipped {path.name}: {exc}")
    return pages


def row(name: str, page: PageImage) -> dict[str, object]:
    seconds = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        measures = measure_page(page)
        seconds.append(time.perf_counter() - started)
    choice = choose_mode(measures, auto_modes(DeepSeekConfig()))
    return {
        "page": name,
        "size_px": list(page.image_size),
        "median_s": round(statistics.median(seconds), 4),
        "glyph_px": measures.glyph_px,
        "ink": round(measures.ink, 3),
        "rules": [measures.rules_h, measures.rules_v],
        "mode": choice.mode,
        "reason": choice.reason,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        pdf = print_size_pdf(Path(tmp) / "sizes.pdf", RENDERED)
        with open_source(pdf, SourceConfig()) as doc:
            rendered = [
                (f"{size} pt{' + table rules' if table else ''}", doc.render_page(n))
                for n, (size, table) in enumerate(RENDERED, start=1)
            ]
    scans = first_pages(sorted(p for pattern in SCANS for p in TESTDATA.glob(pattern) if p.suffix != ".md"))
    rows = [row(name, page) for name, page in rendered + scans]
    for r in rows:
        print(f"{r['page']:<34} {r['median_s']:>7.3f} s  {r['mode']:<7} {r['reason']}")
    machine = {"cpus": os.cpu_count(), "python": platform.python_version(), "note": "shared, loaded machine"}
    RESULTS.write_text(json.dumps({"machine": machine, "repeats": REPEATS, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
