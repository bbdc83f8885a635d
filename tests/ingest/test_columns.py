"""Column gutters among OCR lines (`ingest.ocr.columns`) and how RapidOCR's grouping uses them, on
synthetic line boxes in pixels."""

from __future__ import annotations

from ingest.ocr.columns import across_gutter, find_gutters
from ingest.ocr.rapidocr import TextBox, build_blocks, group_lines

LINE_H, PITCH = 20, 28


def column(x0: float, y0: float, n: int, width: float = 420, tag: str = "") -> list[TextBox]:
    return [
        TextBox(
            f"{tag}{x0:.0f}-{y0 + i * PITCH:.0f}", x0, y0 + i * PITCH, x0 + width, y0 + i * PITCH + LINE_H
        )
        for i in range(n)
    ]


def boxes(lines: list[TextBox]) -> list[tuple[float, float, float, float]]:
    return [b.bbox_px for b in lines]


def test_gutter_between_two_columns_starts_under_the_title_across_them() -> None:
    title = TextBox("Title", 100, 20, 1000, 60)
    lines = [title, *column(100, 100, 6), *column(580, 100, 6)]
    (gutter,) = find_gutters(boxes(lines))
    assert 520 < gutter.x < 580
    assert gutter.y0 == 60 and gutter.y1 == float("inf")  # runs down from the title's bottom


def test_headline_across_the_page_ends_three_columns_and_two_follow() -> None:
    top = [*column(100, 100, 5, width=260), *column(400, 100, 5, width=260), *column(700, 100, 5, width=260)]
    headline = TextBox("Second story", 100, 260, 960, 300)
    bottom = [*column(100, 320, 5), *column(540, 320, 5)]
    gutters = sorted(find_gutters(boxes([*top, headline, *bottom])), key=lambda g: g.x)
    assert [round(g.x, -1) for g in gutters] == [380.0, 530.0, 680.0]
    assert all(g.y1 <= 260 for g in gutters if g.x != gutters[1].x)  # the three columns stop at the headline
    assert gutters[1].y0 >= 300  # the two below start under it


def test_receipt_rows_show_no_gutter() -> None:
    rows = [("Date:", "25/12/2018"), ("Total:", "9.00"), ("Cash:", "10.00"), ("Change:", "1.00")]
    lines = [
        box
        for i, (label, value) in enumerate(rows)
        for box in (
            TextBox(label, 50, 100 + i * 28, 150, 120 + i * 28),
            TextBox(value, 700, 100 + i * 28, 780, 120 + i * 28),
        )
    ]
    assert find_gutters(boxes(lines)) == []


def test_short_phrases_either_side_of_a_gutter_stay_in_their_columns() -> None:
    # a formula under a heading in each column: the row holds two short phrases far apart, which alone
    # would read as a form row ("Total:" ... "9.00"); the columns' text around shows the gutter
    left = [
        *column(100, 100, 3, tag="L"),
        TextBox("a2+b2=c2", 240, 200, 340, 220),
        *column(100, 240, 3, tag="L"),
    ]
    right = [
        *column(580, 100, 3, tag="R"),
        TextBox("E=p/e0", 700, 200, 780, 220),
        *column(580, 240, 3, tag="R"),
    ]
    groups = group_lines(left + right)
    assert all(len({b.x0 >= 560 for b in g}) == 1 for g in groups), [[b.text for b in g] for g in groups]
    blocks = sorted(build_blocks(left + right, (1100, 500)), key=lambda b: b.order)
    text = "\n".join(b.markdown for b in blocks)
    assert text.index("a2+b2=c2") < text.index("L100-240") < text.index("R580-100") < text.index("E=p/e0")


def test_across_gutter_needs_the_gap_to_hold_the_gutter() -> None:
    (gutter,) = find_gutters(boxes([*column(100, 100, 4), *column(580, 100, 4)]))
    assert across_gutter((300, 150, 400, 170), (700, 150, 800, 170), [gutter])
    assert not across_gutter((100, 150, 200, 170), (300, 150, 400, 170), [gutter])  # both left of it
