"""The grounding parser against real recorded DeepSeek-OCR outputs and their edge cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ingest.layout import BBox
from ingest.ocr.grounding import boxes_from_det, html_table_to_markdown, parse_grounding

MD_DEEPSEEK = "docling-testdata/md_deepseek"
RECORDED = ["deepseek_example.md", "deepseek_simple.md", "deepseek_title.md"]
DOCLING_KINDS = {
    "section_header": {"heading"},
    "title": {"title"},
    "text": {"text", "list"},
    "caption": {"caption"},
    "table": {"table"},
    "picture": {"figure"},
}


def _norm(text: str) -> str:
    return " ".join(re.sub(r"</?center>", "", text).split())


def _source(testdata: Path, name: str) -> str:
    return (testdata / MD_DEEPSEEK / "sources" / name).read_text(encoding="utf-8")


def _docling_items(doc: dict) -> list[tuple[str, str, dict]]:
    """(label, text, bbox in points) for each body child in reading order."""
    items = []
    for child in doc["body"]["children"]:
        _, group, idx = child["$ref"].split("/")
        node = doc[group][int(idx)]
        label = {"tables": "table", "pictures": "picture"}.get(group, node.get("label"))
        items.append((label, node.get("text", ""), node["prov"][0]["bbox"]))
    return items


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_output_matches_groundtruth_blocks_labels_texts_and_boxes(testdata: Path, name: str) -> None:
    doc = json.loads((testdata / MD_DEEPSEEK / "groundtruth" / f"{name}.json").read_text())
    size = doc["pages"]["1"]["size"]
    result = parse_grounding(_source(testdata, name))
    grounded = [b for b in result.blocks if b.label]  # docling drops text before the first tag
    expected = _docling_items(doc)
    assert not result.truncated
    assert len(grounded) == len(expected)
    matched = set()
    for label, text, box in expected:
        # docling scales by 1000, the reference code by 999: the same box within rounding
        want = BBox(
            x0=box["l"] / size["width"],
            y0=box["t"] / size["height"],
            x1=box["r"] / size["width"],
            y1=box["b"] / size["height"],
        )
        block = max(grounded, key=lambda b: b.bbox.iou(want))
        assert block.bbox.as_list() == pytest.approx(want.as_list(), abs=0.002)
        assert block.kind in DOCLING_KINDS[label], (block.label, label)
        if label not in ("table", "picture"):
            assert _norm(block.markdown).lstrip("# ") == _norm(text).lstrip("# ")
        matched.add(block.order)
    assert len(matched) == len(grounded)


def test_text_before_the_first_tag_is_kept_with_a_page_box(testdata: Path) -> None:
    first = parse_grounding(_source(testdata, "deepseek_example.md")).blocks[0]
    assert first.markdown.startswith("order to compute the TED score")
    assert first.label == "" and first.bbox == BBox(x0=0, y0=0, x1=1, y1=1)


def test_caption_order_quirk_gives_the_html_to_the_table_and_reads_caption_first(testdata: Path) -> None:
    blocks = parse_grounding(_source(testdata, "deepseek_example.md")).blocks
    caption, table = blocks[3], blocks[4]
    assert caption.label == "table_caption" and caption.markdown.startswith("Table 1. HPO performed")
    assert "<table" not in caption.markdown
    assert table.kind == "table" and table.html is not None and table.html.startswith("<table>")
    assert table.html.endswith("</table>") and table.bbox.y0 == pytest.approx(421 / 999)
    assert [b.order for b in blocks] == list(range(len(blocks)))


def test_table_markdown_expands_rowspan_and_colspan_like_the_reference(testdata: Path) -> None:
    table = parse_grounding(_source(testdata, "deepseek_example.md")).blocks[4]
    reference = (testdata / MD_DEEPSEEK / "groundtruth" / "deepseek_example.md.md").read_text()
    ref_rows = [ln for ln in reference.splitlines() if ln.startswith("|") and not ln.startswith("| -")]
    rows = [ln for ln in table.markdown.splitlines() if not ln.startswith("| ---")]
    assert rows == ref_rows
    assert table.markdown.splitlines()[1] == "| " + " | ".join(["---"] * 8) + " |"


def test_spanning_cells_fill_every_slot_they_cover() -> None:
    html = (
        '<table><tr><td rowspan="2">a</td><td colspan="2">b</td></tr><tr><td>c</td><td>d|e</td></tr></table>'
    )
    assert html_table_to_markdown(html).splitlines() == [
        "| a | b | b |",
        "| --- | --- | --- |",
        "| a | c | d\\|e |",
    ]


def test_table_without_cells_keeps_its_html_as_content() -> None:
    raw = "<|ref|>table<|/ref|><|det|>[[10, 10, 500, 500]]<|/det|>\n<table></table>"
    (block,) = parse_grounding(raw).blocks
    assert block.kind == "table" and block.html == "<table></table>" and block.markdown == "<table></table>"


def test_boxes_follow_the_999_grid_with_corners_ordered_and_clamped() -> None:
    assert boxes_from_det("[[0, 0, 999, 999]]") == [BBox(x0=0, y0=0, x1=1, y1=1)]
    (box,) = boxes_from_det("[[999, 500, 0, 250]]")
    assert box.as_list() == pytest.approx([0.0, 250 / 999, 1.0, 500 / 999])
    (clamped,) = boxes_from_det("[[-5, 10, 1200, 20]]")
    assert clamped.x0 == 0.0 and clamped.x1 == 1.0
    assert boxes_from_det("[[1, 2, 3") == []


def test_several_boxes_give_the_union_and_one_line_each() -> None:
    raw = "<|ref|>text<|/ref|><|det|>[[100, 100, 400, 120], [100, 130, 300, 150]]<|/det|>\nsplit paragraph"
    (block,) = parse_grounding(raw).blocks
    assert block.bbox.as_list() == pytest.approx([100 / 999, 100 / 999, 400 / 999, 150 / 999])
    assert [ln.bbox for ln in block.lines] == boxes_from_det("[[100, 100, 400, 120], [100, 130, 300, 150]]")


@pytest.mark.parametrize("cut", range(200, 4000, 97))
def test_truncated_output_keeps_every_complete_block(testdata: Path, cut: int) -> None:
    raw = _source(testdata, "deepseek_title.md")
    full = parse_grounding(raw).blocks
    result = parse_grounding(raw[:cut])
    complete = [b for b in full if raw.find(b.markdown) + len(b.markdown) <= cut and b.markdown]
    texts = [b.markdown for b in result.blocks]
    assert all(b.markdown in texts for b in complete)
    assert all("<|" not in t and "|>" not in t for t in texts)


def test_dangling_tag_or_half_coordinate_list_marks_the_output_truncated() -> None:
    head = "<|ref|>text<|/ref|><|det|>[[10, 10, 900, 50]]<|/det|>\nFirst paragraph.\n\n"
    for tail in ("<|ref|>text<|/ref|><|det|>[[10, 60, 9", "<|ref|>te", "<|re", "<|ref|>text<|/ref|>"):
        result = parse_grounding(head + tail)
        assert result.truncated, tail
        assert [b.markdown for b in result.blocks] == ["First paragraph."]
    assert not parse_grounding(head).truncated


def test_unclosed_table_marks_truncated_and_keeps_the_partial_html() -> None:
    raw = "<|ref|>table<|/ref|><|det|>[[10, 10, 900, 500]]<|/det|>\n<table><tr><td>1</td><td>2</td></tr><tr><td>3"
    result = parse_grounding(raw)
    assert result.truncated
    assert result.blocks[0].html is not None and result.blocks[0].markdown.startswith("| 1 | 2 |")


def test_headings_take_their_level_from_hashes_or_the_label() -> None:
    raw = (
        "<|ref|>title<|/ref|><|det|>[[1, 1, 9, 9]]<|/det|>\nPlain Title\n\n"
        "<|ref|>sub_title<|/ref|><|det|>[[1, 11, 9, 19]]<|/det|>\n### Deep Section\n\n"
        "<|ref|>sub_title<|/ref|><|det|>[[1, 21, 9, 29]]<|/det|>\nNo Hashes\n\n"
        "<|ref|>text<|/ref|><|det|>[[1, 31, 9, 39]]<|/det|>\n## Heading in a text block\n"
    )
    got = [(b.kind, b.level, b.markdown) for b in parse_grounding(raw).blocks]
    assert got == [
        ("title", 1, "Plain Title"),
        ("heading", 3, "Deep Section"),
        ("heading", 2, "No Hashes"),
        ("heading", 2, "Heading in a text block"),
    ]


def test_end_of_sentence_and_center_tags_are_stripped() -> None:
    raw = "<|ref|>image_caption<|/ref|><|det|>[[1, 1, 9, 9]]<|/det|>\n<center>Figure 2: A cat</center><｜end▁of▁sentence｜>"
    (block,) = parse_grounding(raw).blocks
    assert (block.kind, block.label, block.markdown) == ("caption", "image_caption", "Figure 2: A cat")


def test_open_label_set_keeps_the_label_and_maps_unknown_labels_to_text() -> None:
    raw = (
        "<|ref|>equation<|/ref|><|det|>[[1, 1, 9, 9]]<|/det|>\n\\[E = mc^2\\]\n"
        "<|ref|>table_footnote<|/ref|><|det|>[[1, 11, 9, 19]]<|/det|>\n* p < 0.05\n"
        "<|ref|>marginalia<|/ref|><|det|>[[1, 21, 9, 29]]<|/det|>\nside note\n"
        "<|ref|>image<|/ref|><|det|>[[1, 31, 9, 39]]<|/det|>\n"
    )
    got = [(b.kind, b.label, b.markdown) for b in parse_grounding(raw).blocks]
    assert got == [
        ("equation", "equation", "\\[E = mc^2\\]"),
        ("caption", "table_footnote", "* p < 0.05"),
        ("text", "marginalia", "side note"),
        ("figure", "image", ""),
    ]


def test_locate_reply_keeps_the_found_text_as_the_block_content() -> None:
    (block,) = parse_grounding("<|ref|>Total due<|/ref|><|det|>[[600, 800, 700, 820]]<|/det|>").blocks
    assert block.markdown == "Total due" and block.bbox.y0 == pytest.approx(800 / 999)


def test_bullet_lines_become_a_list_block() -> None:
    raw = "<|ref|>text<|/ref|><|det|>[[1, 1, 9, 9]]<|/det|>\n- one\n- two\n"
    assert parse_grounding(raw).blocks[0].kind == "list"
