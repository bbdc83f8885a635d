"""Citation narrowing: a quote cites only the lines that hold it, on every page it crosses."""

from __future__ import annotations

from ingest.layout import BBox, Block, Line, PageLayout, Region
from retrieval.citations import attach_layout_text, best_quote, narrow_regions


def lines_on(page: int, texts: list[str], top: float = 0.1) -> list[Region]:
    return [
        Region(page=page, bbox=BBox(x0=0.1, y0=top + 0.05 * i, x1=0.9, y1=top + 0.05 * i + 0.04), text=t)
        for i, t in enumerate(texts)
    ]


CONTRACT_LINES = [
    "1. Term. This Agreement begins on the Effective Date",
    "and continues for five years. Either party may terminate",
    "on ninety days' written notice. This Agreement shall be",
    "governed by the laws of the State of Ohio.",
]


def test_quote_inside_one_line_cites_only_that_line() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    assert narrow_regions("the laws of the State of Ohio", regions) == [regions[3]]


def test_quote_across_lines_cites_exactly_the_lines_it_touches() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    quote = "This Agreement shall be governed by the laws of the State of Ohio."
    assert narrow_regions(quote, regions) == [regions[2], regions[3]]


def test_quote_across_a_page_break_cites_lines_on_both_pages() -> None:
    regions = lines_on(1, CONTRACT_LINES[:3], top=0.8) + lines_on(2, CONTRACT_LINES[3:], top=0.05)
    quote = "This Agreement shall be governed by the laws of the State of Ohio."
    cited = narrow_regions(quote, regions)
    assert [r.page for r in cited] == [1, 2]
    assert cited == [regions[2], regions[3]]


def test_markdown_and_punctuation_in_the_quote_do_not_stop_the_match() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    assert narrow_regions("**governed by** the laws of the *State of Ohio*", regions) == [regions[3]]


def test_ocr_slips_still_match_the_right_line() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    assert narrow_regions("continues for flve years. Either party may terminate", regions) == [regions[1]]


def test_quote_found_nowhere_falls_back_to_all_chunk_regions() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    assert narrow_regions("indemnification of affiliates", regions) == regions


def test_regions_without_text_are_cited_as_they_are() -> None:
    merged = [Region(page=1, bbox=BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.4))]
    assert narrow_regions("the laws of the State of Ohio", merged) == merged


def test_layout_lines_give_text_to_a_merged_chunk_region() -> None:
    line_regions = lines_on(1, CONTRACT_LINES)
    block = Block(
        kind="text",
        markdown=" ".join(CONTRACT_LINES),
        bbox=BBox.union(r.bbox for r in line_regions),
        lines=[Line(text=r.text or "", bbox=r.bbox) for r in line_regions],
    )
    outside = Block(kind="text", markdown="Signature page", bbox=BBox(x0=0.1, y0=0.8, x1=0.9, y1=0.85))
    layout = PageLayout(page=1, width=612, height=792, image_size=(1224, 1584), engine="textlayer")
    layout.blocks = [block, outside]
    merged = [Region(page=1, bbox=block.bbox)]
    detailed = attach_layout_text(merged, [layout])
    assert [r.text for r in detailed] == CONTRACT_LINES
    assert narrow_regions("the laws of the State of Ohio", detailed) == [line_regions[3]]


def test_best_quote_is_the_verbatim_sentence_supporting_the_claim() -> None:
    chunk = "## 12. Law\n\nNotices go to the addresses above. This Agreement is governed by **Ohio** law."
    assert (
        best_quote(chunk, "Ohio law governs the agreement") == "This Agreement is governed by **Ohio** law."
    )
