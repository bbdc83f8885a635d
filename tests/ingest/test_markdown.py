"""Markdown rendering of page layouts: headings, lists, tables, equations, figures, furniture, page marks."""

from __future__ import annotations

from pathlib import Path

from ingest.layout import BBox, Block, PageLayout
from ingest.markdown import render_document_markdown, render_page_markdown
from ingest.ocr.engine import OcrOptions
from ingest.ocr.textlayer import TextLayerEngine
from tests.ingest.test_textlayer import page_of

BOX = BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.2)
TABLE_MD = "| a | b |\n|---|---|\n| 1 | 2 |"


def block(kind: str, markdown: str, order: int, **kw: object) -> Block:
    return Block(kind=kind, markdown=markdown, bbox=BOX, order=order, **kw)  # type: ignore[arg-type]


def layout(page: int, blocks: list[Block]) -> PageLayout:
    return PageLayout(page=page, width=612, height=792, image_size=(1224, 1584), engine="test", blocks=blocks)


PAGE = layout(
    1,
    [
        block("header", "ACME confidential", 0),
        block("title", "Annual Report", 1, level=1),
        block("heading", "1.1 Scope", 2, level=2),
        block("text", "Body text\nwrapped.", 3),
        block("list", "• first item", 4),
        block("list", "2) second item", 5),
        block("table", TABLE_MD, 6, html="<table><tr><td>a</td></tr></table>"),
        block("equation", "E = mc^2", 7),
        block("figure", "", 8),
        block("caption", "Figure 1: Growth", 9),
        block("page_number", "7", 10),
    ],
)


def test_page_markdown_golden() -> None:
    assert render_page_markdown(PAGE) == (
        "# Annual Report\n\n"
        "## 1.1 Scope\n\n"
        "Body text\nwrapped.\n\n"
        "- first item\n2. second item\n\n"
        f"{TABLE_MD}\n\n"
        "$$\nE = mc^2\n$$\n\n"
        "![Figure 1: Growth](#figure)\n\n"
        "*Figure 1: Growth*"
    )


def test_blocks_follow_reading_order_not_list_order() -> None:
    page = layout(1, [block("text", "second", 1), block("text", "first", 0)])
    assert render_page_markdown(page) == "first\n\nsecond"


def test_table_without_markdown_falls_back_to_html() -> None:
    page = layout(1, [block("table", "", 0, html="<table><tr><td>x</td></tr></table>")])
    assert render_page_markdown(page) == "<table><tr><td>x</td></tr></table>"


def test_equation_already_delimited_is_kept() -> None:
    page = layout(1, [block("equation", "$$\na^2+b^2=c^2\n$$", 0)])
    assert render_page_markdown(page) == "$$\na^2+b^2=c^2\n$$"


def test_document_has_page_marks_and_no_furniture() -> None:
    md = render_document_markdown([layout(2, [block("text", "two", 0)]), PAGE, layout(3, [])])
    assert md.startswith("<!-- page 1 -->\n\n# Annual Report")
    assert "<!-- page 2 -->\n\ntwo\n\n<!-- page 3 -->\n" in md
    assert "ACME" not in md and "\n7\n" not in md


async def test_real_paper_page_renders_headings_and_table(testdata: Path) -> None:
    pdf = testdata / "docling-testdata" / "pdf" / "sources" / "2305.03393v1-pg9.pdf"
    page = await TextLayerEngine().recognize(page_of(pdf), OcrOptions())
    md = render_page_markdown(page)
    assert "\n# 5.1 Hyper Parameter Optimization\n" in md
    assert md.index("5.1 Hyper") < md.index("| # enc-layers") < md.index("# 5.2 Quantitative Results")
    assert "*Table 1. HPO performed" in md
