"""Tables and figures of a born-digital PDF page (PyMuPDF): the ruling gate, cells from page words, images.

Boxes are PDF points with a top-left origin until they become `BBox`es.
"""

from __future__ import annotations

from collections import Counter
from html import escape
from typing import Any

import pymupdf

from ingest.layout import BBox, Block, Line
from ingest.ocr.table_grid import Grid, PtBox, Word, is_sign, read_grid


def count_rulings(page: pymupdf.Page) -> int:
    """The largest set of horizontal strokes (lines, thin or filled rectangles, >= 6% of the page width)
    sharing one x-extent: table rules and shaded rows line up; stray rules and underlines rarely do.
    6%: a statement without row rules still rules its totals under each number column (General Mills'
    balance sheet: 60-point rules on a 612-point page)."""
    min_len = 0.06 * page.rect.width
    groups: Counter[tuple[int, int]] = Counter()
    seen: set[tuple[int, int, int]] = set()
    for path in page.get_drawings():
        for item in path["items"]:
            if item[0] == "l" and abs(item[1].y - item[2].y) < 1:
                x0, x1, y = min(item[1].x, item[2].x), max(item[1].x, item[2].x), item[1].y
            elif item[0] == "re":
                x0, x1, y = item[1].x0, item[1].x1, item[1].y0
            else:
                continue
            key = (round(x0 / 4), round(x1 / 4), round(y / 2))
            if x1 - x0 >= min_len and key not in seen:
                seen.add(key)
                groups[key[:2]] += 1
    return max(groups.values(), default=0)


def table_blocks(page: pymupdf.Page, size: tuple[float, float]) -> list[Block]:
    blocks = []
    words = page.get_text("words")
    for tab in page.find_tables().tables:
        rows = [[cell_text(cell, words) for cell in row.cells] for row in tab.rows]
        if len(rows) < 2 or max(len(r) for r in rows) < 2:
            continue
        box = tuple(tab.bbox)
        header = header_above(box, _columns(tab), words)
        if header is not None:
            rows = [header[0], *rows]
            box = (box[0], header[1], box[2], box[3])
        grid = read_grid([w for w in words if _centre_in(w, box)])
        if grid is not None and (splits_signs(rows) or grid.numeric()):
            blocks.append(grid_block(grid, box, size))
            continue
        rows = drop_empty_columns(rows)
        blocks.append(
            Block(
                kind="table",
                markdown=table_markdown(rows),
                html=table_html(rows),
                bbox=BBox.from_points(box, size),
                label="find_tables",
            )
        )
    return blocks


def splits_signs(rows: list[list[str]]) -> bool:
    """Whether find_tables cut a currency or percent sign into a cell of its own ("$" | "1,200"), the
    statement layout the word grid is for. Where it cut none and the grid holds words right of its labels
    (a results table with a task column beside the scores), find_tables' cells, which follow the page's
    rules and gaps, are kept: the grid joins words closer than 0.9 line heights into one cell and would
    run the text column into the first number column ("Quadratic regression 0.43")."""
    return any(is_sign(cell) for row in rows for cell in row)


def grid_block(grid: Grid, box: PtBox, size: tuple[float, float]) -> Block:
    """A table block from a word grid: a line per row (the header first), so a citation highlights the row."""
    keep = [i for i in range(len(grid.header)) if i == 0 or grid.header[i] or any(r[i] for r in grid.rows)]
    rows = [[r[i] for i in keep] for r in [grid.header, *grid.rows]]
    boxes = [grid.header_box, *grid.boxes]
    lines = [
        Line(text=" | ".join(c for c in row if c), bbox=BBox.from_points(b, size))
        for row, b in zip(rows, boxes, strict=True)
        if b is not None and any(row)
    ]
    return Block(
        kind="table",
        markdown=table_markdown(rows),
        html=table_html(rows),
        bbox=BBox.from_points(box, size),
        label="table_grid",
        lines=lines,
    )


def _centre_in(w: Word, box: PtBox) -> bool:
    return box[0] - 1 <= (w[0] + w[2]) / 2 <= box[2] + 1 and box[1] - 1 <= (w[1] + w[3]) / 2 <= box[3] + 1


def _columns(tab: Any) -> list[tuple[float, float]]:
    """x-range of each column: its narrowest cell (a merged cell spans several columns)."""
    cols: dict[int, tuple[float, float]] = {}
    for row in tab.rows:
        for i, cell in enumerate(row.cells):
            if cell is not None and (i not in cols or cell[2] - cell[0] < cols[i][1] - cols[i][0]):
                cols[i] = (cell[0], cell[2])
    return [cols[i] for i in sorted(cols)]


def header_above(
    box: PtBox, columns: list[tuple[float, float]], words: list[Word]
) -> tuple[list[str], float] | None:
    """A header row printed just above the table's top rule (find_tables starts at the rule): the one text
    line right above whose words all fall into the table's columns, filling two or more of them."""
    above = [w for w in words if w[3] <= box[1] + 1 and box[0] - 2 <= (w[0] + w[2]) / 2 <= box[2] + 2]
    if not above or not columns:
        return None
    bottom = max(w[3] for w in above)
    height = max(w[3] - w[1] for w in above)
    if box[1] - bottom > 1.2 * height:
        return None
    row = [w for w in above if w[3] > bottom - 0.5 * height]
    cells: list[list[Word]] = [[] for _ in columns]
    for w in row:
        cx = (w[0] + w[2]) / 2
        col = next((i for i, (lo, hi) in enumerate(columns) if lo - 1 <= cx <= hi + 1), None)
        if col is None:
            return None
        cells[col].append(w)
    if sum(1 for c in cells if c) < 2 or not _gapped(row, columns):
        return None
    texts = [" ".join(w[4] for w in sorted(c, key=lambda w: w[0])) for c in cells]
    return texts, min(w[1] for w in row)


def _gapped(row: list[Word], columns: list[tuple[float, float]]) -> bool:
    """Header cells stand apart: words in different columns are a wide gap apart, not a word space (the last
    line of a caption above the table also spreads over its columns). Rotated words are not compared."""

    def col(w: Word) -> int:
        return next(i for i, (lo, hi) in enumerate(columns) if lo - 1 <= (w[0] + w[2]) / 2 <= hi + 1)

    line = min(w[3] - w[1] for w in row)
    flat = sorted((w for w in row if w[3] - w[1] <= 1.5 * line), key=lambda w: w[0])
    return all(b[0] - a[2] >= 0.8 * line for a, b in zip(flat, flat[1:], strict=False) if col(a) != col(b))


def cell_text(cell: PtBox | None, words: list[Word]) -> str:
    """Words whose centre lies in the cell, in reading order (PyMuPDF's own cell text drops spaces)."""
    if cell is None:
        return ""
    x0, y0, x1, y1 = cell
    inside = [w for w in words if x0 <= (w[0] + w[2]) / 2 <= x1 and y0 <= (w[1] + w[3]) / 2 <= y1]
    return " ".join(w[4] for w in sorted(inside, key=lambda w: (w[5], w[6], w[7])))


def drop_empty_columns(rows: list[list[str]]) -> list[list[str]]:
    """Columns empty in every row (find_tables cuts them at stray rules and currency signs) go."""
    width = max(len(r) for r in rows)
    keep = [i for i in range(width) if any(i < len(r) and r[i].strip() for r in rows)]
    return [[r[i] if i < len(r) else "" for i in keep] for r in rows]


def table_markdown(rows: list[list[str]]) -> str:
    width = max(len(r) for r in rows)
    padded = [[c.replace("|", "\\|") for c in r] + [""] * (width - len(r)) for r in rows]
    lines = ["| " + " | ".join(padded[0]) + " |", "|" + "---|" * width]
    lines += ["| " + " | ".join(r) + " |" for r in padded[1:]]
    return "\n".join(lines)


def table_html(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(c)}</th>" for c in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in r) + "</tr>" for r in rows[1:])
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def figure_blocks(page: pymupdf.Page, size: tuple[float, float], text_boxes: list[PtBox]) -> list[Block]:
    """Images covering 2-80% of the page with little text on them: smaller ones are logos, larger ones
    scans or backgrounds, and an image under text is a backdrop, not a figure."""
    blocks = []
    page_area = size[0] * size[1]
    for info in page.get_image_info():
        rect = pymupdf.Rect(info["bbox"]) & page.rect
        area = rect.width * rect.height
        if rect.is_empty or not 0.02 * page_area <= area <= 0.8 * page_area:
            continue
        if sum((pymupdf.Rect(box) & rect).get_area() for box in text_boxes) > 0.2 * area:
            continue
        blocks.append(
            Block(kind="figure", markdown="", bbox=BBox.from_points(tuple(rect), size), label="image")
        )
    return blocks
