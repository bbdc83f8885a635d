"""Column gutters among OCR lines, found before the lines are grouped into blocks, so no block, and no
row of a form, joins text across columns.

Pure functions on any engine's line boxes (x0, y0, x1, y1), in one unit for both axes (pixels of the
image read, or a normalized page; the thresholds are in line heights and shares of the text width).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

Box = tuple[float, float, float, float]  # x0, y0, x1, y1

MIN_COLUMN_SHARE = 0.15  # a column's line is at least this share of the text width ...
MIN_COLUMN_HEIGHTS = 8  # ... and this many line heights: a table cell or an amount rarely is
MIN_ROWS = 1  # rows with a wide line on each side of a gap that make it a gutter
MAX_GAP_HEIGHTS = 8  # a gap between two columns is at most this many line heights
STEPS = 24  # positions tried across a gap for the gutter's middle
SAME_ROW = 0.5  # two lines share a row when they overlap this share of the lower one vertically


@dataclass(frozen=True)
class Gutter:
    """An empty vertical strip between two text columns: centred at `x`, from `y0` to `y1`."""

    x: float
    y0: float
    y1: float

    def separates(self, left: Box, right: Box) -> bool:
        """`left` ends before the gutter and `right` starts after it, beside it."""
        mid = (min(left[1], right[1]) + max(left[3], right[3])) / 2
        return left[2] <= self.x <= right[0] and self.y0 <= mid <= self.y1

    def crossed_by(self, box: Box) -> bool:
        return box[0] < self.x < box[2] and box[1] < self.y1 and box[3] > self.y0


def find_gutters(boxes: Sequence[Box]) -> list[Gutter]:
    """Gutters shown by rows holding a wide line on each side of a gap (two or more such rows whose gaps
    overlap), each running up and down from those rows until a line crosses it. Receipts and forms,
    whose values are short, show none; nor do short side headings beside their text."""
    if not boxes:
        return []
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    height = statistics.median(b[3] - b[1] for b in boxes)
    evidence = [gap for row in _rows(boxes) for gap in _wide_gaps(row, width, height)]
    gutters: list[Gutter] = []
    for cluster in _clusters(evidence):
        x = _emptiest_x(cluster, boxes)
        for run in _runs(sorted(y for _, _, y in cluster), [b for b in boxes if b[0] < x < b[2]]):
            if len(run) >= MIN_ROWS:
                gutters.append(_extend(Gutter(x, run[0], run[-1]), boxes))
    return gutters


def across_gutter(left: Box, right: Box, gutters: Sequence[Gutter]) -> bool:
    return any(g.separates(left, right) for g in gutters)


def _rows(boxes: Sequence[Box]) -> list[list[Box]]:
    rows: list[list[Box]] = []
    for box in sorted(boxes, key=lambda b: ((b[1] + b[3]) / 2, b[0])):
        last = rows[-1][0] if rows else None
        lower = min(box[3] - box[1], last[3] - last[1]) if last else 0.0
        if last and min(last[3], box[3]) - max(last[1], box[1]) > SAME_ROW * lower:
            rows[-1].append(box)
        else:
            rows.append([box])
    return [sorted(r) for r in rows]


def _wide_gaps(row: list[Box], width: float, height: float) -> list[tuple[float, float, float]]:
    """(x where the gap starts, where it ends, y) between consecutive wide lines of the row."""

    def wide(b: Box) -> bool:
        return b[2] - b[0] >= max(MIN_COLUMN_SHARE * width, MIN_COLUMN_HEIGHTS * (b[3] - b[1]))

    out = []
    for a, b in zip(row, row[1:], strict=False):
        if wide(a) and wide(b) and 0 < b[0] - a[2] <= MAX_GAP_HEIGHTS * height:
            out.append((a[2], b[0], (a[1] + a[3] + b[1] + b[3]) / 4))
    return out


def _clusters(gaps: list[tuple[float, float, float]]) -> list[list[tuple[float, float, float]]]:
    """Gaps grouped by overlapping x extents."""
    clusters: list[list[tuple[float, float, float]]] = []
    for gap in sorted(gaps):
        if clusters and gap[0] < max(g[1] for g in clusters[-1]):
            clusters[-1].append(gap)
        else:
            clusters.append([gap])
    return clusters


def _emptiest_x(cluster: list[tuple[float, float, float]], boxes: Sequence[Box]) -> float:
    """Where in the rows' gaps the fewest lines of the page cross: the gutter's middle (on a turned scan
    one row's gap is wider than the strip that stays empty down the page)."""
    a, b = max(g[0] for g in cluster), min(g[1] for g in cluster)
    if a >= b:
        a, b = min(g[0] for g in cluster), max(g[1] for g in cluster)
    xs = [a + (b - a) * (i + 0.5) / STEPS for i in range(STEPS)]
    counts = [sum(1 for box in boxes if box[0] < x < box[2]) for x in xs]
    least = [x for x, c in zip(xs, counts, strict=True) if c == min(counts)]
    return statistics.median(least)


def _runs(ys: list[float], crossing: list[Box]) -> list[list[float]]:
    """Evidence rows (their y) cut where a line crosses the gutter between two of them."""
    runs: list[list[float]] = [[ys[0]]]
    for a, b in zip(ys, ys[1:], strict=False):
        if any(a < c[1] and c[3] < b for c in crossing):
            runs.append([])
        runs[-1].append(b)
    return runs


def _extend(gutter: Gutter, boxes: Sequence[Box]) -> Gutter:
    """The gutter run up and down until the first line across it (a headline over the columns)."""
    crossing = [b for b in boxes if b[0] < gutter.x < b[2]]
    above = [b[3] for b in crossing if b[3] <= gutter.y0]
    below = [b[1] for b in crossing if b[1] >= gutter.y1]
    return Gutter(gutter.x, max(above, default=0.0), min(below, default=float("inf")))
