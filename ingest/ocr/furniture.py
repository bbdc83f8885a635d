"""Page furniture: headers, footers and page numbers, by repetition across pages and by position and shape.

Pure functions on normalized boxes (0..1 of the page, top-left origin); usable for any engine's layouts.
"""

from __future__ import annotations

import math
import re
import statistics
from collections import defaultdict
from collections.abc import Sequence

from ingest.layout import FURNITURE_KINDS, BBox, Block, PageLayout

TOP_BAND = 0.15  # repeated headers live above this share of the page height, footers below 1 - this
MIN_REPEAT_SHARE = 0.4  # a header/footer repeats on at least this share of the pages (and on two)
EDGE_BAND = 0.12  # a single page's header/footer rows lie above this share of the height (or below 1 - it)
EXTREME_BAND = 0.06  # short text this close to the top or bottom edge is furniture whatever its shape
MAX_ROWS = 2  # rows peeled off each edge at most
MAX_CHARS = 80  # a header/footer piece is short
SMALL = 0.85  # text lower than this share of the body line height is small print
MARGIN = 0.1  # vertical text in the left/right margin (arXiv stamps, "Downloaded from ...")
PAGE_NUMBER_RE = re.compile(
    r"^[-–—\s]*(?:page\s+)?(?:\d{1,4}|(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3}))"
    r"(?:\s*(?:of|/)\s*\d{1,4})?[-–—\s]*$",
    re.IGNORECASE,
)
STAMP_RE = re.compile(
    r"^(?:downloaded\s+(?:from|by)|download\s+date|published\s+by|provided\s+by|copyright|©|doi:|"
    r"https?://|www\.)",
    re.IGNORECASE,
)
_FURNITURE_CAND = frozenset({"text", "heading", "title", "caption", "list"})

Item = tuple[str, BBox, float]  # text, box, tallest line height (normalized)


# --------------------------------------------------------------------------------------------- one page
def _rows(indices: list[int], items: Sequence[Item]) -> list[list[int]]:
    """Items grouped into rows: each joins the row whose vertical span its centre falls in."""
    rows: list[list[int]] = []
    for i in sorted(indices, key=lambda i: items[i][1].y0):
        box = items[i][1]
        cy = (box.y0 + box.y1) / 2
        row = next((r for r in rows if items[r[0]][1].y0 <= cy <= items[r[0]][1].y1), None)
        if row is None:
            rows.append([i])
        else:
            row.append(i)
    return rows


def _row_is_furniture(row: list[int], items: Sequence[Item], top: bool, gap: float, body: float) -> bool:
    """Short pieces at the edge that carry a page number, or stand apart from the body and look like
    furniture: at the very edge, small print, a stamp (URL, download note) or spread left/centre/right."""
    texts = [items[i][0].strip() for i in row]
    y0, y1 = min(items[i][1].y0 for i in row), max(items[i][1].y1 for i in row)
    if (y1 > EDGE_BAND) if top else (y0 < 1 - EDGE_BAND):
        return False
    if any(len(t) > MAX_CHARS for t in texts):
        return False
    if any(PAGE_NUMBER_RE.match(t) for t in texts):
        return True
    if (y1 <= EXTREME_BAND) if top else (y0 >= 1 - EXTREME_BAND):
        return True
    if gap < 0.5 * body:
        return False
    small = max(items[i][2] for i in row) < SMALL * body
    return small or len(row) >= 2 or any(STAMP_RE.match(t) for t in texts)


def _peel(rows: list[list[int]], items: Sequence[Item], top: bool, body: float) -> dict[int, str]:
    found: dict[int, str] = {}
    ordered = rows if top else rows[::-1]
    for n, row in enumerate(ordered[:MAX_ROWS]):
        rest = ordered[n + 1] if n + 1 < len(ordered) else None
        if rest is None:
            break
        near = min(items[i][1].y0 for i in rest) if top else max(items[i][1].y1 for i in rest)
        edge = max(items[i][1].y1 for i in row) if top else min(items[i][1].y0 for i in row)
        if not _row_is_furniture(row, items, top, abs(near - edge), body):
            break
        for i in row:
            found[i] = (
                "page_number"
                if PAGE_NUMBER_RE.match(items[i][0].strip())
                else ("header" if top else "footer")
            )
    return found


def edge_furniture(items: Sequence[Item]) -> dict[int, str]:
    """Furniture on one page without help from other pages: index -> header/footer/page_number.

    Up to two rows at the top and bottom edge, when short and furniture-like (see `_row_is_furniture`);
    a lone page number as the first or last row anywhere; vertical text in a side margin."""
    found: dict[int, str] = {}
    flat = [i for i, (_, b, _) in enumerate(items) if not (b.x1 - b.x0 < 0.04 and b.y1 - b.y0 > 0.15)]
    for i, (_, b, _) in enumerate(items):
        if i not in flat and (b.x1 <= MARGIN or b.x0 >= 1 - MARGIN):
            found[i] = "header"
    rows = _rows(flat, items)
    if len(rows) < 2:
        return found
    body = statistics.median(h for _, _, h in items)
    found |= _peel(rows, items, True, body) | _peel(rows, items, False, body)
    for row in (rows[0], rows[-1]):
        if len(row) == 1 and PAGE_NUMBER_RE.match(items[row[0]][0].strip()):
            found[row[0]] = "page_number"
    return found


def _line_height(b: Block) -> float:
    return max((ln.bbox.y1 - ln.bbox.y0 for ln in b.lines), default=b.bbox.y1 - b.bbox.y0)


def mark_page_edges(layout: PageLayout) -> PageLayout:
    """`edge_furniture` applied to one page's text blocks; blocks already furniture count as peeled rows."""
    cands = [i for i, b in enumerate(layout.blocks) if b.kind in _FURNITURE_CAND | FURNITURE_KINDS]
    items = [
        (layout.blocks[i].markdown, layout.blocks[i].bbox, _line_height(layout.blocks[i])) for i in cands
    ]
    found = edge_furniture(items)
    blocks = list(layout.blocks)
    for k, kind in found.items():
        b = blocks[cands[k]]
        if b.kind in _FURNITURE_CAND:
            blocks[cands[k]] = b.model_copy(update={"kind": kind, "level": None})
    return layout.model_copy(update={"blocks": blocks})


# --------------------------------------------------------------------------------------------- document
def _band(b: Block) -> str | None:
    if b.bbox.y1 <= TOP_BAND:
        return "header"
    if b.bbox.y0 >= 1 - TOP_BAND:
        return "footer"
    return None


def _furniture_key(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()[:80]


def mark_furniture(layouts: list[PageLayout]) -> list[PageLayout]:
    """Mark page numbers (number-like blocks in the top/bottom band), headers/footers (text repeating in
    the same band on at least 40% of the pages, and on two or more; digits ignored), then each page's
    edges by position and shape (`edge_furniture`). Returns new layouts."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, layout in enumerate(layouts):
        for b in layout.blocks:
            band = _band(b)
            if band and b.kind in _FURNITURE_CAND:
                seen[(band, _furniture_key(b.markdown))].add(i)
    need = max(2, math.ceil(MIN_REPEAT_SHARE * len(layouts)))
    repeated = {key for key, pages in seen.items() if len(pages) >= need}
    return [mark_page_edges(_mark_page(layout, repeated)) for layout in layouts]


def _mark_page(layout: PageLayout, repeated: set[tuple[str, str]]) -> PageLayout:
    blocks = []
    for b in layout.blocks:
        band = _band(b)
        if band and b.kind in _FURNITURE_CAND:
            if PAGE_NUMBER_RE.match(b.markdown.strip()):
                b = b.model_copy(update={"kind": "page_number", "level": None})
            elif (band, _furniture_key(b.markdown)) in repeated:
                b = b.model_copy(update={"kind": band, "level": None})
        blocks.append(b)
    return layout.model_copy(update={"blocks": blocks})
