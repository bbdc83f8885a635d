"""Reading order on multi-column pages, shared by engines (page furniture lives in `furniture.py`).

Pure functions on normalized boxes (0..1 of the page, top-left origin).
"""

from __future__ import annotations

from ingest.layout import BBox, Block
from ingest.ocr.furniture import mark_furniture

__all__ = ["column_separators", "mark_furniture", "order_blocks"]

NARROW = 0.5  # blocks narrower than this share of the page may sit in a column
MIN_GAP = 0.012  # an empty vertical strip this wide separates columns
SPAN_TOL = 0.01
SAME_ROW = 0.006


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
