"""olmOCR-bench sample pass rate for our Markdown: the text-layer engine where the page has real text,
a fallback engine (RapidOCR by default) for the rest.

Run: .venv/bin/python bench/olmocr_eval.py [--fallback rapidocr|none]  (writes bench/results/olmocr_eval.json)

The checks follow olmocr/bench/tests.py simply: olmOCR's text normalization, rapidfuzz partial_ratio for
present/absent, fuzzy positions for order, Markdown/HTML table cell relations, and the blank-page baseline.
Math compares LaTeX strings after removing whitespace (olmOCR renders both with KaTeX; we cannot here).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import unicodedata
from collections import defaultdict
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from rapidfuzz import fuzz

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.layout import PageLayout  # noqa: E402
from ingest.markdown import render_page_markdown  # noqa: E402
from ingest.ocr.engine import OcrOptions  # noqa: E402
from ingest.ocr.textlayer import TextLayerEngine, has_real_text, mark_furniture  # noqa: E402
from ingest.sources import open_source  # noqa: E402

BENCH = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "olmocr-bench-sample"
_REPLACE = {
    "‘": "'",
    "’": "'",
    "‚": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "＿": "_",
    "–": "-",
    "—": "-",
    "‑": "-",
}
_REPLACE |= {"‒": "-", "−": "-", "\u00b5": "\u03bc"}


def normalize(md: str) -> str:
    """olmOCR's normalize_text: drop <br>, bold/italic marks, collapse whitespace, NFC, ASCII punctuation."""
    md = re.sub(r"<br/?>", " ", md)
    md = re.sub(r"(\*\*|__)(.*?)\1", r"\2", md)
    md = re.sub(r"</?[bi]>", "", md)
    md = re.sub(r"(\*|_)(.*?)\1", r"\2", md)
    md = unicodedata.normalize("NFC", re.sub(r"\s+", " ", md))
    for fancy, plain in _REPLACE.items():
        md = md.replace(fancy, plain)
    return md


# --------------------------------------------------------------------------------------------- text checks
def check_presence(test: dict[str, Any], md: str) -> bool:
    query, text = normalize(test["text"]), normalize(md)
    if not test.get("case_sensitive", True):
        query, text = query.lower(), text.lower()
    first, last = test.get("first_n"), test.get("last_n")
    if first or last:
        text = (text[:first] if first else "") + (text[-last:] if last else "")
    diffs = test.get("max_diffs", 0)
    present = len(text) >= len(query) - diffs and fuzz.partial_ratio(query, text) / 100 >= 1 - diffs / len(
        query
    )
    return present if test["type"] == "present" else not present


def _positions(query: str, text: str, max_diffs: int) -> list[int]:
    exact = [m.start() for m in re.finditer(re.escape(query), text)]
    if exact or max_diffs == 0:
        return exact
    hit = fuzz.partial_ratio_alignment(query, text)
    ok = hit is not None and hit.score / 100 >= 1 - max_diffs / len(query)
    return [hit.dest_start] if ok and hit is not None else []


def check_order(test: dict[str, Any], md: str) -> bool:
    text, diffs = normalize(md), test.get("max_diffs", 0)
    before = _positions(normalize(test["before"]), text, diffs)
    after = _positions(normalize(test["after"]), text, diffs)
    return any(b < a for b in before for a in after)


def check_math(test: dict[str, Any], md: str) -> bool:
    found = re.findall(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)|\$(.+?)\$", md, re.DOTALL)
    want = re.sub(r"\s+", "", test["math"])
    return any(re.sub(r"\s+", "", "".join(groups)) == want for groups in found)


def check_baseline(test: dict[str, Any], md: str) -> bool:
    alnum = sum(1 for c in md if c.isalnum())
    return alnum <= test["max_length"] if test.get("max_length") is not None else alnum > 0


# --------------------------------------------------------------------------------------------- tables
class _HtmlTables(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self.tables and self.tables[-1]:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse_tables(md: str) -> list[list[list[str]]]:
    """Markdown pipe tables (separator rows dropped) and HTML tables, as grids of cell text."""
    tables: list[list[list[str]]] = []
    rows: list[list[str]] = []
    for line in [*md.splitlines(), ""]:
        if line.strip().startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not all(re.fullmatch(r":?-{1,}:?", c) for c in cells if c):
                rows.append(cells)
        elif rows:
            tables.append(rows)
            rows = []
    parser = _HtmlTables()
    parser.feed(md)
    return tables + [t for t in parser.tables if t]


def _neighbours(grid: list[list[str]], r: int, c: int, rel: str) -> list[str]:
    def at(rr: int, cc: int) -> list[str]:
        return [grid[rr][cc]] if 0 <= rr < len(grid) and 0 <= cc < len(grid[rr]) else []

    steps = {"up": (-1, 0), "down": (1, 0), "left": (0, -1), "right": (0, 1)}
    if rel in steps:
        return at(r + steps[rel][0], c + steps[rel][1])
    if rel == "top_heading":  # any cell above in the same column (olmOCR: the header rows)
        return [x for rr in range(r) for x in at(rr, c)]
    return [x for cc in range(c) for x in at(r, cc)]  # left_heading: any cell to the left


def check_table(test: dict[str, Any], md: str) -> bool:
    def similar(want: str, got: str) -> bool:
        want, got = normalize(want), normalize(got)
        return fuzz.ratio(want, got) / 100 >= max(0.5, 1 - test.get("max_diffs", 0) / max(1, len(want)))

    relations = [k for k in ("up", "down", "left", "right", "top_heading", "left_heading") if test.get(k)]
    for grid in parse_tables(md):
        for r, row in enumerate(grid):
            for c, cell in enumerate(row):
                if similar(test["cell"], cell) and all(
                    any(similar(test[k], n) for n in _neighbours(grid, r, c, k)) for k in relations
                ):
                    return True
    return False


CHECKS = {
    "present": check_presence,
    "absent": check_presence,
    "order": check_order,
    "table": check_table,
    "math": check_math,
    "baseline": check_baseline,
}


# --------------------------------------------------------------------------------------------- run
async def page_markdown(pdf: Path, page_no: int, fallback: Any) -> tuple[str, str]:
    with open_source(pdf) as doc:
        page = doc.render_page(page_no)
    engine = TextLayerEngine() if has_real_text(page) or fallback is None else fallback
    layout: PageLayout = await engine.recognize(page, OcrOptions())
    (layout,) = mark_furniture([layout])
    return engine.name, render_page_markdown(layout)


def load_tests() -> list[dict[str, Any]]:
    lines = [
        *(BENCH / "dataset.jsonl").read_text().splitlines(),
        *(BENCH / "blanks.jsonl").read_text().splitlines(),
    ]
    return [json.loads(line) for line in lines if line.strip()]


def summarize(results: list[dict[str, Any]]) -> dict[str, Any]:
    by_type: dict[str, list[bool]] = defaultdict(list)
    for r in results:
        by_type[r["type"]].append(r["passed"])
    return {
        "overall": round(sum(r["passed"] for r in results) / len(results), 4),
        "tests": len(results),
        "by_type": {
            t: {"pass_rate": round(sum(v) / len(v), 4), "tests": len(v)} for t, v in sorted(by_type.items())
        },
    }


async def run(fallback_name: str, md_dir: Path | None = None) -> dict[str, Any]:
    fallback = None
    if fallback_name == "rapidocr":
        from ingest.ocr.rapidocr import RapidOcrEngine

        fallback = RapidOcrEngine()
    tests = load_tests()
    pages: dict[tuple[str, int], tuple[str, str, float]] = {}
    for key in sorted({(t["pdf"], t["page"]) for t in tests}):
        start = time.perf_counter()
        engine, md = await page_markdown(BENCH / "pdfs" / key[0], key[1], fallback)
        pages[key] = (engine, md, time.perf_counter() - start)
        if md_dir is not None:
            md_dir.mkdir(parents=True, exist_ok=True)
            (md_dir / f"{Path(key[0]).stem}_pg{key[1]}.md").write_text(md)
    results = []
    for t in tests:
        engine, md, _ = pages[(t["pdf"], t["page"])]
        results.append({"id": t["id"], "pdf": t["pdf"], "type": t["type"], "engine": engine,
                        "passed": CHECKS[t["type"]](t, md)})  # fmt: skip
    summary = summarize(results)
    engines = {f"{k[0]}#{k[1]}": {"engine": v[0], "seconds": round(v[2], 2)} for k, v in pages.items()}
    return {"fallback": fallback_name, **summary, "pages": engines, "results": results}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fallback", choices=["rapidocr", "none"], default="rapidocr")
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "olmocr_eval.json")
    ap.add_argument("--md-dir", type=Path, help="also write each page's Markdown here (to read the failures)")
    args = ap.parse_args()
    result = asyncio.run(run(args.fallback, args.md_dir))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k not in ("results",)}, indent=2))
    print("failed:", [r["id"] for r in result["results"] if not r["passed"]])


if __name__ == "__main__":
    main()
