"""ingest.ocr.rapidocr: real RapidOCR on rendered pages of known text; grouping and order as pure rules."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymupdf
import pytest

from ingest.layout import BBox, PageLayout
from ingest.ocr.engine import OcrOptions, PreprocessOptions
from ingest.ocr.rapidocr import (
    RapidOcrConfig,
    RapidOcrEngine,
    TextBox,
    build_blocks,
    group_lines,
    reading_order,
)
from ingest.page import PageImage
from ingest.preprocess import decode_png, encode_png, rotate
from ingest.sources import open_source

PAGE_PT = (612, 360)  # a short page keeps the CPU OCR fast
WORDS = {  # text -> where it is drawn (points)
    "Invoice number 4711": (72, 60),
    "Total amount due 1250.00": (72, 220),
    "Payment within thirty days": (320, 310),
}
CHINESE = "合同总金额"


@pytest.fixture(scope="session")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine(RapidOcrConfig(threads=2))  # built lazily, once for the session


@pytest.fixture(scope="session")
def known_pdf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, BBox]]]:
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_PT[0], height=PAGE_PT[1])
    for text, point in WORDS.items():
        page.insert_text(point, text, fontsize=18)
    page.insert_text((72, 140), CHINESE, fontname="china-s", fontsize=22)
    where = {t: BBox.from_points(tuple(page.search_for(t)[0]), PAGE_PT) for t in [*WORDS, CHINESE]}
    path = tmp_path_factory.mktemp("ocr") / "known.pdf"
    doc.save(path)
    yield path, where


@pytest.fixture(scope="session")
def known_page(known_pdf: tuple[Path, dict[str, BBox]]) -> PageImage:
    with open_source(known_pdf[0]) as doc:
        return doc.render_page(1)


def line_for(layout: PageLayout, needle: str) -> BBox:
    for block in layout.blocks:
        for line in block.lines:
            if needle.replace(" ", "") in line.text.replace(" ", ""):
                return line.bbox
    raise AssertionError(f"{needle!r} not found in {[b.markdown for b in layout.blocks]}")


def assert_lands_on(found: BBox, truth: BBox) -> None:
    # OCR boxes are padded a little around the glyphs: the true box's centre must be inside,
    # and the two must overlap well
    cx, cy = (truth.x0 + truth.x1) / 2, (truth.y0 + truth.y1) / 2
    assert found.x0 <= cx <= found.x1 and found.y0 <= cy <= found.y1, (found, truth)
    assert found.iou(truth) > 0.5, (found, truth, found.iou(truth))


async def test_recognizes_english_and_chinese_lines_with_boxes_on_the_words(
    engine: RapidOcrEngine, known_page: PageImage, known_pdf: tuple[Path, dict[str, BBox]]
) -> None:
    layout = await engine.recognize(known_page, OcrOptions())
    assert (layout.engine, layout.page, layout.unit, layout.width) == ("rapidocr", 1, "pt", 612.0)
    assert layout.image_size == known_page.image_size
    for text, truth in known_pdf[1].items():
        assert_lands_on(line_for(layout, text), truth)
    assert [b.order for b in layout.blocks] == list(range(len(layout.blocks)))
    assert layout.blocks[0].markdown.startswith("Invoice number 4711")
    assert CHINESE in layout.raw


async def test_concurrent_pages_share_one_ocr_instance(engine: RapidOcrEngine, known_page: PageImage) -> None:
    engine.warm_up()
    ocr = engine._ocr
    first, second = await asyncio.gather(
        engine.recognize(known_page, OcrOptions()), engine.recognize(known_page, OcrOptions())
    )
    assert first.blocks == second.blocks and first.blocks
    assert engine._ocr is ocr


async def test_big_page_is_downscaled_and_boxes_stay_normalized(
    known_pdf: tuple[Path, dict[str, BBox]], engine: RapidOcrEngine
) -> None:
    small = RapidOcrEngine(RapidOcrConfig(max_side_px=1000, threads=2))
    engine.warm_up()
    small._ocr = engine._ocr  # same models; only the downscale differs
    with open_source(known_pdf[0]) as doc:
        page = doc.render_page(1)
    layout = await small.recognize(page, OcrOptions())
    assert layout.image_size == page.image_size
    assert_lands_on(line_for(layout, "Total amount due"), known_pdf[1]["Total amount due 1250.00"])


async def test_deskew_before_ocr_puts_boxes_on_the_skewed_original(
    engine: RapidOcrEngine, known_page: PageImage, known_pdf: tuple[Path, dict[str, BBox]]
) -> None:
    upright = decode_png(known_page.image_png)
    skewed, matrix = rotate(upright, 5.0)
    h, w = skewed.shape[:2]
    page = PageImage(
        page=1, width=w, height=h, unit="px", image_png=encode_png(skewed), image_size=(w, h), dpi=144
    )
    layout = await engine.recognize(page, OcrOptions(preprocess=PreprocessOptions(deskew=True)))
    assert layout.image_size == (w, h)

    truth = known_pdf[1]["Total amount due 1250.00"]
    x0, y0, x1, y1 = truth.to_pixels(known_page.image_size)
    corners = [matrix @ (x, y, 1.0) for x, y in [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]]
    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
    expected = BBox.from_pixels((min(xs), min(ys), max(xs), max(ys)), (w, h))
    found = line_for(layout, "Total amount due")
    cx, cy = (expected.x0 + expected.x1) / 2, (expected.y0 + expected.y1) / 2
    assert found.x0 <= cx <= found.x1 and found.y0 <= cy <= found.y1, (found, expected)
    assert found.iou(expected) > 0.4, (found, expected)


async def test_blank_page_gives_no_blocks(engine: RapidOcrEngine) -> None:
    blank = np.full((300, 400, 3), 255, np.uint8)
    page = PageImage(
        page=3, width=400, height=300, unit="px", image_png=encode_png(blank), image_size=(400, 300), dpi=72
    )
    layout = await engine.recognize(page, OcrOptions())
    assert (layout.page, layout.blocks, layout.engine) == (3, [], "rapidocr")


# --- grouping and order: pure rules on pixel boxes ------------------------------------------------
def para(x0: float, y0: float, n: int, width: float = 400, h: float = 20, gap: float = 8) -> list[TextBox]:
    return [
        TextBox(
            f"l{x0:.0f}-{y0 + i * (h + gap):.0f}", x0, y0 + i * (h + gap), x0 + width, y0 + i * (h + gap) + h
        )
        for i in range(n)
    ]


def test_stacked_lines_form_one_block_and_a_wide_gap_starts_another() -> None:
    groups = group_lines(para(100, 100, 3) + para(100, 300, 2))
    assert [len(g) for g in groups] == [3, 2]


def test_taller_heading_line_is_its_own_block() -> None:
    heading = TextBox("Heading", 100, 60, 400, 100)
    groups = group_lines([heading, *para(100, 108, 3)])
    assert [len(g) for g in groups] == [1, 3]


def test_two_columns_are_read_column_by_column_after_a_full_width_title() -> None:
    title = TextBox("Title", 100, 20, 1000, 60)
    left = para(100, 100, 4, width=420)  # two columns with aligned paragraph breaks
    left2 = para(100, 260, 3, width=420)
    right = para(580, 100, 4, width=420)
    right2 = para(580, 260, 3, width=420)
    blocks = build_blocks([*right2, *left, title, *right, *left2], (1100, 1400))
    firsts = [b.lines[0].text for b in sorted(blocks, key=lambda b: b.order)]
    assert firsts == ["Title", "l100-100", "l100-260", "l580-100", "l580-260"]


def test_same_row_fragments_join_but_column_neighbours_do_not() -> None:
    fragments = [TextBox("TOTAL", 100, 100, 180, 120), TextBox("12.00", 190, 100, 260, 120)]
    assert [len(g) for g in group_lines(fragments)] == [2]
    columns = [TextBox("left", 100, 100, 480, 120), TextBox("right", 530, 100, 900, 120)]
    assert [len(g) for g in group_lines(columns)] == [1, 1]


def test_form_rows_keep_label_and_value_together() -> None:
    rows = [("Date:", "25/12/2018"), ("Total:", "9.00"), ("Cash:", "10.00")]
    boxes = [
        box
        for i, (label, value) in enumerate(rows)
        for box in (
            TextBox(label, 50, 100 + i * 28, 150, 120 + i * 28),
            TextBox(value, 700, 100 + i * 28, 780, 120 + i * 28),
        )
    ]
    (block,) = build_blocks(boxes, (800, 400))
    assert block.markdown == "Date: 25/12/2018\nTotal: 9.00\nCash: 10.00"
    assert len(block.lines) == 6


def test_short_last_line_of_a_column_stays_in_its_column() -> None:
    left = [*para(100, 100, 3, width=420), TextBox("end.", 100, 184, 160, 204)]
    right = para(580, 100, 4, width=420)
    blocks = sorted(build_blocks(left + right, (1100, 400)), key=lambda b: b.order)
    assert [b.markdown.splitlines()[-1] for b in blocks] == ["end.", "l580-184"]


def test_narrow_amount_column_is_read_row_by_row() -> None:
    labels = [TextBox(f"item{i}", 50, 100 + i * 40, 250, 120 + i * 40) for i in range(3)]
    amounts = [TextBox(f"{i}.00", 700, 100 + i * 40, 760, 120 + i * 40) for i in range(3)]
    order = reading_order(labels + amounts)
    assert order == [0, 3, 1, 4, 2, 5]
