"""Reading order on multi-column pages, shared by engines (page furniture lives in `furniture.py`).

Pure functions on normalized boxes (0..1 of the page, top-left origin).
"""

from __future__ import annotations

import math

from ingest.layout import BBox, Block
from ingest.ocr.furniture import mark_furniture

__all__ = ["column_separators", "mark_furniture", "order_blocks"]

NARROW = 0.5  # blocks narrower than this share of the page may sit in a column
MIN_GAP = 0.012  # an empty vertical strip this wide separates columns
SPAN_TOL = 0.01
SAME_ROW = 0.006
BINS = 500  # x resolution of the gutter search
CROSSING = 0.05  # a gutter may be crossed by boxes adding up to this share of the narrow boxes' height


# --------------------------------------------------------------------------------------------- columns
def column_separators(boxes: list[BBox]) -> list[float]:
    """x positions of column gutters: strips (>= MIN_GAP wide, centre in the middle 60%) that narrow boxes
    leave almost empty (a short line crossing, like a right-aligned doi above an abstract, is tolerated),
    backed by real columns on both sides (not a key/value form whose blocks sit on the same rows)."""
    narrow = [b for b in boxes if b.x1 - b.x0 <= NARROW]
    total = sum(b.y1 - b.y0 for b in narrow)
    cover = [0.0] * BINS
    for b in narrow:
        for i in range(int(b.x0 * BINS), min(BINS, math.ceil(b.x1 * BINS))):
            cover[i] += b.y1 - b.y0
    seps: list[float] = []
    start: int | None = None
    for i, c in enumerate([*cover, math.inf]):
        if c <= CROSSING * total and start is None:
            start = i
        elif c > CROSSING * total and start is not None:
            lo, hi = start / BINS, i / BINS
            if hi - lo >= MIN_GAP and 0.2 <= (lo + hi) / 2 <= 0.8 and _real_columns((lo + hi) / 2, narrow):
                seps.append((lo + hi) / 2)
            start = None
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


def _slabs(blocks: list[Block]) -> list[list[Block]]:
    """Blocks cut into horizontal slabs at empty strips across the whole region, top to bottom."""
    slabs: list[list[Block]] = []
    bottom = -1.0
    for b in sorted(blocks, key=lambda b: b.bbox.y0):
        if not slabs or b.bbox.y0 > bottom:
            slabs.append([])
        slabs[-1].append(b)
        bottom = max(bottom, b.bbox.y1)
    return slabs


def _order(blocks: list[Block]) -> list[Block]:
    """Recursive cut: columns (gutters) first, then horizontal slabs, then rows left to right."""
    if len(blocks) < 2:
        return list(blocks)
    seps = column_separators([b.bbox for b in blocks])
    if not seps:
        slabs = _slabs(blocks)
        return _rows_then_x(blocks) if len(slabs) < 2 else [b for slab in slabs for b in _order(slab)]
    ordered: list[Block] = []
    band: list[Block] = []

    def column(b: Block) -> int:
        return sum(1 for s in seps if (b.bbox.x0 + b.bbox.x1) / 2 > s)

    def flush() -> None:
        for col in sorted({column(b) for b in band}):
            ordered.extend(_order([b for b in band if column(b) == col]))
        band.clear()

    for b in _rows_then_x(blocks):
        if any(b.bbox.x0 < s - SPAN_TOL and b.bbox.x1 > s + SPAN_TOL for s in seps):
            flush()
            ordered.append(b)
        else:
            band.append(b)
    flush()
    return ordered


def order_blocks(blocks: list[Block]) -> list[Block]:
    """Blocks with `order` set: column by column between full-width blocks, which break the columns;
    regions without columns are cut into slabs at empty horizontal strips and ordered the same way."""
    return [b.model_copy(update={"order": i}) for i, b in enumerate(_order(blocks))]
