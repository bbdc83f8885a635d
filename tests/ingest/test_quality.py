"""The quality gate: truncation and loops fail a page, real output passes."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.ocr.grounding import parse_grounding
from ingest.ocr.quality import assess_quality
from tests.fakes.vllm_server import looping

SOURCES = "docling-testdata/md_deepseek/sources"


def _gate(raw: str, finish_reason: str | None = "stop", structured: bool = True):
    parsed = parse_grounding(raw)
    return assess_quality(
        raw, parsed.blocks, finish_reason, structured=structured, truncated=parsed.truncated
    )


@pytest.mark.parametrize("name", ["deepseek_example.md", "deepseek_simple.md", "deepseek_title.md"])
def test_recorded_outputs_pass(testdata: Path, name: str) -> None:
    verdict = _gate((testdata / SOURCES / name).read_text())
    assert verdict.ok and verdict.reason is None


def test_finish_reason_length_fails_even_when_the_text_looks_complete() -> None:
    raw = "<|ref|>text<|/ref|><|det|>[[1, 1, 900, 50]]<|/det|>\nA complete sentence."
    verdict = _gate(raw, finish_reason="length")
    assert not verdict.ok and "finish_reason length" in (verdict.reason or "")


def test_output_cut_inside_a_grounding_tag_fails_as_truncated(testdata: Path) -> None:
    full = (testdata / SOURCES / "deepseek_title.md").read_text()
    raw = full[: full.index("<|det|>", len(full) // 2) + 12]
    verdict = _gate(raw)
    assert not verdict.ok and (verdict.reason or "").startswith("truncated")


def test_near_identical_blocks_with_shifting_boxes_are_a_loop() -> None:
    verdict = _gate(looping(repeats=5), finish_reason="stop")
    assert not verdict.ok and "near-identical text blocks" in (verdict.reason or "")


def test_blocks_that_differ_only_slightly_still_count_as_a_loop() -> None:
    raw = "".join(
        f"<|ref|>text<|/ref|><|det|>[[80, {100 + 30 * i}, 920, {120 + 30 * i}]]<|/det|>\n"
        f"Clause {i}: the supplier shall deliver the goods to the buyer on time.\n\n"
        for i in range(5)
    )
    assert "near-identical" in (_gate(raw).reason or "")


def test_a_line_repeated_many_times_is_a_loop() -> None:
    raw = "Some heading\n" + "The parties agree to the terms below.\n" * 9 + "End of page."
    verdict = _gate(raw, structured=False)
    assert not verdict.ok and "line repeated 9 times" in (verdict.reason or "")


def test_output_ending_in_a_repeated_span_is_a_loop() -> None:
    raw = "Intro text. " + "ab12 " * 40
    verdict = _gate(raw, structured=False)
    assert not verdict.ok and "ends with" in (verdict.reason or "")


def test_distinct_blocks_and_a_few_repeated_form_lines_pass() -> None:
    raw = "\n".join(f"Item {i}: a distinct line of body text number {i}" for i in range(40))
    raw += "\n" + "Signature: ______________\n" * 4
    assert _gate(raw, structured=False).ok


def test_a_grid_of_figures_without_text_is_not_a_loop() -> None:
    raw = "".join(
        f"<|ref|>image<|/ref|><|det|>[[{100 * i}, 100, {100 * i + 90}, 200]]<|/det|>\n" for i in range(6)
    )
    assert _gate(raw).ok


def test_table_rows_with_repeating_cells_pass() -> None:
    rows = "".join(f"<tr><td>{i}</td><td></td><td></td><td>x</td></tr>" for i in range(30))
    raw = f"<|ref|>table<|/ref|><|det|>[[10, 10, 900, 900]]<|/det|>\n<table>{rows}</table>"
    assert _gate(raw).ok


def test_grounding_reply_without_grounded_blocks_fails_only_when_structure_is_required() -> None:
    plain = "Just some plain recognized text without any grounding tags at all."
    assert "no grounded blocks" in (_gate(plain, structured=True).reason or "")
    assert _gate(plain, structured=False).ok


def test_empty_output_fails() -> None:
    assert _gate("<｜end▁of▁sentence｜>", structured=False).reason == "empty output"
