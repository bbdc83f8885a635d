"""A table's rows and columns read from the page's words, as financial statements print them.

PyMuPDF's `find_tables` finds where a table is, but cuts its cells at every currency sign and stray rule:
"$" becomes a column, so rows without one shift left under the wrong year. Here the words inside the
table's box are grouped into lines (rows), each line into segments split at wide gaps; a lone "$" joins
the number right of it and a lone "%" or ")" the number left of it, so signs stay in their cell. Numbers
are right-aligned, so columns are the clusters of the value cells' right edges. Lines above the first
data row are the column headers (years, "Three months ended ...", units), joined per column top-down;
text left of the columns is the row label. Every row keeps its box.

Boxes are PDF points with a top-left origin.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

Word = tuple[Any, ...]  # PyMuPDF "words": x0, y0, x1, y1, text, block, line, word
PtBox = tuple[float, float, float, float]

_VALUE = re.compile(
    r"^[$€£¥]?\s*\(?\s*[$€£¥]?\s*[-–—+]?\s*\d(?:[\d,]*\d)?(?:\.\d+)?\s*%?\s*\)?\s*%?$|^[-–—]+\s*%?$"
)
_YEAR = re.compile(r"^(?:FY\s?)?(?:19|20)\d\d$")
_OPENS = frozenset("$€£¥")  # a sign printed apart, left of its number
_CLOSES = frozenset({"%", ")", "%)"})  # signs printed apart, right of their number
_STUB = re.compile(
    r"millions|thousands|billions|except|dollars|\bat\b|\bas of\b|ended|unaudited|\bin\b", re.IGNORECASE
)
_UNITS = re.compile(  # a units note: "(In millions)", "(Dollars in thousands, except per share data)"
    r"^\(?\s*(?:\$|dollars|amounts)?\s*(?:in\s+)?(?:millions|thousands|billions)\b[^)]*\)?$", re.IGNORECASE
)
_BREAKS = (" and", " or", ",", " of", " the", " to", " for", " in", " from", " on", "-", "—")
SEGMENT_GAP = 0.9  # a gap this many line heights wide separates two cells
COLUMN_GAP = 0.8  # right edges further apart than this many line heights are two columns


@dataclass
class Segment:
    text: str
    x0: float
    x1: float


@dataclass
class GridLine:
    segments: list[Segment]
    box: PtBox


@dataclass
class Grid:
    """Header cells per column (the first is the label column: units, "At December 31,") and data rows
    (label first), each row with its box."""

    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    boxes: list[PtBox] = field(default_factory=list)
    header_box: PtBox | None = None

    def numeric(self) -> bool:
        """Every filled cell right of the row labels is a number or a dash."""
        return all(is_value(c) for row in self.rows for c in row[1:] if c)


def is_value(text: str) -> bool:
    return bool(_VALUE.match(text.strip()))


def is_sign(text: str) -> bool:
    """A currency or percent sign (or a closing bracket) standing alone, as find_tables cuts them out."""
    return text.strip() in _OPENS | _CLOSES


def read_grid(words: list[Word]) -> Grid | None:
    """The grid of the words inside one table's box; None when they hold fewer than two value columns'
    worth of rows (not a numeric table: find_tables' own cells serve better)."""
    lines = [_segments(line) for line in _lines(words)]
    if not lines:
        return None
    height = _median([ln.box[3] - ln.box[1] for ln in lines])
    # years head the columns and are often centred over them: the data rows' numbers place the columns
    values = [s for ln in lines for s in ln.segments if is_value(s.text) and not _YEAR.match(s.text)]
    columns = _columns([s.x1 for s in values], COLUMN_GAP * height)
    if len(values) < 4 or not columns:
        return None
    spans = _spans(columns, values, COLUMN_GAP * height)
    start = min(lo for lo, _ in spans) - 0.5 * height
    header: list[list[str]] = [[] for _ in range(len(columns) + 1)]
    header_box: PtBox | None = None
    grid = Grid(header=[])
    for line in lines:
        # a label starts left of the columns and stops short of the first; a spanning header may start left
        label = " ".join(s.text for s in line.segments if s.x0 < start and s.x1 < spans[0][1])
        cells = [s for s in line.segments if not (s.x0 < start and s.x1 < spans[0][1])]
        numbers = [s for s in cells if is_value(s.text)]
        heading = not numbers or all(_YEAR.match(s.text) for s in numbers)
        stub = bool(cells) or bool(_STUB.search(label))  # units, "At December 31,": not a section label
        if heading and not grid.rows and stub or (numbers and heading and not label):
            if grid.rows:  # a second header band: the rows below it read under it
                header = [[] for _ in range(len(columns) + 1)]
            # units centred over the numbers ("(In millions)") head the label column, not each year
            units = [s for s in cells if _UNITS.match(s.text)]
            header[0] += ([label] if label else []) + [s.text for s in units]
            for i, s in _owners([s for s in cells if s not in units], spans):
                header[i + 1].append(s.text)
            header_box = line.box if header_box is None else _union(header_box, line.box)
            grid.header = [" ".join(h) for h in header]
            continue
        row = [label] + [""] * len(columns)
        for s in cells:
            i = _nearest(s, columns) if is_value(s.text) else (_overlapping(s, spans) or [0])[0]
            row[i + 1] = f"{row[i + 1]} {s.text}".strip()
        if (
            grid.rows
            and _continues(label, grid.rows[-1])
            and (not numbers or not _continues_row(grid.rows[-1]))
        ):
            grid.rows[-1][0] = f"{grid.rows[-1][0]} {label}"  # a label wrapped onto a second line
            grid.boxes[-1] = _union(grid.boxes[-1], line.box)
            continue
        if grid.rows and numbers and _continues(label, grid.rows[-1]):
            row[0] = f"{grid.rows[-1][0]} {label}"  # the label's first line had no numbers
            line = GridLine(line.segments, _union(grid.boxes[-1], line.box))
            grid.rows.pop()
            grid.boxes.pop()
        grid.rows.append(row)
        grid.boxes.append(line.box)
    grid.header = grid.header or [""] * (len(columns) + 1)
    grid.header_box = header_box
    return grid if grid.rows else None


def _continues(label: str, previous: list[str]) -> bool:
    """A label line that carries on the previous row's label, which has no numbers: it starts in lower
    case or with a digit ("... issued" / "3,119,843,000 shares)"), or the previous one breaks off
    mid-phrase ("... at December 31, 2021 and" / "December 31, 2020")."""
    if not label or any(previous[1:]):
        return False
    before = previous[0].rstrip()
    open_paren = before.count("(") > before.count(")")
    return label[:1].islower() or label[:1].isdigit() or open_paren or before.endswith(_BREAKS)


def _continues_row(previous: list[str]) -> bool:
    return not any(previous[1:])


def _lines(words: list[Word]) -> list[list[Word]]:
    """Words grouped into printed lines by their vertical centre, top-down, each left to right."""
    lines: list[list[Word]] = []
    for w in sorted(words, key=lambda w: (w[1] + w[3]) / 2):
        centre, height = (w[1] + w[3]) / 2, w[3] - w[1]
        last = lines[-1] if lines else None
        if last is not None and abs(centre - _centre(last)) <= 0.5 * max(height, last[0][3] - last[0][1]):
            last.append(w)
        else:
            lines.append([w])
    return [sorted(ln, key=lambda w: w[0]) for ln in lines]


def _centre(line: list[Word]) -> float:
    return sum((w[1] + w[3]) / 2 for w in line) / len(line)


def _segments(words: list[Word]) -> GridLine:
    """The line's cells: words split at gaps wider than SEGMENT_GAP line heights, signs glued on."""
    height = _median([w[3] - w[1] for w in words])
    parts: list[list[Word]] = [[words[0]]]
    for a, b in zip(words, words[1:], strict=False):
        # a lone sign right after a number opens the next cell ("5,777 $ 5,921"), however close
        apart = b[4] in _OPENS and is_value(a[4])
        if b[0] - a[2] > SEGMENT_GAP * height or apart:
            parts.append([])
        parts[-1].append(b)
    segments = [Segment(_joined([w[4] for w in p]), p[0][0], max(w[2] for w in p)) for p in parts]
    glued: list[Segment] = []
    for seg in segments:
        if glued and _joined([glued[-1].text, seg.text]) != f"{glued[-1].text} {seg.text}":
            glued[-1] = Segment(_joined([glued[-1].text, seg.text]), glued[-1].x0, seg.x1)
        else:
            glued.append(seg)
    box = (
        min(w[0] for w in words),
        min(w[1] for w in words),
        max(w[2] for w in words),
        max(w[3] for w in words),
    )
    return GridLine(glued, box)


def _joined(texts: list[str]) -> str:
    """Words of a cell with a space between, except that signs sit against their number: "$1,200", "21.6%"."""
    out = texts[0]
    for prev, text in zip(texts, texts[1:], strict=False):
        tight = (prev in _OPENS or text in _CLOSES) and is_value(f"{out}{text}".rsplit(" ", 1)[-1])
        out = f"{out}{text}" if tight else f"{out} {text}"
    return out


def _columns(right_edges: list[float], gap: float) -> list[float]:
    """Column positions: the mean right edge of each cluster of right edges (numbers are right-aligned);
    a lone number is no column (a figure inside a label: "allowances of $203 (2021, $230)")."""
    clusters: list[list[float]] = []
    for x in sorted(right_edges):
        if clusters and x - clusters[-1][-1] <= gap:
            clusters[-1].append(x)
        else:
            clusters.append([x])
    return [sum(c) / len(c) for c in clusters if len(c) >= 2]


def _spans(columns: list[float], values: list[Segment], gap: float) -> list[tuple[float, float]]:
    """Each column's horizontal extent: from its widest value's left edge to its right edge."""
    spans = [(col, col) for col in columns]
    for s in values:
        i = _nearest(s, columns)
        if abs(columns[i] - s.x1) <= gap:
            spans[i] = (min(spans[i][0], s.x0), max(spans[i][1], s.x1))
    return spans


def _nearest(seg: Segment, columns: list[float]) -> int:
    return min(range(len(columns)), key=lambda i: abs(columns[i] - seg.x1))


def _owners(cells: list[Segment], spans: list[tuple[float, float]]) -> list[tuple[int, Segment]]:
    """Which header segment of a line heads each column: the nearest one, when no further from the column
    than its own width ("Three Months Ended" heads the three columns it is centred over, "2021" only one)."""
    out: list[tuple[int, Segment]] = []
    for i, (lo, hi) in enumerate(spans):
        if not cells:
            break
        gaps = [max(0.0, lo - s.x1, s.x0 - hi) for s in cells]
        best = min(range(len(cells)), key=lambda k: gaps[k])
        if gaps[best] <= max(1.0, cells[best].x1 - cells[best].x0):
            out.append((i, cells[best]))
    return out


def _overlapping(seg: Segment, spans: list[tuple[float, float]]) -> list[int]:
    """The columns a header segment stands over (a spanning "Three months ended" stands over several);
    one that overlaps none goes to the column whose span is nearest."""
    over = [i for i, (lo, hi) in enumerate(spans) if seg.x0 <= hi + 1 and lo - 1 <= seg.x1]
    if over:
        return over
    middle = (seg.x0 + seg.x1) / 2
    return [min(range(len(spans)), key=lambda i: abs((spans[i][0] + spans[i][1]) / 2 - middle))]


def _union(a: PtBox, b: PtBox) -> PtBox:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 1.0
