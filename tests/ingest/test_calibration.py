"""Calibration's scoring and choices: CER on the recorded DeepSeek output of a real page against its text
layer, the sample spread, the recommendation (cheapest within the tolerance), and the fake's simulation."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.calibration import ModeStats, PageScore, recommend, sample_pages, summarize
from ingest.ocr.grounding import parse_grounding
from ingest.ocr.text_score import cer, layout_text, plain_text
from ingest.ocr.textlayer import TextLayerEngine
from ingest.page import PageImage
from ingest.sources import open_source
from tests.fakes.compression import compress

RECORDED = "docling-testdata/md_deepseek/sources"
PG9 = "docling-testdata/pdf/sources/2305.03393v1-pg9.pdf"  # the page deepseek_example.md was read from


def _recorded_text(testdata: Path, name: str, mode: str = "gundam") -> str:
    raw = compress((testdata / RECORDED / name).read_text(encoding="utf-8"), mode)
    page = PageImage(
        page=1, width=612, height=792, unit="pt", image_png=b"", image_size=(1224, 1584), dpi=144
    )
    return layout_text(page.layout("deepseek", blocks=parse_grounding(raw).blocks, raw=raw))


def _text_layer(path: Path) -> str:
    with open_source(path) as src:
        page = src.render_page(1, pixels=False)
    return layout_text(TextLayerEngine().recognize_sync(page))


def test_plain_text_drops_markup_not_words() -> None:
    assert plain_text("## 5.1 Results\n\n**bold** and `code`") == "5.1 Results bold and code"
    assert plain_text("<table><tr><td>a &amp; b</td><td>2</td></tr></table>") == "a & b 2"
    assert plain_text("| x | y |\n|---|---|\n| 1 | 2 |") == "x y 1 2"


def test_cer_counts_edits_per_reference_character() -> None:
    assert cer("kitten", "kitten") == 0.0
    assert cer("sitting", "kitten") == pytest.approx(3 / 6)
    assert cer("", "abcd") == 1.0


def test_recorded_deepseek_output_scores_low_against_its_own_pages_text_layer(testdata: Path) -> None:
    truth = _text_layer(testdata / PG9)
    own = cer(_recorded_text(testdata, "deepseek_example.md"), truth)
    other = cer(_recorded_text(testdata, "deepseek_title.md"), truth)
    assert own < 0.25, own  # same page: reading order, table layout and formulas differ a little
    assert other > 0.6, other  # another page's text is no match
    assert own < other / 3


def test_simulated_compression_loses_text_in_the_cheap_modes_only(testdata: Path) -> None:
    truth = _text_layer(testdata / PG9)
    scores = {
        m: cer(_recorded_text(testdata, "deepseek_example.md", m), truth) for m in ("tiny", "small", "gundam")
    }
    assert scores["tiny"] > scores["small"] > scores["gundam"], scores
    assert scores["tiny"] > 0.5  # body text (~15 of 999 per line) is under tiny's floor: lost


def test_sample_gives_every_document_a_page_before_any_gets_a_second() -> None:
    docs = [(Path("a.pdf"), "a.pdf", 100), (Path("b.png"), "b.png", 1), (Path("c.pdf"), "c.pdf", 3)]
    picked = [(p.name, p.page) for p in sample_pages(docs, 6)]
    assert picked == [("a.pdf", 1), ("a.pdf", 34), ("a.pdf", 67), ("b.png", 1), ("c.pdf", 1), ("c.pdf", 2)]
    assert len(sample_pages(docs, 500)) == 104  # all of them, each once


def _stats(kind: str, mode: str, cer_: float | None, tokens: float) -> ModeStats:
    return ModeStats(
        kind=kind,  # type: ignore[arg-type]
        mode=mode,  # type: ignore[arg-type]
        pages=2,
        failed=0 if cer_ is not None else 2,
        cer=cer_,
        vision_tokens=tokens,
        output_tokens=500,
        seconds=1.0,
    )


def test_recommend_takes_the_cheapest_mode_within_the_tolerance_of_the_best() -> None:
    stats = [
        _stats("scanned_text", "tiny", 0.30, 64),
        _stats("scanned_text", "small", 0.035, 100),
        _stats("scanned_text", "base", 0.02, 256),
        _stats("scanned_text", "gundam", 0.0, 1156),
        _stats("screenshot", "tiny", None, 64),  # every read failed: never chosen
        _stats("screenshot", "small", 0.5, 100),
        _stats("screenshot", "gundam", 0.1, 1156),
    ]
    assert recommend(stats, 0.02) == {"scanned_text": "base", "screenshot": "gundam"}
    assert recommend(stats, 0.05) == {"scanned_text": "small", "screenshot": "gundam"}
    assert recommend(stats, 0.0)["scanned_text"] == "gundam"


def test_summary_averages_per_kind_and_mode_and_counts_failures() -> None:
    def score(mode: str, cer_: float | None, tokens: int | None) -> PageScore:
        return PageScore(
            name="x.pdf",
            page=1,
            kind="scanned_text",
            reference="gundam",
            mode=mode,  # type: ignore[arg-type]
            cer=cer_,
            vision_tokens=tokens,
            output_tokens=100,
            seconds=2.0,
        )

    stats = summarize([score("small", 0.1, 112), score("small", 0.3, 112), score("small", None, None)])
    assert len(stats) == 1
    only = stats[0]
    assert (only.pages, only.failed, only.vision_tokens) == (3, 1, 112)
    assert only.cer == pytest.approx(0.2)
