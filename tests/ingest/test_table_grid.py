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
