"""Statement tables read from the text layer: signs in their cell, numbers under the right row and header."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ingest.ocr.table_grid import Word, read_grid
from ingest.ocr.tables import table_blocks
from tests.support.statement_cells import STATEMENT_CELLS, cell_of, markdown_rows

H = 8.0  # glyph height of the synthetic words, points


def line(y: float, *pieces: tuple[float, str]) -> list[Word]:
    """Words on one baseline: (x0, text) each, 5 points per character."""
    return [(x, y, x + 5 * len(t), y + H, t, 0, 0, i) for i, (x, t) in enumerate(pieces)]


def test_currency_and_percent_signs_stay_in_their_cell() -> None:
    words = [
        *line(10, (300, "2022"), (400, "2021")),
        *line(22, (20, "Net"), (38, "sales"), (280, "$"), (300, "1,200"), (380, "$"), (400, "1,100")),
        *line(34, (20, "Cost"), (48, "of"), (62, "sales"), (310, "700"), (410, "650")),
        *line(46, (20, "Effective"), (68, "tax"), (86, "rate"), (300, "21.6"), (322, "%"), (400, "24.6"), (422, "%")),
    ]  # fmt: skip
    grid = read_grid(words)
    assert grid is not None
    assert grid.header[1:] == ["2022", "2021"]
    assert grid.rows == [
        ["Net sales", "$1,200", "$1,100"],
        ["Cost of sales", "700", "650"],
        ["Effective tax rate", "21.6%", "24.6%"],
    ]
    assert len(grid.boxes) == 3 and grid.boxes[1][1] == 34  # each row keeps its own box


def test_multi_row_header_and_wrapped_label() -> None:
    words = [
        *line(10, (290, "Three"), (318, "months"), (352, "ended")),
        *line(22, (20, "(in"), (36, "millions)"), (290, "June"), (315, "30,"), (335, "2023"), (390, "June"), (415, "30,"), (435, "2022")),
        *line(34, (20, "Revenues"), (330, "5,000"), (430, "4,000")),
        *line(46, (20, "Loss"), (44, "on"), (58, "sale"), (82, "of")),
        *line(58, (28, "assets"), (330, "(12)"), (450, "—")),
    ]  # fmt: skip
    grid = read_grid(words)
    assert grid is not None
    assert grid.header == [
        "(in millions)",
        "Three months ended June 30, 2023",
        "Three months ended June 30, 2022",
    ]
    assert grid.rows[1] == ["Loss on sale of assets", "(12)", "—"]
    assert grid.boxes[1][1] == 46 and grid.boxes[1][3] == 58 + H  # the row's box spans both label lines


def test_text_without_numbers_is_no_grid() -> None:
    words = [*line(10, (20, "Name"), (200, "Role")), *line(22, (20, "Alice"), (200, "Chair"))]
    assert read_grid(words) is None


@pytest.mark.parametrize(
    ("filing", "page", "cells"), STATEMENT_CELLS, ids=[f"{f}-p{p}" for f, p, _ in STATEMENT_CELLS]
)
def test_statement_numbers_sit_under_their_row_and_column_header(
    testdata: Path, filing: str, page: int, cells: list[tuple[str, str, str]]
) -> None:
    path = testdata / "financebench-dev" / "pdfs" / f"{filing}.pdf"
    with pymupdf.open(path) as doc:
        pdf_page = doc[page - 1]
        blocks = table_blocks(pdf_page, (pdf_page.rect.width, pdf_page.rect.height))
    tables = [markdown_rows(b.markdown) for b in blocks]
    for label, column, value in cells:
        found = {cell_of(t[0], t[1:], label, column) for t in tables} - {None}
        assert found == {value}, (label, column)
    rows = [ln for b in blocks for ln in b.lines[1:]]  # the first is the header, one or several lines tall
    assert rows and all(ln.bbox.y1 - ln.bbox.y0 < 0.05 for ln in rows)  # a box per row, not the table's


def test_a_ruled_table_without_signs_keeps_its_cells() -> None:
    """A results table (a task column of words, score columns close by, no "$" or "%" cut out): its
    Markdown holds each cell on its own. The word grid glued "Quadratic regression 0.43" into one cell
    and ran the header words of every column together (olmOCR-bench tables 0.95 -> 0.60)."""
    header = ["#", "Task", "Procedure", "Completion", "Knowledge"]
    body = [
        ["11", "Linear regression", "0.44", "0.00", "0.20"],
        ["12", "Quadratic regression", "0.43", "0.00", "0.20"],
        ["13", "Simplified rules", "0.80", "0.20", "0.20"],
        ["14", "Presence rules", "0.91", "0.60", "0.00"],
    ]
    xs = [40.0, 60.0, 150.0, 200.0, 255.0, 310.0]  # column edges: cells a few points apart, as in a paper
    doc = pymupdf.open()
    page = doc.new_page(width=400, height=300)
    for r, row in enumerate([header, *body]):
        y = 50 + 14 * r
        for c, text in enumerate(row):
            page.insert_text((xs[c] + 2, y + 10), text, fontsize=8)
        page.draw_line((xs[0], y), (xs[-1], y))
    page.draw_line((xs[0], 50 + 14 * 5), (xs[-1], 50 + 14 * 5))
    for x in xs:
        page.draw_line((x, 50), (x, 50 + 14 * 5))
    blocks = table_blocks(page, (page.rect.width, page.rect.height))
    assert len(blocks) == 1
    rows = markdown_rows(blocks[0].markdown)
    assert rows[0] == header
    assert rows[1:] == body


def test_units_over_the_numbers_head_the_label_column() -> None:
    words = [
        *line(10, (300, "Year"), (325, "Ended")),
        *line(22, (222, "Jan"), (242, "26,"), (260, "2025"), (322, "Jan"), (342, "28,"), (360, "2024")),
        *line(34, (290, "(In"), (309, "millions)")),  # centred over the numbers, not on the left
        *line(46, (20, "Cost"), (45, "of"), (60, "revenue"), (260, "$178"), (360, "$141")),
        *line(58, (20, "Total"), (250, "$4,737"), (350, "$3,549")),
    ]  # fmt: skip
    grid = read_grid(words)
    assert grid is not None
    assert grid.header == ["(In millions)", "Year Ended Jan 26, 2025", "Year Ended Jan 28, 2024"]
    assert grid.rows[1] == ["Total", "$4,737", "$3,549"]
