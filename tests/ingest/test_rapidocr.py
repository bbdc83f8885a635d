"""ingest.ocr.rapidocr: real RapidOCR on rendered pages of known text; grouping and order as pure rules."""

from __future__ import annotations

import asyncio
import functools
import io
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from ingest.layout import BBox, PageLayout
from ingest.ocr.engine import OcrOptions, PreprocessOptions
from ingest.ocr.rapidocr import (
    RapidOcrConfig,
    RapidOcrEngine,
    TextBox,
    build_blocks,
    det_limit,
    group_lines,
    rapidocr_params,
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
    assert json.loads(layout.raw)["rotation"] == 0


async def test_a_phrase_of_a_scanned_line_is_boxed_on_its_words(
    engine: RapidOcrEngine, known_page: PageImage, known_pdf: tuple[Path, dict[str, BBox]]
) -> None:
    """RapidOCR's word boxes let a citation highlight "1250.00" alone, where the PDF drew it."""
    with pymupdf.open(known_pdf[0]) as doc:
        (truth,) = [BBox.from_points(tuple(r), PAGE_PT) for r in doc[0].search_for("1250.00")]
    layout = await engine.recognize(known_page, OcrOptions())
    line = next(ln for b in layout.blocks for ln in b.lines if "1250.00" in ln.text)
    assert line.words_x is not None and len(line.words_x) == len(line.text.split())
    start = line.text.index("1250.00")
    found = line.region(1).part(start, start + len("1250.00")).bbox
    assert abs(found.x0 - truth.x0) < 0.01 and abs(found.x1 - truth.x1) < 0.01, (found, truth)
    chinese = next(ln for b in layout.blocks for ln in b.lines if CHINESE in ln.text.replace(" ", ""))
    assert chinese.words_x is None  # RapidOCR boxes CJK per character: the line's share is used


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


# --- pages scanned sideways or upside down ----------------------------------------------------------
def words_of(layout: PageLayout) -> set[str]:
    return {w for b in layout.blocks for w in b.markdown.split()}


def recall(layout: PageLayout, truth: str) -> float:
    found, words = words_of(layout), truth.split()
    return sum(w in found for w in words) / len(words)


@functools.cache
def upright_recall(engine: RapidOcrEngine, root: Path) -> float:
    """Word recall on the upright phototest page (read once, shared by the rotated variants)."""
    with open_source(root / "phototest.tif") as doc:
        layout = engine.recognize_sync(doc.render_page(1))
    return recall(layout, (root / "phototest.txt").read_text())


@pytest.mark.parametrize(
    ("image", "rotation"),
    [("phototest-rotated-180.png", 180), ("phototest-rotated-L.png", 90), ("phototest-rotated-R.png", 270)],
)
def test_rotated_scan_is_turned_upright_and_reads_like_the_upright_one(
    engine: RapidOcrEngine, testdata: Path, image: str, rotation: int
) -> None:
    root = testdata / "tesseract-test"
    with open_source(root / image) as doc:
        page = doc.render_page(1)
    layout = engine.recognize_sync(page)
    assert json.loads(layout.raw)["rotation"] == rotation
    assert layout.image_size == page.image_size  # boxes are on the page as uploaded
    assert recall(layout, (root / "phototest.txt").read_text()) >= upright_recall(engine, root) - 0.03
    assert layout.blocks[0].markdown.startswith("This is a lot of 12 point text")


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotated_scanned_pdf_is_turned_upright(engine: RapidOcrEngine, testdata: Path, rotation: int) -> None:
    with open_source(
        testdata / "docling-testdata" / "ocr" / "sources" / f"ocr_test_rotated_{rotation}.pdf"
    ) as doc:
        layout = engine.recognize_sync(doc.render_page(1))
    assert json.loads(layout.raw)["rotation"] == rotation
    assert layout.blocks[0].markdown.startswith("Docling bundles PDF document conversion")


def turned_pil(page: PageImage, degrees_ccw: int) -> PageImage:
    """The page as a scan lying turned `degrees_ccw` counter-clockwise (Pillow's convention)."""
    img = Image.open(io.BytesIO(page.image_png)).rotate(degrees_ccw, expand=True)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    w, h = img.size
    return PageImage(
        page=1, width=w, height=h, unit="px", image_png=buf.getvalue(), image_size=(w, h), dpi=144
    )


def turned_box(box: BBox, degrees_ccw: int) -> BBox:
    """Where a normalized box lies once the page is turned counter-clockwise by a quarter turn or two."""
    x0, y0, x1, y1 = box.as_list()
    return {
        90: BBox(x0=y0, y0=1 - x1, x1=y1, y1=1 - x0),
        180: BBox(x0=1 - x1, y0=1 - y1, x1=1 - x0, y1=1 - y0),
        270: BBox(x0=1 - y1, y0=x0, x1=1 - y0, y1=x1),
    }[degrees_ccw]


@pytest.mark.parametrize("degrees_ccw", [90, 180, 270])
async def test_line_boxes_on_a_turned_page_land_on_its_words_as_uploaded(
    engine: RapidOcrEngine, known_page: PageImage, known_pdf: tuple[Path, dict[str, BBox]], degrees_ccw: int
) -> None:
    page = turned_pil(known_page, degrees_ccw)
    layout = await engine.recognize(page, OcrOptions())
    assert json.loads(layout.raw)["rotation"] == degrees_ccw  # a turn clockwise undoes it
    assert layout.image_size == page.image_size
    for text in ["Invoice number 4711", "Total amount due 1250.00", CHINESE]:
        assert_lands_on(line_for(layout, text), turned_box(known_pdf[1][text], degrees_ccw))
    block = next(b for b in layout.blocks if "Total amount due" in b.markdown)
    assert all(block.bbox.contains(ln.bbox, tol=1e-6) for ln in block.lines)


async def test_turning_off_auto_orient_reads_the_page_as_it_lies(
    engine: RapidOcrEngine, known_page: PageImage
) -> None:
    plain = RapidOcrEngine(RapidOcrConfig(threads=2, auto_orient=False))
    engine.warm_up()
    plain._ocr = engine._ocr  # same models; only the setting differs
    layout = await plain.recognize(turned_pil(known_page, 180), OcrOptions())
    assert json.loads(layout.raw)["rotation"] == 0
    assert "Invoice" not in " ".join(b.markdown for b in layout.blocks)


async def test_turned_page_with_deskew_maps_back_through_both_steps(
    engine: RapidOcrEngine, known_page: PageImage, known_pdf: tuple[Path, dict[str, BBox]]
) -> None:
    page = turned_pil(known_page, 90)
    layout = await engine.recognize(page, OcrOptions(preprocess=PreprocessOptions(deskew=True, clahe=True)))
    assert json.loads(layout.raw)["rotation"] == 90
    truth = turned_box(known_pdf[1]["Total amount due 1250.00"], 90)
    assert_lands_on(line_for(layout, "Total amount due"), truth)


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


# --- a Chinese page in two columns -------------------------------------------------------------
CJK_PAGE_PT = (420, 300)
CJK_LEFT = [
    "今年前三季度全省规模以上",
    "工业增加值同比增长百分之",
    "六点二，增速继续加快。",
    "新能源汽车产量保持较快增",
    "长，成为拉动工业的主要力",
    "量，带动相关产业改善。",
]
CJK_RIGHT = [
    "消费市场继续恢复，餐饮收",
    "入和旅游收入均创下同期新",
    "高，假日经济表现活跃。",
    "外贸方面，对东盟和中东地",
    "区出口增长明显，机电产品",
    "出口占比进一步提高。",
]
CJK_TITLE = "全省经济运行稳中向好"


@pytest.fixture(scope="session")
def cjk_columns_page(tmp_path_factory: pytest.TempPathFactory) -> PageImage:
    """A headline over two columns 1.5 characters apart, whose rows line up (a row-by-row reading
    would interleave them), each column ending a paragraph with a short line."""
    doc = pymupdf.open()
    page = doc.new_page(width=CJK_PAGE_PT[0], height=CJK_PAGE_PT[1])
    page.insert_text((130, 50), CJK_TITLE, fontname="china-s", fontsize=16)
    for x, lines in ((30, CJK_LEFT), (30 + 12 * 10.5 + 16, CJK_RIGHT)):
        for i, text in enumerate(lines):
            page.insert_text((x, 90 + i * 17 + 7 * (i >= 3)), text, fontname="china-s", fontsize=10.5)
    path = tmp_path_factory.mktemp("ocr") / "cjk-columns.pdf"
    doc.save(path)
    with open_source(path) as src:
        return src.render_page(1)


async def test_chinese_two_columns_are_read_column_by_column_in_separate_blocks(
    engine: RapidOcrEngine, cjk_columns_page: PageImage
) -> None:
    layout = await engine.recognize(cjk_columns_page, OcrOptions())
    blocks = sorted(layout.blocks, key=lambda b: b.order)
    middle = (30 + 12 * 10.5 + 8) / CJK_PAGE_PT[0]  # the gutter's middle, share of the page width
    for block in blocks[1:]:  # below the headline no block holds lines of both columns
        sides = {(ln.bbox.x0 + ln.bbox.x1) / 2 > middle for ln in block.lines}
        assert len(sides) == 1, block.markdown
    text = "".join("".join(b.markdown.split()) for b in blocks)
    assert text == CJK_TITLE + "".join(CJK_LEFT) + "".join(CJK_RIGHT)


CLAUSES = [  # lines of very different widths: RapidOCR's batches would pad the short ones to the long ones
    "1. Term.",
    "This Agreement commences on the Effective Date and continues for three (3) years.",
    "2. Fees.",
    "Customer shall pay each invoice within forty-five (45) days of receipt.",
    "3. Notices.",
    "All notices shall be in writing and delivered to the addresses set out in Schedule B.",
    "Section 4.2(b)",
]


def test_defaults_recognize_one_line_per_call_and_detect_on_a_capped_side() -> None:
    assert rapidocr_params(RapidOcrConfig())["Rec.rec_batch_num"] == 1
    assert "Rec.rec_batch_num" not in rapidocr_params(RapidOcrConfig(rec_batch=None))
    assert det_limit((1584, 1224), 1280) == ("max", 1280)  # a letter page at 144 dpi is shrunk
    assert det_limit((1013, 463), 1280) == ("min", 736)  # a receipt is still enlarged, as RapidOCR does
    assert det_limit((1200, 900), 1280) == ("min", 736)  # neither: read as it is
    assert det_limit((1584, 1224), None) == ("min", 736)


def test_small_print_on_a_letter_page_is_read_word_for_word_with_the_defaults(tmp_path: Path) -> None:
    """A letter page at 144 dpi is 1584 px tall: detection sees it at 1280 and must still find 9 pt lines;
    recognition (one line per call) must read each exactly."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    for i, text in enumerate(CLAUSES):
        page.insert_text((72, 100 + 40 * i), text, fontsize=9)
    doc.save(tmp_path / "letter.pdf")
    with open_source(tmp_path / "letter.pdf") as src:
        image = src.render_page(1)
    assert max(image.image_size) > 1280
    engine = RapidOcrEngine(RapidOcrConfig(threads=2))
    layout = engine.recognize_sync(image)
    det, rec = engine._ocr.text_det, engine._ocr.text_rec  # RapidOCR took the settings under these names
    assert (det.limit_type, det.limit_side_len, rec.rec_batch_num) == ("max", 1280, 1)
    lines = [ln.text for b in layout.blocks for ln in b.lines]
    assert lines == CLAUSES
