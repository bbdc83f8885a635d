"""OCR structure on rendered pages: side headings, columns and headings, read by the real RapidOCR."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.clauses import mark_clauses
from ingest.layout import BBox, Block, Line, PageLayout
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine
from ingest.ocr.structure import is_side_heading, mark_headings, split_paragraphs
from ingest.sources import open_source

PAGE_PT = (612, 792)
BODY = (
    "This Agreement shall commence on the Effective Date and continue for a period of three years, "
    "unless terminated earlier by either party upon ninety days written notice to the other party."
)
LEFT = "The left column opens the story and says that sales grew strongly in the first quarter of the year."
RIGHT = (
    "The right column closes the story and says that the share price ended the quarter lower than it began."
)
CH_LEFT = "左栏开头说明公司第一季度营业收入同比增长百分之十二，毛利率保持稳定。"
CH_RIGHT = "右栏结尾说明股价报七元一角五分，市场对下半年的订单前景较为谨慎。"


@pytest.fixture(scope="module")
def engine() -> RapidOcrEngine:
    return RapidOcrEngine(RapidOcrConfig(threads=2, auto_orient=False))


def read(engine: RapidOcrEngine, tmp_path: Path, draw: object) -> PageLayout:
    doc = pymupdf.open()
    page = doc.new_page(width=PAGE_PT[0], height=PAGE_PT[1])
    draw(page)  # type: ignore[operator]
    path = tmp_path / "page.pdf"
    doc.save(path)
    with open_source(path) as source:
        return engine.recognize_sync(source.render_page(1))


def in_order(layout: PageLayout) -> list[Block]:
    return sorted(layout.blocks, key=lambda b: b.order)


def text_block(text: str, y0: float) -> Block:
    bbox = BBox(x0=0.1, y0=y0, x1=0.5, y1=y0 + 0.015)
    return Block(kind="text", markdown=text, bbox=bbox, lines=[Line(text=text, bbox=bbox)])


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_side_heading_is_its_own_heading_block_read_before_its_clause(
    engine: RapidOcrEngine, tmp_path: Path
) -> None:
    def draw(page: pymupdf.Page) -> None:
        for i, title in enumerate(["1. TERM; TERMINATION", "2. PAYMENT"]):
            top = 90 + i * 160
            page.insert_text((50, top + 11), title, fontsize=11)
            page.insert_textbox(pymupdf.Rect(230, top, 560, top + 140), BODY, fontsize=11)

    blocks = in_order(read(engine, tmp_path, draw))
    texts = [squeeze(b.markdown) for b in blocks]
    term = texts.index("1.TERM;TERMINATION")
    assert texts[term + 1].startswith("ThisAgreement")
    assert texts.index("2.PAYMENT") > term + 1
    # no block spans the heading column and the clause's text
    assert all(b.bbox.x0 > 0.3 or b.bbox.x1 < 0.4 for b in blocks)


def two_columns(left: str, right: str, fontname: str = "helv") -> object:
    def draw(page: pymupdf.Page) -> None:
        page.insert_text((50, 70), "QUARTERLY REVIEW", fontsize=20)
        for x0, text in [(50, left), (320, right)]:
            rect = pymupdf.Rect(x0, 100, x0 + 240, 400)
            assert page.insert_textbox(rect, (text + " ") * 4, fontsize=12, fontname=fontname) >= 0

    return draw


@pytest.mark.parametrize(
    ("left", "right", "fontname"),
    [(LEFT, RIGHT, "helv"), (CH_LEFT, CH_RIGHT, "china-s")],
    ids=["english", "chinese"],
)
def test_two_columns_are_read_left_column_first_without_mixing(
    engine: RapidOcrEngine, tmp_path: Path, left: str, right: str, fontname: str
) -> None:
    blocks = in_order(read(engine, tmp_path, two_columns(left, right, fontname)))
    assert blocks[0].kind == "heading"
    assert squeeze(blocks[0].markdown) == "QUARTERLYREVIEW"
    body = blocks[1:]
    assert all(b.bbox.x1 < 0.5 or b.bbox.x0 > 0.5 for b in body)  # no block spans both columns
    sides = ["left" if b.bbox.x1 < 0.5 else "right" for b in body]
    assert sides == sorted(sides)  # every left block before every right one
    text = squeeze("".join(b.markdown for b in body))
    assert text.index(squeeze(left)[:8]) < text.index(squeeze(right)[:8])


def test_headings_are_short_titles_not_sentences() -> None:
    assert is_side_heading("1. TERM; TERMINATION")
    assert is_side_heading("Section 4 Payment")
    assert not is_side_heading("CODE/DESC")  # a table header beside its columns
    assert not is_side_heading("1. The Company shall pay the fees. It may not refuse.")
    assert not is_side_heading("Total:")
    caps, sentence = text_block("DEFINITIONS", 0.1), text_block("The parties agree as follows.", 0.2)
    assert [b.kind for b in mark_headings([caps, sentence])] == ["heading", "text"]


def rows_block(rows: list[tuple[str, float, float]]) -> Block:
    """One OCR block as line grouping leaves a scanned contract page: a line per (text, x0, x1), 0.012 apart."""
    lines = [
        Line(text=t, bbox=BBox(x0=x0, y0=0.1 + 0.012 * i, x1=x1, y1=0.11 + 0.012 * i))
        for i, (t, x0, x1) in enumerate(rows)
    ]
    return Block(
        kind="text",
        markdown="\n".join(t for t, _, _ in rows),
        bbox=BBox.union(ln.bbox for ln in lines),
        lines=lines,
    )


def one_page(blocks: list[Block]) -> PageLayout:
    return PageLayout(page=1, width=1, height=1, image_size=(1, 1), engine="rapidocr", blocks=blocks)


SCANNED_PAGE = [
    ("shall be borne by the HOF Entities as set forth in Exhibit C.", 0.08, 0.92),
    ("ARTICLE3", 0.46, 0.54),
    ("SPONSORSHIP RIGHTS AND BENEFITS", 0.37, 0.63),
    ("3.1 Sponsorship Rights. Subject to the terms of this Agreement, the HOF", 0.13, 0.92),
    ("Entities grant to Constellation the sponsorship rights set forth herein.", 0.08, 0.60),
    ("3.2 Production and Execution of Sponsorship Rights.", 0.13, 0.44),
    ("(a) The design, layout, content and copy of all advertising signs shall be", 0.18, 0.92),
    ("approved by the HOF Entities, such approval not to be unreasonably withheld.", 0.08, 0.92),
    ("their respective affiliates.", 0.08, 0.23),
]


def test_scanned_page_block_is_cut_into_paragraphs_and_headings() -> None:
    blocks = mark_clauses([one_page(mark_headings(split_paragraphs([rows_block(SCANNED_PAGE)])))])[0].blocks
    assert [(b.kind, b.markdown.split("\n")[0][:14]) for b in blocks] == [
        ("text", "shall be borne"),
        ("heading", "ARTICLE3 SPONS"),
        ("text", "3.1 Sponsorshi"),
        ("heading", "3.2 Production"),
        ("text", "(a) The design"),
    ]
    assert [b.order for b in blocks] == list(range(5))
    assert blocks[1].clause == "Article 3" and blocks[3].clause == "3.2"
    chunks = chunk_document("d", "kb", "c.pdf", [one_page(blocks)], ChunkingConfig(), len)
    design = next(c for c in chunks if "(a) The design" in c.markdown)
    assert design.heading_path[-1].startswith("3.2 Production")


def test_table_of_contents_stays_one_block_without_headings() -> None:
    contents = rows_block([(f"Section 3.{i} Servicer's Fees {10 + i}", 0.1, 0.9) for i in range(6)])
    assert split_paragraphs([contents]) == [contents.model_copy(update={"order": 0})]


def test_scanned_contract_page_gets_headings_from_rapidocr(engine: RapidOcrEngine, tmp_path: Path) -> None:
    def draw(page: pymupdf.Page) -> None:
        y = 72.0
        for text, x0, _ in SCANNED_PAGE:
            page.insert_text((x0 * PAGE_PT[0], y), text, fontsize=10)
            y += 12

    layout = read(engine, tmp_path, draw)
    heads = [b.markdown for b in mark_clauses([layout])[0].blocks if b.kind == "heading"]
    assert any(squeeze(h).startswith("ARTICLE3SPONSORSHIP") for h in heads), heads
    assert any(squeeze(h).startswith("3.2Production") for h in heads), heads


def test_chinese_section_titles_are_cut_out_of_the_column_and_marked() -> None:
    # a broker report's column after line grouping: titles are set a size above the body, which the
    # detector's padded boxes do not show, so only their shape tells them apart
    column = rows_block(
        [
            ("投资要点", 0.1, 0.22),
            ("公司发布三季度报告，单季营业收入同比增长百分之十八，", 0.14, 0.9),
            ("毛利率环比提升。", 0.1, 0.3),
            ("盈利预测与估值", 0.1, 0.28),
            ("我们认为公司产品结构持续优化，高端产品放量将推动盈利", 0.14, 0.9),
            ("能力进一步提升。", 0.1, 0.3),
        ]
    )
    figures = rows_block([("市盈率：18.6倍", 0.6, 0.8), ("目标价格：25.60元", 0.6, 0.82)])
    blocks = mark_headings(split_paragraphs([column, figures]))
    assert [(b.kind, b.markdown.split("\n")[0][:4]) for b in blocks] == [
        ("heading", "投资要点"),
        ("text", "公司发布"),
        ("heading", "盈利预测"),
        ("text", "我们认为"),
        ("text", "市盈率："),
    ]


def test_narrow_chinese_column_lines_are_no_titles() -> None:
    # twelve characters fill a newspaper column: lines without a full stop at their end are no titles
    lines = ["研发投入占收入比重提升至", "百分之七，新一代产品已进", "入客户验证阶段。"]
    block = rows_block([(t, 0.1, 0.33 if i < 2 else 0.2) for i, t in enumerate(lines)])
    assert [b.kind for b in mark_headings(split_paragraphs([block]))] == ["text"]
