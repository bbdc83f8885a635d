"""Layout post-processing shared by engines: reading order on multi-column pages and page furniture.

Pure functions on normalized boxes (0..1 of the page, top-left origin).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict

from ingest.layout import BBox, Block, PageLayout

NARROW = 0.5  # blocks narrower than this share of the page may sit in a column
MIN_GAP = 0.012  # an empty vertical strip this wide separates columns
SPAN_TOL = 0.01
SAME_ROW = 0.006

TOP_BAND = 0.15  # headers live above this share of the page height, footers below 1 - this
MIN_REPEAT_SHARE = 0.4  # a header/footer repeats on at least this share of the pages (and on two)
PAGE_NUMBER_RE = re.compile(
    r"^[-–—\s]*(?:page\s+)?(?:\d{1,4}|(?=[ivxlcdm])m{0,3}(?:cm|cd|d?c{0,3})(?:xc|xl|l?x{0,3})(?:ix|iv|v?i{0,3}))"
    r"(?:\s*(?:of|/)\s*\d{1,4})?[-–—\s]*$",
    re.IGNORECASE,
)
_FURNITURE_CAND = frozenset({"text", "heading", "title", "caption", "list"})


# --------------------------------------------------------------------------------------------- columns
def column_separators(boxes: list[BBox]) -> list[float]:
    """x positions of column gutters: empty strips in the x-coverage of narrow boxes, backed by real
    columns on both sides (not a key/value form whose left and right blocks sit on the same rows)."""
    narrow = sorted((b for b in boxes if b.x1 - b.x0 <= NARROW), key=lambda b: b.x0)
    seps: list[float] = []
    reach = narrow[0].x1 if narrow else 0.0
    for b in narrow[1:]:
        if b.x0 - reach >= MIN_GAP and 0.2 <= (b.x0 + reach) / 2 <= 0.8:
            sep = (b.x0 + reach) / 2
            if _real_columns(sep, narrow):
                seps.append(sep)
        reach = max(reach, b.x1)
    return seps


def _real_columns(sep: float, boxes: list[BBox]) -> bool:
    left = [b for b in boxes if b.x1 <= sep]
    right = [b for b in boxes if b.x0 >= sep]
    if sum(b.y1 - b.y0 for b in left) < 0.1 or sum(b.y1 - b.y0 for b in right) < 0.1:
        return False
    # form rows are one-line blocks side by side; column paragraphs are taller and need not align
    same_row = sum(
        1 for r in right if r.y1 - r.y0 < 0.03 and any(abs(r.y0 - lb.y0) < SAME_ROW for lb in left)
    )
    return same_row < 0.5 * len(right)


def _rows_then_x(blocks: list[Block]) -> list[Block]:
    """Top to bottom; blocks starting on the same row go left to right."""
    out: list[Block] = []
    row: list[Block] = []
    for b in sorted(blocks, key=lambda b: b.bbox.y0):
        if row and b.bbox.y0 - row[0].bbox.y0 > SAME_ROW:
            out += sorted(row, key=lambda b: b.bbox.x0)
            row = []
        row.append(b)
    return out + sorted(row, key=lambda b: b.bbox.x0)


def order_blocks(blocks: list[Block]) -> list[Block]:
    """Blocks with `order` set: column by column between full-width blocks, which break the columns."""
    seps = column_separators([b.bbox for b in blocks])
    ordered: list[Block] = []
    band: list[Block] = []

    def column(b: Block) -> int:
        return sum(1 for s in seps if (b.bbox.x0 + b.bbox.x1) / 2 > s)

    def flush() -> None:
        for col in sorted({column(b) for b in band}):
            ordered.extend(_rows_then_x([b for b in band if column(b) == col]))
        band.clear()

    for b in _rows_then_x(blocks):
        if any(b.bbox.x0 < s - SPAN_TOL and b.bbox.x1 > s + SPAN_TOL for s in seps):
            flush()
            ordered.append(b)
        else:
            band.append(b)
    flush()
    return [b.model_copy(update={"order": i}) for i, b in enumerate(ordered)]


# --------------------------------------------------------------------------------------------- furniture
def _band(b: Block) -> str | None:
    if b.bbox.y1 <= TOP_BAND:
        return "header"
    if b.bbox.y0 >= 1 - TOP_BAND:
        return "footer"
    return None


def _furniture_key(text: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"\d+", "#", text.lower())).strip()[:80]


def mark_furniture(layouts: list[PageLayout]) -> list[PageLayout]:
    """Mark page numbers (number-like blocks in the top/bottom band) and headers/footers (text repeating in
    the same band on at least 40% of the pages, and on two or more; digits ignored). Returns new layouts."""
    seen: dict[tuple[str, str], set[int]] = defaultdict(set)
    for i, layout in enumerate(layouts):
        for b in layout.blocks:
            band = _band(b)
            if band and b.kind in _FURNITURE_CAND:
                seen[(band, _furniture_key(b.markdown))].add(i)
    need = max(2, math.ceil(MIN_REPEAT_SHARE * len(layouts)))
    repeated = {key for key, pages in seen.items() if len(pages) >= need}
    return [_mark_page(layout, repeated) for layout in layouts]


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
