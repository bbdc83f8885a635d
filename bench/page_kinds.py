"""Page-kind router accuracy on a labelled set: the first pages of the shared test data (born-digital
PDFs, scans, receipts) and rendered screenshots, line drawings and camera photos of pages.

Pages are split by position: the even ones were used to set the thresholds of
ingest/ocr/page_kind.py, the odd ones (`held_out`) are what docs/benchmarks.md reports.

    .venv/bin/python -m bench.page_kinds          # writes bench/results/page_kinds.json
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from ingest.ocr.page_kind import PAGE_KINDS, PageKind, classify_page, measure_kind
from ingest.ocr.textlayer import has_real_text
from ingest.page import PageImage
from ingest.sources import SourceConfig, open_source
from tests.support import page_kinds
from tests.support.documents import TESTDATA

RESULTS = Path(__file__).parent / "results" / "page_kinds.json"
SHARED: dict[PageKind, list[str]] = {
    "born_digital": ["docling-testdata/pdf/sources/*.pdf", "cuad-dev/contracts/*.pdf"],
    "scanned_text": [
        "tesseract-test/*.tif",
        "tesseract-test/*.png",
        "docling-testdata/ocr/sources/*.pdf",
        "sroie-sample/img/*.jpg",
    ],
}
RENDERED = {"screenshot": page_kinds.screenshot, "drawing": page_kinds.drawing, "photo": page_kinds.photo}
RENDERED_EACH = 14


def labelled_pages() -> list[tuple[str, PageKind, PageImage]]:
    pages: list[tuple[str, PageKind, PageImage]] = []
    for kind, patterns in SHARED.items():
        for path in sorted(p for pattern in patterns for p in TESTDATA.glob(pattern)):
            with open_source(path, SourceConfig()) as doc:
                pages.append((f"{path.parent.name}/{path.name}", kind, doc.render_page(1)))
    for name, render in RENDERED.items():
        pages += [(f"rendered {name} {seed}", name, render(seed)) for seed in range(RENDERED_EACH)]  # type: ignore[misc]
    return pages


def main() -> None:
    rows = []
    for i, (name, truth, page) in enumerate(labelled_pages()):
        measures = measure_kind(page)
        kind, reason = classify_page(measures, has_real_text(page))
        held_out = i % 2 == 1
        rows.append(
            {"page": name, "truth": truth, "kind": kind, "reason": reason, "held_out": held_out}
            | measures.model_dump()
        )
        if kind != truth:
            print(f"{'held-out' if held_out else 'tuning  '} {name}: {truth} read as {kind} ({reason})")
    report = {}
    for split in ("tuning", "held_out"):
        chosen = [r for r in rows if r["held_out"] == (split == "held_out")]
        per_kind: dict[str, list[bool]] = defaultdict(list)
        for r in chosen:
            per_kind[r["truth"]].append(r["kind"] == r["truth"])
        report[split] = {
            "pages": len(chosen),
            "accuracy": round(sum(r["kind"] == r["truth"] for r in chosen) / len(chosen), 3),
            "per_kind": {
                k: {"pages": len(v), "accuracy": round(sum(v) / len(v), 3)}
                for k, v in sorted(per_kind.items())
            },
        }
        print(split, json.dumps(report[split]))
    print("pages per kind:", dict(Counter(r["truth"] for r in rows)), "kinds:", PAGE_KINDS)
    RESULTS.write_text(json.dumps({"report": report, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
