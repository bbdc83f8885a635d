"""The second vision model (engine `vlm`, MiniCPM-V 2.6 on vLLM by default): the OpenAI vision chat
request it sends, and its plain-text reply placed on the page with RapidOCR's line boxes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ingest.layout import BBox, Line
from ingest.ocr.chat_server import build_client
from ingest.ocr.engine import OcrOptions
from ingest.ocr.grounding import PAGE_BOX
from ingest.ocr.rapidocr import RapidOcrEngine
from ingest.ocr.router import OcrRouter
from ingest.ocr.vlm import DEFAULT_PROMPT, VlmConfig, VlmEngine, place_text
from tests.fakes.vllm_server import FakeVllm, Reply, request_image_and_prompt
from tests.support.page_kinds import SCREEN, SCREEN_SIZE, settings_window


def drawn_box(text: str) -> BBox:
    (x, y), size = next((pos, size) for t, pos, size in SCREEN if t == text)
    return BBox.from_pixels((x, y - size, x + 0.6 * size * len(text), y + 0.3 * size), SCREEN_SIZE)


def test_reply_lines_take_the_boxes_of_the_detected_lines_they_match() -> None:
    a, b = BBox(x0=0.1, y0=0.2, x1=0.6, y1=0.24), BBox(x0=0.1, y0=0.3, x1=0.7, y1=0.34)
    detected = [
        Line(text="Display narne: Ada Lovelace", bbox=a),
        Line(text="Storage used 42.5 GB of 1OO GB", bbox=b),
    ]
    reply = "Display name: Ada Lovelace\nStorage used: 42.5 GB of 100 GB\n\nA chart of weekly usage"
    placed, unplaced = place_text(reply, detected)
    assert [line.text for line in placed.lines] == [
        "Display name: Ada Lovelace",
        "Storage used: 42.5 GB of 100 GB",
    ]
    assert [line.bbox for line in placed.lines] == [a, b] and placed.bbox == BBox.union([a, b])
    assert (unplaced.label, unplaced.bbox, unplaced.lines) == ("unplaced", PAGE_BOX, [])
    assert unplaced.markdown == "A chart of weekly usage"  # the model's words are kept, only not located


@pytest.fixture(scope="module")
def rapidocr() -> RapidOcrEngine:
    return RapidOcrEngine()


@pytest.fixture
def fake_minicpm() -> Iterator[FakeVllm]:
    """vLLM serving MiniCPM-V 2.6: the same OpenAI server, which refuses any other model name."""
    with FakeVllm(model="openbmb/MiniCPM-V-2_6") as fake:
        yield fake


async def test_engine_sends_the_openai_vision_shape_and_locates_the_reply(
    fake_minicpm: FakeVllm, rapidocr: RapidOcrEngine
) -> None:
    reply = "# Account settings\n\n" + "\n".join(text for text, _, _ in SCREEN[1:])
    fake_minicpm.script(Reply(content=reply))
    config = VlmConfig(url=fake_minicpm.url, read_timeout_s=30)
    async with build_client(config) as client:
        layout = await VlmEngine(config, client, rapidocr).recognize(
            settings_window(), OcrOptions(engine="vlm")
        )
    (body,) = fake_minicpm.requests
    assert set(body) == {"model", "messages", "max_tokens", "temperature"}  # no DeepSeek-only fields
    assert body["model"] == "openbmb/MiniCPM-V-2_6" and body["temperature"] == 0.0
    image, prompt = request_image_and_prompt(body)
    assert image.startswith("data:image/png;base64,") and prompt == DEFAULT_PROMPT

    assert layout.engine == "vlm" and layout.raw == reply
    heading, body_block = layout.blocks
    assert (heading.kind, heading.level, heading.markdown) == ("heading", 1, "Account settings")
    assert heading.bbox.iou(drawn_box("Account settings")) > 0.3
    assert [line.text for line in body_block.lines] == [text for text, _, _ in SCREEN[1:]]
    for line in body_block.lines:  # each line of the model's reply sits where that text was drawn
        assert line.bbox.iou(drawn_box(line.text)) > 0.3, line


async def test_a_looping_reply_falls_back_to_the_cpu_engine(
    fake_minicpm: FakeVllm, rapidocr: RapidOcrEngine
) -> None:
    fake_minicpm.script(Reply(content="Storage used: 42.5 GB of 100 GB\n" * 60, finish_reason="length"))
    config = VlmConfig(url=fake_minicpm.url, read_timeout_s=30)
    async with build_client(config) as client:
        router = OcrRouter({"vlm": VlmEngine(config, client, rapidocr), "rapidocr": rapidocr})
        layout = await router.recognize(settings_window(), OcrOptions(engine="vlm"))
    assert layout.engine == "rapidocr" and layout.quality.status == "fallback"
    assert layout.quality.attempts[0].startswith("vlm: ") and "max_tokens" in layout.quality.attempts[0]
    assert layout.quality.attempts[-1] == "rapidocr: ok"
