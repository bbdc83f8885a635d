"""The DeepSeek-OCR client against a fake vLLM server on loopback: what we send, retries, errors."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
from collections.abc import AsyncIterator

import httpx
import pytest
from PIL import Image

from ingest.errors import BadOcrOption, EngineBadResponse, EngineTimeout, EngineUnavailable
from ingest.ocr.chat_server import build_client
from ingest.ocr.deepseek import PROMPT_PRESETS, DeepSeekConfig, DeepSeekEngine, build_request
from ingest.ocr.engine import OcrOptions
from ingest.page import PageImage
from tests.fakes.vllm_server import FakeVllm, request_image_and_prompt


def make_page(size_px: tuple[int, int] = (612, 792), page: int = 1) -> PageImage:
    out = io.BytesIO()
    Image.new("RGB", size_px, "white").save(out, format="PNG")
    return PageImage(
        page=page, width=612, height=792, unit="pt", image_png=out.getvalue(), image_size=size_px, dpi=72
    )


def fast_config(url: str, **overrides: object) -> DeepSeekConfig:
    values: dict[str, object] = {"url": url, "backoff_s": 0.01, "backoff_max_s": 0.05, "read_timeout_s": 10.0}
    return DeepSeekConfig.model_validate(values | overrides)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client(DeepSeekConfig()) as c:
        yield c


def _decoded_size(data_uri: str) -> tuple[int, int]:
    header, b64 = data_uri.split(",", 1)
    assert header == "data:image/png;base64"
    with Image.open(io.BytesIO(base64.b64decode(b64))) as img:
        return img.size


async def test_request_body_matches_the_vllm_recipe_field_by_field(fake_vllm: FakeVllm, client) -> None:
    page = make_page()
    engine = DeepSeekEngine(fast_config(fake_vllm.url, max_tokens=4096), client)
    await engine.recognize(page, OcrOptions())
    (body,) = fake_vllm.requests
    assert set(body) == {
        "model",
        "messages",
        "max_tokens",
        "temperature",
        "skip_special_tokens",
        "vllm_xargs",
    }
    assert body["model"] == "deepseek-ai/DeepSeek-OCR"
    assert body["temperature"] == 0.0 and body["skip_special_tokens"] is False and body["max_tokens"] == 4096
    assert body["vllm_xargs"] == {
        "ngram_size": 30,
        "window_size": 90,
        "whitelist_token_ids": [128821, 128822],
    }
    (message,) = body["messages"]
    assert message["role"] == "user"
    assert [p["type"] for p in message["content"]] == ["image_url", "text"]
    image, prompt = request_image_and_prompt(body)
    assert prompt == "<|grounding|>Convert the document to markdown."
    assert image == "data:image/png;base64," + base64.b64encode(page.image_png).decode()


async def test_reply_is_parsed_with_finish_reason_usage_and_raw_kept(fake_vllm: FakeVllm, client) -> None:
    layout = await DeepSeekEngine(fast_config(fake_vllm.url), client).recognize(
        make_page(page=3), OcrOptions()
    )
    assert layout.page == 3 and layout.engine == "deepseek" and layout.finish_reason == "stop"
    assert layout.usage is not None and layout.usage["prompt_tokens"] > 0
    assert layout.raw == fake_vllm.replies[0]
    assert layout.blocks and all(b.label for b in layout.blocks if b.order > 0)


@pytest.mark.parametrize(("preset", "text"), [(k, v) for k, v in PROMPT_PRESETS.items() if k != "locate"])
def test_each_preset_sends_its_prompt(preset: str, text: str) -> None:
    body = build_request(make_page(), OcrOptions(prompt=preset), DeepSeekConfig())
    assert request_image_and_prompt(body)[1] == text


def test_locate_and_custom_prompts() -> None:
    locate = build_request(make_page(), OcrOptions(prompt="locate", locate_text="Total"), DeepSeekConfig())
    assert request_image_and_prompt(locate)[1] == "Locate <|ref|>Total<|/ref|> in the image."
    custom = build_request(make_page(), OcrOptions(prompt="List every date."), DeepSeekConfig())
    assert request_image_and_prompt(custom)[1] == "List every date."
    with pytest.raises(BadOcrOption):
        build_request(make_page(), OcrOptions(prompt="locate"), DeepSeekConfig())


def test_model_name_and_strict_ngram_settings_are_configurable() -> None:
    config = DeepSeekConfig(model="deepseek-ai/DeepSeek-OCR-2")
    body = build_request(make_page(), OcrOptions(), config, strict=True)
    assert body["model"] == "deepseek-ai/DeepSeek-OCR-2"
    assert body["vllm_xargs"]["ngram_size"] < 30 and body["vllm_xargs"]["window_size"] >= 90


@pytest.mark.parametrize(
    ("mode", "longest"), [("tiny", 512), ("small", 640), ("base", 1024), ("large", 1280)]
)
def test_modes_downscale_the_image_keeping_its_aspect(mode: str, longest: int) -> None:
    body = build_request(make_page((1700, 2200)), OcrOptions(mode=mode), DeepSeekConfig())  # type: ignore[arg-type]
    w, h = _decoded_size(request_image_and_prompt(body)[0])
    assert max(w, h) == longest and w / h == pytest.approx(1700 / 2200, abs=0.01)
    assert "mm_processor_kwargs" not in body


def test_gundam_sends_the_page_as_rendered_and_kwargs_only_when_enabled() -> None:
    page = make_page((1700, 2200))
    body = build_request(page, OcrOptions(mode="gundam"), DeepSeekConfig(send_mm_processor_kwargs=True))
    assert _decoded_size(request_image_and_prompt(body)[0]) == (1700, 2200)
    assert body["mm_processor_kwargs"] == {"base_size": 1024, "image_size": 640, "crop_mode": True}


async def test_500_and_429_are_retried_then_succeed(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.script("500", "429", "503")
    layout = await DeepSeekEngine(fast_config(fake_vllm.url), client).recognize(make_page(), OcrOptions())
    assert len(fake_vllm.requests) == 4 and layout.blocks


async def test_5xx_after_every_retry_raises_bad_response(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.script("500", "500", "500")
    with pytest.raises(EngineBadResponse, match="HTTP 500"):
        await DeepSeekEngine(fast_config(fake_vllm.url, retries=2), client).recognize(
            make_page(), OcrOptions()
        )
    assert len(fake_vllm.requests) == 3


async def test_other_4xx_is_not_retried(
    fake_vllm: FakeVllm, client, caplog: pytest.LogCaptureFixture
) -> None:
    engine = DeepSeekEngine(fast_config(fake_vllm.url, model="no-such-model"), client)
    with pytest.raises(EngineBadResponse, match="refused the request: HTTP 404$"):
        await engine.recognize(make_page(), OcrOptions())
    assert len(fake_vllm.requests) == 1
    assert "does not exist" in caplog.text  # vLLM's reason goes to the log; clients see the status


async def test_dropped_connection_is_retried(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.script("drop")
    layout = await DeepSeekEngine(fast_config(fake_vllm.url), client).recognize(make_page(), OcrOptions())
    assert len(fake_vllm.requests) == 2 and layout.blocks


async def test_malformed_json_raises_bad_response_without_retry(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.script("malformed")
    with pytest.raises(EngineBadResponse, match="not a chat completion"):
        await DeepSeekEngine(fast_config(fake_vllm.url), client).recognize(make_page(), OcrOptions())
    assert len(fake_vllm.requests) == 1


async def test_read_timeout_raises_engine_timeout(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.script("hang")
    engine = DeepSeekEngine(fast_config(fake_vllm.url, read_timeout_s=0.3), client)
    with pytest.raises(EngineTimeout):
        await engine.recognize(make_page(), OcrOptions())
    assert len(fake_vllm.requests) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_refused_connection_is_retried_until_the_server_comes_up(client) -> None:
    port = _free_port()
    config = fast_config(f"http://127.0.0.1:{port}/v1", retries=6, backoff_s=0.2, backoff_max_s=0.4)
    task = asyncio.create_task(DeepSeekEngine(config, client).recognize(make_page(), OcrOptions()))
    await asyncio.sleep(0.3)
    with FakeVllm(port=port) as fake:
        layout = await task
        assert len(fake.requests) == 1 and layout.blocks


async def test_no_server_raises_engine_unavailable_after_retries(client) -> None:
    config = fast_config(f"http://127.0.0.1:{_free_port()}/v1", retries=2)
    with pytest.raises(EngineUnavailable, match="after 3 tries"):
        await DeepSeekEngine(config, client).recognize(make_page(), OcrOptions())


async def test_pages_in_flight_are_bounded_by_the_concurrency_setting(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.capacity(slots=64, service_s=0.05)
    engine = DeepSeekEngine(fast_config(fake_vllm.url, concurrency=5), client)
    await asyncio.gather(*(engine.recognize(make_page(page=n), OcrOptions()) for n in range(1, 21)))
    assert len(fake_vllm.requests) == 20 and fake_vllm.max_in_flight == 5


async def test_sharded_pools_release_every_slot_after_success_and_failure(fake_vllm: FakeVllm) -> None:
    config = fast_config(fake_vllm.url, concurrency=40, retries=0)
    fake_vllm.script(*(["500"] * 5))
    async with build_client(config) as client:
        transport = client._transport
        engine = DeepSeekEngine(config, client)
        results = await asyncio.gather(
            *(engine.recognize(make_page(), OcrOptions()) for _ in range(30)), return_exceptions=True
        )
        assert sum(isinstance(r, EngineBadResponse) for r in results) == 5
        assert transport._busy == [0, 0, 0]  # type: ignore[attr-defined]
    assert len(fake_vllm.requests) == 30
