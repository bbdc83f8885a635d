"""`ocr.mode: auto` on rendered pages: large clean print is read in small, small print and ruled tables
in gundam; the choice is a pure function of three measurements, and an explicit mode always wins."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from PIL import Image

from ingest.ocr.chat_server import build_client
from ingest.ocr.deepseek import DeepSeekConfig, DeepSeekEngine, auto_modes
from ingest.ocr.engine import OcrOptions
from ingest.ocr.mode_choice import PageMeasures, choose_mode, measure_page
from ingest.page import PageImage
from ingest.sources import SourceConfig, open_source
from tests.fakes.vllm_server import FakeVllm, request_image_and_prompt
from tests.support.documents import print_size_pdf

VLLM = auto_modes(DeepSeekConfig())  # small, gundam
NATIVE = auto_modes(DeepSeekConfig(send_mm_processor_kwargs=True))  # small, base, gundam


def rendered(tmp_path: Path, fontsize: float, table: bool = False) -> PageImage:
    pdf = print_size_pdf(tmp_path / f"p{fontsize}{table}.pdf", [(fontsize, table)])
    with open_source(pdf, SourceConfig()) as doc:
        return doc.render_page(1)


@pytest.mark.parametrize("fontsize", [14, 24])
def test_large_clean_print_is_read_in_small(tmp_path: Path, fontsize: float) -> None:
    measures = measure_page(rendered(tmp_path, fontsize))
    assert measures.rules_h == measures.rules_v == 0 and measures.glyph_px is not None
    choice = choose_mode(measures, VLLM)
    assert choice.mode == "small", choice
    assert "px in small" in choice.reason


@pytest.mark.parametrize("fontsize", [6, 8])
def test_small_print_is_read_in_gundam(tmp_path: Path, fontsize: float) -> None:
    measures = measure_page(rendered(tmp_path, fontsize))
    choice = choose_mode(measures, VLLM)
    assert (choice.mode, choice.reason.split(" (")[0]) == ("gundam", "small print")


def test_a_ruled_table_is_read_in_gundam_whatever_its_print(tmp_path: Path) -> None:
    measures = measure_page(rendered(tmp_path, 14, table=True))
    assert measures.rules_h >= 10 and measures.rules_v >= 4  # 12 x 5 rules drawn
    choice = choose_mode(measures, VLLM)
    assert choice.mode == "gundam" and choice.reason.startswith("table rules")
    assert choose_mode(measure_page(rendered(tmp_path, 14)), VLLM).mode == "small"  # same print, no rules


def test_a_page_without_text_is_read_in_the_richest_mode() -> None:
    out = io.BytesIO()
    Image.new("RGB", (1191, 1684), "white").save(out, format="PNG")
    blank = PageImage(
        page=1, width=595, height=842, unit="pt", image_png=out.getvalue(), image_size=(1191, 1684), dpi=144
    )
    choice = choose_mode(measure_page(blank), VLLM)
    assert choice.mode == "gundam" and choice.reason.startswith("no measurable text")


def test_base_is_a_step_only_where_the_server_honours_the_modes() -> None:
    """Under vLLM's own processor base costs what gundam does (same tiles); with per-request modes
    it sits between: 10 pt print (11 px) loses too much in small, keeps 6.7 px in base."""
    ten_pt = PageMeasures(long_side_px=1684, glyph_px=11.0, glyphs=3400, ink=0.08, rules_h=0, rules_v=0)
    assert VLLM == ("small", "gundam") and NATIVE == ("small", "base", "gundam")
    assert choose_mode(ten_pt, VLLM).mode == "gundam"
    assert choose_mode(ten_pt, NATIVE).mode == "base"
    dark = ten_pt.model_copy(update={"glyph_px": 30.0, "ink": 0.35})
    assert choose_mode(dark, NATIVE).mode == "gundam" and "dense" in choose_mode(dark, NATIVE).reason


def _sent_size(body: dict) -> tuple[int, int]:
    image, _ = request_image_and_prompt(body)
    with Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1]))) as img:
        return img.size


async def test_engine_sends_the_chosen_mode_and_records_it_and_an_explicit_mode_wins(
    tmp_path: Path, fake_vllm: FakeVllm
) -> None:
    large, small_print = rendered(tmp_path, 24), rendered(tmp_path, 7)
    config = DeepSeekConfig(url=fake_vllm.url, read_timeout_s=30)
    async with build_client(config) as client:
        engine = DeepSeekEngine(config, client)
        auto = OcrOptions(engine="deepseek", mode="auto")
        read_large = await engine.recognize(large, auto)
        read_small_print = await engine.recognize(small_print, auto)
        forced = await engine.recognize(small_print, OcrOptions(engine="deepseek", mode="small"))
    sizes = [_sent_size(body) for body in fake_vllm.requests]
    assert max(sizes[0]) == 640  # small: the page downscaled to 640 px
    assert sizes[1] == small_print.image_size  # gundam: the page as rendered
    assert max(sizes[2]) == 640  # small as requested, though auto would have said gundam
    assert read_large.mode is not None and read_large.mode.mode == "small"
    assert read_small_print.mode is not None and read_small_print.mode.mode == "gundam"
    assert forced.mode is not None and forced.mode.model_dump() == {"mode": "small", "reason": "requested"}
    assert '"mode":{"mode":"small"' in read_large.model_dump_json()  # what the layout JSON keeps
