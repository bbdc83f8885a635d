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


def texts(regions: list[Region]) -> list[tuple[int, str | None]]:
    return [(r.page, r.text) for r in regions]


def test_quote_inside_one_line_cites_only_the_quoted_words_of_that_line() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    [cited] = narrow_regions("the laws of the State of Ohio", regions)
    assert cited.text == "the laws of the State of Ohio"
    line = regions[3].bbox
    assert (cited.bbox.y0, cited.bbox.y1) == (line.y0, line.y1)
    assert line.x0 < cited.bbox.x0 < cited.bbox.x1 < line.x1  # "governed by " and "." left out


def test_word_extents_from_the_engine_place_the_cut() -> None:
    [line] = lines_on(1, ["Dated as of January 29, 2020"])
    words_x = [(0.10, 0.2), (0.21, 0.25), (0.26, 0.3), (0.5, 0.6), (0.61, 0.65), (0.66, 0.75)]
    line = line.model_copy(update={"words_x": words_x})
    [cited] = narrow_regions("January 29, 2020", [line])
    assert (cited.bbox.x0, cited.bbox.x1) == (0.5, 0.75)


def test_quote_across_lines_cites_exactly_the_lines_it_touches() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    quote = "This Agreement shall be governed by the laws of the State of Ohio."
    assert texts(narrow_regions(quote, regions)) == [
        (1, "This Agreement shall be"),
        (1, CONTRACT_LINES[3][:-1]),
    ]


def test_quote_across_a_page_break_cites_lines_on_both_pages() -> None:
    regions = lines_on(1, CONTRACT_LINES[:3], top=0.8) + lines_on(2, CONTRACT_LINES[3:], top=0.05)
    quote = "This Agreement shall be governed by the laws of the State of Ohio."
    cited = narrow_regions(quote, regions)
    assert texts(cited) == [(1, "This Agreement shall be"), (2, CONTRACT_LINES[3][:-1])]


def test_markdown_and_punctuation_in_the_quote_do_not_stop_the_match() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    assert texts(narrow_regions("**governed by** the laws of the *State of Ohio*", regions)) == [
        (1, CONTRACT_LINES[3][:-1])
    ]


def test_ocr_slips_still_match_the_right_line() -> None:
    regions = lines_on(1, CONTRACT_LINES)
    cited = narrow_regions("continues for flve years. Either party may terminate", regions)
    assert texts(cited) == [(1, "continues for five years. Either party may terminate")]


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
    assert texts(narrow_regions("the laws of the State of Ohio", detailed)) == [
        (1, "the laws of the State of Ohio")
    ]


def test_best_quote_is_the_verbatim_sentence_supporting_the_claim() -> None:
    chunk = "## 12. Law\n\nNotices go to the addresses above. This Agreement is governed by **Ohio** law."
    assert (
        best_quote(chunk, "Ohio law governs the agreement") == "This Agreement is governed by **Ohio** law."
    )
