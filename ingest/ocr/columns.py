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
MIN_ROWS = 1  # rows with a wide line on each side of a gap that make a gutter (a card grid shows one)
MAX_GAP_SHARE = 0.3  # a gap between two columns is at most this share of the text width (a spread's fold)
STEPS = 24  # positions tried across a gap for the gutter's middle
ACROSS = 1.0  # a line runs across a gutter when it reaches this many of its heights past the middle
SPAN_SHARE = 0.1  # a line spans two columns when it reaches this share of the text width past the gutter
NEAR = 2  # line heights: a gutter this close to two stacked lines keeps them apart if one crosses it
INDENT = 3  # line heights: lines starting this close share a column's edge (a paragraph's indent)
SAME_ROW = 0.5  # two lines share a row when they overlap this share of the lower one vertically


@dataclass(frozen=True)
class Gutter:
    """An empty vertical strip between two text columns: centred at `x`, from `y0` to `y1`."""

    x: float
    y0: float
    y1: float
    span: float = 0.0  # how far past `x`, on both sides, a line reaches to span the columns

    def separates(self, left: Box, right: Box) -> bool:
        """`left` is before the gutter and `right` after it, beside it. A detector's box may reach a
        little into the gutter, or past its middle (up to a line height) on a narrow one."""
        mid = (min(left[1], right[1]) + max(left[3], right[3])) / 2
        reach = min(left[3] - left[1], right[3] - right[1])
        return (
            (left[0] + left[2]) / 2 < self.x < (right[0] + right[2]) / 2
            and left[2] <= self.x + reach
            and right[0] >= self.x - reach
            and self.y0 <= mid <= self.y1
        )


def find_gutters(boxes: Sequence[Box]) -> list[Gutter]:
    """Gutters shown by rows holding a wide line on each side of a gap (gaps grouped where they share
    a middle), each running up and down from those rows until a line runs across it (a headline). Rows
    with a line running across between two of them split the evidence in two gutters. Receipts and
    forms, whose values are short, show none; nor do short side headings beside their text."""
    if not boxes:
        return []
    width = max(b[2] for b in boxes) - min(b[0] for b in boxes)
    evidence = [gap for row in _rows(boxes) for gap in _wide_gaps(row, width)]
    gutters: list[Gutter] = []
    for cluster in _clusters(evidence):
        x = _emptiest_x(cluster, boxes)
        for run in _runs(sorted(y for _, _, y in cluster), [b for b in boxes if runs_across(b, x)]):
            if len(run) >= MIN_ROWS:
                gutters.append(_extend(Gutter(x, run[0], run[-1], SPAN_SHARE * width), boxes))
    return gutters


def across_gutter(left: Box, right: Box, gutters: Sequence[Gutter]) -> bool:
    return any(g.separates(left, right) for g in gutters)


def spans_differently(above: Box, below: Box, gutters: Sequence[Gutter]) -> bool:
    """Two lines stacked one over the other that belong to different columns: one runs across a gutter
    at most `NEAR` line heights away, the other keeps to one side of it, and the first does not just
    continue the second's column a little past the gutter (mostly on its side, from the same edge).
    A title over the columns, a pull quote between them, or a doi line above one are kept apart; a
    column narrowing beside a figure is not."""
    near = NEAR * min(above[3] - above[1], below[3] - below[1])
    for g in gutters:
        if g.y0 - near > below[3] or g.y1 + near < above[1]:
            continue
        for wide, narrow in ((above, below), (below, above)):
            if runs_across(wide, g.x) and not runs_across(narrow, g.x) and not _continues(wide, narrow, g.x):
                return True
    return False


def _continues(wide: Box, narrow: Box, x: float) -> bool:
    """`wide` lies mostly on `narrow`'s side of the gutter at `x` and starts where it does (give or take
    a paragraph's indent): the same column, a little wider."""
    indent = INDENT * min(wide[3] - wide[1], narrow[3] - narrow[1])
    if narrow[2] <= x:
        inside, beyond, aligned = x - wide[0], wide[2] - x, abs(wide[0] - narrow[0]) <= indent
    else:
        inside, beyond, aligned = wide[2] - x, x - wide[0], abs(wide[2] - narrow[2]) <= indent
    return aligned and beyond < 0.5 * inside


def order_box(box: Box, lines: Sequence[Box], gutters: Sequence[Gutter]) -> Box:
    """A block's box for reading order: cut back to a gutter it crosses by a little with lines mostly on
    one side (a doi line joined to the column under it, a detector's box reaching into the gutter), so
    the columns still part on a vertical cut."""
    x0, y0, x1, y1 = box
    for g in gutters:
        if g.y0 > y1 or g.y1 < y0 or not x0 < g.x < x1:
            continue
        left = sum(1 for ln in lines if (ln[0] + ln[2]) / 2 < g.x)
        if left <= len(lines) / 2 and g.x - x0 < g.span:
            x0 = g.x
        elif left > len(lines) / 2 and x1 - g.x < g.span:
            x1 = g.x
    return (x0, y0, x1, y1)


def runs_across(box: Box, x: float) -> bool:
    """The line reaches past `x` on both sides by a line height: a justified column's line ending in a
    narrow (or turned) gutter, or a detector's box reaching a little beyond, does not run across it."""
    margin = ACROSS * (box[3] - box[1])
    return box[0] < x - margin and box[2] > x + margin


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


def _wide_gaps(row: list[Box], width: float) -> list[tuple[float, float, float]]:
    """(x where the gap starts, where it ends, y) between consecutive wide lines of the row."""

    def wide(b: Box) -> bool:
        return b[2] - b[0] >= max(MIN_COLUMN_SHARE * width, MIN_COLUMN_HEIGHTS * (b[3] - b[1]))

    out = []
    for a, b in zip(row, row[1:], strict=False):
        if wide(a) and wide(b) and 0 < b[0] - a[2] <= MAX_GAP_SHARE * width:
            out.append((a[2], b[0], (a[1] + a[3] + b[1] + b[3]) / 4))
    return out


def _clusters(gaps: list[tuple[float, float, float]]) -> list[list[tuple[float, float, float]]]:
    """Gaps grouped by gutter: narrowest first, each joins the first group whose middle it holds (a
    short line's wide gap may reach over two gutters; it must not chain them)."""
    clusters: list[list[tuple[float, float, float]]] = []
    for gap in sorted(gaps, key=lambda g: g[1] - g[0]):
        home = next((c for c in clusters if gap[0] <= _middle(c) <= gap[1]), None)
        if home is None:
            clusters.append([gap])
        else:
            home.append(gap)
    return clusters


def _middle(cluster: list[tuple[float, float, float]]) -> float:
    return statistics.median((a + b) / 2 for a, b, _ in cluster)


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
        if any(a < (c[1] + c[3]) / 2 < b for c in crossing):
            runs.append([])
        runs[-1].append(b)
    return runs


def _extend(gutter: Gutter, boxes: Sequence[Box]) -> Gutter:
    """The gutter run up and down until the first line across it (a headline over the columns)."""
    crossing = [b for b in boxes if runs_across(b, gutter.x)]
    above = [b[3] for b in crossing if b[3] <= gutter.y0]
    below = [b[1] for b in crossing if b[1] >= gutter.y1]
    return Gutter(gutter.x, max(above, default=0.0), min(below, default=float("inf")), gutter.span)
