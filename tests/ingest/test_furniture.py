"""Headers, footers and page numbers on a single page: position and shape, no repetition to learn from."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.layout import BBox
from ingest.markdown import render_page_markdown
from ingest.ocr.furniture import edge_furniture
from ingest.ocr.textlayer import mark_furniture
from tests.ingest.test_textlayer import recognize

LINE = 0.012  # a body line's height as a share of the page


def body(y0: float, y1: float, x0: float = 0.1, x1: float = 0.9) -> list[tuple[str, BBox, float]]:
    """Body lines filling y0..y1 with normal leading."""
    rows = int((y1 - y0) / (1.3 * LINE))
    return [
        (
            f"body line {i} with ordinary prose",
            BBox(x0=x0, y0=y0 + i * 1.3 * LINE, x1=x1, y1=y0 + i * 1.3 * LINE + LINE),
            LINE,
        )
        for i in range(rows)
    ]


def item(text: str, x0: float, y0: float, x1: float, h: float = LINE) -> tuple[str, BBox, float]:
    return (text, BBox(x0=x0, y0=y0, x1=x1, y1=y0 + h), h)


def test_running_head_with_page_number_is_furniture_on_a_single_page() -> None:
    items = [item("Advocacy in Action", 0.1, 0.05, 0.3), item("447", 0.85, 0.05, 0.9), *body(0.09, 0.9)]
    assert edge_furniture(items) == {0: "header", 1: "page_number"}


def test_footer_row_set_apart_is_furniture_but_last_column_lines_are_not() -> None:
    footer = [item("Revision: 2.4", 0.1, 0.89, 0.2), item("P/N 119-036", 0.45, 0.89, 0.55)]
    assert edge_furniture([*body(0.1, 0.86), *footer]) == {
        len(body(0.1, 0.86)): "footer",
        len(body(0.1, 0.86)) + 1: "footer",
    }
    # two columns ending on the same row, at normal leading from the lines above: content
    left, right = body(0.1, 0.9, 0.1, 0.45), body(0.1, 0.9, 0.55, 0.9)
    assert edge_furniture([*left, *right]) == {}


def test_small_print_and_stamps_at_the_edge_need_a_gap_from_the_body() -> None:
    stamp = item("Downloaded from example.org on 1 May", 0.1, 0.9, 0.5)
    assert edge_furniture([*body(0.1, 0.85), stamp]) == {len(body(0.1, 0.85)): "footer"}
    lines = body(0.1, 0.9)
    last = item(stamp[0], 0.1, lines[-1][1].y1 + 0.3 * LINE, 0.5)  # right under the body: a last line
    assert edge_furniture([*lines, last]) == {}


def test_title_near_the_top_is_not_a_header() -> None:
    title = item("A Study of Reading Order", 0.2, 0.07, 0.8, h=0.03)
    assert edge_furniture([title, *body(0.12, 0.9)]) == {}


def test_lone_page_number_ends_the_page_anywhere_and_vertical_margin_text_is_a_header() -> None:
    stamp = item("Downloaded from http://example.org", 0.02, 0.2, 0.035, h=0.6)
    items = [stamp, *body(0.1, 0.5), item("62", 0.49, 0.63, 0.51)]
    assert edge_furniture(items) == {0: "header", len(items) - 1: "page_number"}


@pytest.mark.parametrize(
    ("pdf", "gone", "kept"),
    [
        ("small_page_size.pdf", ["BRITISH HUSBANDRY", "XIX"], ["any—was very trifling", "On light loams"]),
        ("earnings.pdf", ["\n62"], ["Stock-based compensation capitalized"]),
        (
            "headers_footers/fff590bed29a2854ac1f874dad5752ede1aa_pg1.pdf",
            ["Revision: 2.4", "P/N 119-036", "10 June 2019"],
            ["Methods and apparatus disclosed"],
        ),
        ("multi_column_miss.pdf", ["Downloaded from", "Advocacy in Action"], ["stakeholders has occurred"]),
    ],
)
async def test_single_page_furniture_is_left_out_of_markdown(
    testdata: Path, pdf: str, gone: list[str], kept: list[str]
) -> None:
    (layout,) = mark_furniture([await recognize(testdata / "olmocr-bench-sample" / "pdfs" / pdf)])
    md = render_page_markdown(layout)
    assert not [g for g in gone if g in md] and all(k in md for k in kept), md[:600]
