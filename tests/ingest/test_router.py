"""The OCR router: engine choice, the quality gate's retry and fallback chain, never raising for a page."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from ingest.errors import BadOcrOption, EngineUnavailable
from ingest.layout import BBox, Block, PageLayout
from ingest.ocr.chat_server import build_client
from ingest.ocr.deepseek import DeepSeekConfig, DeepSeekEngine
from ingest.ocr.engine import Engine, OcrOptions
from ingest.ocr.router import OcrRouter, choose_engine, plan_attempts
from ingest.page import PageImage
from tests.fakes.vllm_server import FakeVllm, Reply, request_image_and_prompt
from tests.ingest.test_deepseek import fast_config, make_page


class FakeEngine:
    """Answers every page with one text block, or raises `error` when given."""

    def __init__(self, name: str, error: Exception | None = None) -> None:
        self.name, self.error, self.calls = name, error, 0

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        self.calls += 1
        if self.error is not None:
            raise self.error
        block = Block(kind="text", markdown=f"{self.name} text", bbox=BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.2))
        return PageLayout(
            page=page.page,
            width=612,
            height=792,
            image_size=page.image_size,
            engine=self.name,
            blocks=[block],
        )


def _text_page() -> PageImage:
    return make_page().model_copy(update={"text_chars": 2400})


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with build_client(DeepSeekConfig()) as c:
        yield c


@pytest.fixture
def rapidocr() -> FakeEngine:
    return FakeEngine("rapidocr")


def _router(fake_vllm: FakeVllm, client: httpx.AsyncClient, *others: FakeEngine, **cfg: object) -> OcrRouter:
    engines: dict[str, Engine] = {e.name: e for e in others}
    config = fast_config(fake_vllm.url, **cfg)
    engines["deepseek"] = DeepSeekEngine(config, client)
    return OcrRouter(engines, cpu_fallback_on_error=config.cpu_fallback_on_error)


def _has_text(page: PageImage) -> bool:
    return page.text_chars >= 50


def test_auto_prefers_a_real_text_layer_then_deepseek_then_the_cpu_engine() -> None:
    scan, text, auto = make_page(), _text_page(), OcrOptions()
    everything = {"textlayer", "deepseek", "rapidocr"}
    assert choose_engine(text, auto, everything, _has_text) == "textlayer"
    assert choose_engine(scan, auto, everything, _has_text) == "deepseek"
    assert choose_engine(scan, auto, {"textlayer", "rapidocr"}, _has_text) == "rapidocr"
    assert choose_engine(text, auto, {"deepseek", "rapidocr"}, _has_text) == "deepseek"


def test_default_text_rule_is_the_text_layer_engines(testdata: Path) -> None:
    pdf = testdata / "docling-testdata/pdf/sources/2305.03393v1-pg9.pdf"
    born_digital = _text_page().model_copy(update={"source": pdf})
    assert choose_engine(born_digital, OcrOptions(), {"textlayer", "rapidocr"}) == "textlayer"
    assert choose_engine(make_page(), OcrOptions(), {"textlayer", "rapidocr"}) == "rapidocr"


def test_an_explicit_engine_is_used_or_refused_with_the_configured_names() -> None:
    assert choose_engine(_text_page(), OcrOptions(engine="rapidocr"), {"textlayer", "rapidocr"}) == "rapidocr"
    with pytest.raises(BadOcrOption, match=r"\['rapidocr', 'textlayer'\]"):
        choose_engine(make_page(), OcrOptions(engine="deepseek"), {"textlayer", "rapidocr"})


def test_plan_for_a_document_page_and_for_other_prompts() -> None:
    engines = {"deepseek", "rapidocr"}
    doc = [a.label for a in plan_attempts("deepseek", OcrOptions(), engines)]
    assert doc == ["deepseek", "deepseek(strict)", "deepseek(free)", "rapidocr"]
    describe = [a.label for a in plan_attempts("deepseek", OcrOptions(prompt="describe"), engines)]
    assert describe == ["deepseek", "deepseek(strict)", "rapidocr"]


async def test_textlayer_page_never_calls_deepseek(fake_vllm: FakeVllm, client) -> None:
    router = _router(fake_vllm, client, FakeEngine("textlayer"), FakeEngine("rapidocr"))
    router._has_text = _has_text
    layout = await router.recognize(_text_page(), OcrOptions())
    assert layout.engine == "textlayer" and layout.quality.status == "ok" and fake_vllm.requests == []


async def test_good_deepseek_page_passes_first_time(
    fake_vllm: FakeVllm, client, rapidocr: FakeEngine
) -> None:
    layout = await _router(fake_vllm, client, rapidocr).recognize(make_page(), OcrOptions())
    assert layout.engine == "deepseek" and layout.quality.status == "ok"
    assert layout.quality.attempts == ["deepseek: ok"] and layout.quality.reason is None
    assert rapidocr.calls == 0


async def test_loop_is_retried_with_stronger_ngram_settings(fake_vllm: FakeVllm, client, rapidocr) -> None:
    fake_vllm.script("loop")
    layout = await _router(fake_vllm, client, rapidocr).recognize(make_page(), OcrOptions())
    assert layout.quality.status == "retried" and layout.engine == "deepseek"
    assert (layout.quality.reason or "").startswith("deepseek: truncated")
    assert [r["vllm_xargs"]["ngram_size"] for r in fake_vllm.requests] == [30, 20]


async def test_truncation_goes_strict_then_free_ocr_with_a_page_box(
    fake_vllm: FakeVllm, client, rapidocr
) -> None:
    fake_vllm.script(
        "length", Reply(content="<|ref|>text<|/ref|><|det|>[[1, 1, 9, 9]]<|/det|>\n" * 3 + "<|ref|>te")
    )
    layout = await _router(fake_vllm, client, rapidocr).recognize(make_page(), OcrOptions())
    prompts = [request_image_and_prompt(r)[1] for r in fake_vllm.requests]
    assert prompts[-1] == "Free OCR." and len(prompts) == 3
    assert layout.quality.status == "fallback" and len(layout.quality.attempts) == 3
    assert "finish_reason length" in (layout.quality.reason or "")
    (block,) = layout.blocks
    assert block.bbox == BBox(x0=0, y0=0, x1=1, y1=1) and "<|ref|>" not in block.markdown


async def test_every_deepseek_attempt_failing_falls_back_to_the_cpu_engine(
    fake_vllm: FakeVllm, client, rapidocr
):
    fake_vllm.script("length", "loop", "length")
    layout = await _router(fake_vllm, client, rapidocr).recognize(make_page(), OcrOptions())
    assert layout.engine == "rapidocr" and layout.quality.status == "fallback"
    assert [a.split(":")[0] for a in layout.quality.attempts] == [
        "deepseek",
        "deepseek(strict)",
        "deepseek(free)",
        "rapidocr",
    ]
    assert layout.quality.attempts[-1] == "rapidocr: ok"


async def test_service_errors_skip_the_retries_and_fall_back(fake_vllm: FakeVllm, client, rapidocr) -> None:
    fake_vllm.script("500", "500")
    layout = await _router(fake_vllm, client, rapidocr, retries=1).recognize(make_page(), OcrOptions())
    assert layout.engine == "rapidocr" and layout.quality.status == "fallback"
    assert layout.quality.attempts[0].startswith("deepseek: engine_bad_response")
    assert len(fake_vllm.requests) == 2  # one try + one retry, then no strict/free attempts


async def test_without_cpu_fallback_a_500_storm_leaves_the_page_failed_with_its_reason(
    fake_vllm: FakeVllm, client, rapidocr
) -> None:
    fake_vllm.script("500", "500")
    router = _router(fake_vllm, client, rapidocr, retries=1, cpu_fallback_on_error=False)
    layout = await router.recognize(make_page(page=4), OcrOptions())
    assert layout.page == 4 and layout.quality.status == "failed" and layout.blocks == []
    assert layout.engine == "deepseek" and rapidocr.calls == 0
    assert (layout.quality.reason or "").startswith("deepseek: engine_bad_response")
    assert "500" in (layout.quality.reason or "")
    assert len(layout.quality.attempts) == 1 and len(fake_vllm.requests) == 2


async def test_without_cpu_fallback_an_unreachable_server_leaves_the_page_failed(
    client: httpx.AsyncClient, rapidocr: FakeEngine
) -> None:
    config = fast_config(f"http://127.0.0.1:{_closed_port()}/v1", retries=0, cpu_fallback_on_error=False)
    engines: dict[str, Engine] = {"deepseek": DeepSeekEngine(config, client), "rapidocr": rapidocr}
    layout = await OcrRouter(engines, cpu_fallback_on_error=False).recognize(make_page(), OcrOptions())
    assert layout.quality.status == "failed" and rapidocr.calls == 0
    assert (layout.quality.reason or "").startswith("deepseek: engine_unavailable")


async def test_without_cpu_fallback_quality_failures_still_go_free_ocr_then_cpu(
    fake_vllm: FakeVllm, client, rapidocr
) -> None:
    fake_vllm.script("length", "loop", "length")
    router = _router(fake_vllm, client, rapidocr, cpu_fallback_on_error=False)
    layout = await router.recognize(make_page(), OcrOptions())
    assert layout.engine == "rapidocr" and layout.quality.status == "fallback" and rapidocr.calls == 1
    assert request_image_and_prompt(fake_vllm.requests[-1])[1] == "Free OCR."


async def test_without_cpu_fallback_a_storm_after_a_loop_fails_the_page_on_the_service_error(
    fake_vllm: FakeVllm, client, rapidocr
) -> None:
    fake_vllm.script("loop", "500")
    router = _router(fake_vllm, client, rapidocr, retries=0, cpu_fallback_on_error=False)
    layout = await router.recognize(make_page(), OcrOptions())
    assert layout.quality.status == "failed" and rapidocr.calls == 0
    assert (layout.quality.reason or "").startswith("deepseek(strict): engine_bad_response")
    assert layout.quality.attempts[0].startswith("deepseek: ") and "<|ref|>" in layout.raw


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_when_everything_fails_the_page_comes_back_failed(fake_vllm: FakeVllm, client) -> None:
    fake_vllm.script("loop", "loop", "loop")
    broken = FakeEngine("rapidocr", error=RuntimeError("onnxruntime exploded"))
    layout = await _router(fake_vllm, client, broken).recognize(make_page(page=7), OcrOptions())
    assert layout.page == 7 and layout.quality.status == "failed" and layout.blocks == []
    assert (layout.quality.reason or "").startswith("deepseek:")
    assert layout.quality.attempts[-1] == "rapidocr: RuntimeError: onnxruntime exploded"
    assert "<|ref|>" in layout.raw


async def test_non_document_prompts_are_not_gated_for_structure(
    fake_vllm: FakeVllm, client, rapidocr
) -> None:
    layout = await _router(fake_vllm, client, rapidocr).recognize(make_page(), OcrOptions(prompt="describe"))
    assert (
        layout.quality.status == "ok"
        and len(layout.blocks) == 1
        and "<|det|>" not in layout.blocks[0].markdown
    )


async def test_non_document_prompts_are_still_gated_for_length(fake_vllm: FakeVllm, client, rapidocr) -> None:
    fake_vllm.script("length", "length")
    layout = await _router(fake_vllm, client, rapidocr).recognize(make_page(), OcrOptions(prompt="free"))
    assert layout.engine == "rapidocr"
    assert all(request_image_and_prompt(r)[1] == "Free OCR." for r in fake_vllm.requests)


async def test_failing_text_layer_falls_back_to_deepseek(fake_vllm: FakeVllm, client, rapidocr) -> None:
    broken = FakeEngine("textlayer", error=EngineUnavailable("text layer unreadable"))
    router = _router(fake_vllm, client, broken, rapidocr)
    router._has_text = _has_text
    layout = await router.recognize(_text_page(), OcrOptions())
    assert layout.engine == "deepseek" and layout.quality.status == "fallback"


async def test_an_unconfigured_engine_gives_a_failed_page_not_an_exception(rapidocr) -> None:
    layout = await OcrRouter({"rapidocr": rapidocr}).recognize(make_page(), OcrOptions(engine="deepseek"))
    assert layout.quality.status == "failed" and "not configured" in (layout.quality.reason or "")


async def test_a_scanned_pdf_page_goes_to_the_server_as_jpeg_close_to_the_lossless_render(
    fake_vllm: FakeVllm, client, tmp_path: Path
) -> None:
    """Pages sent over HTTP are rendered as JPEG (10x cheaper to encode than PNG); local engines get PNG."""
    import base64

    import numpy as np
    import pymupdf

    from ingest.preprocess import decode_png
    from ingest.sources import open_source, with_pixels

    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    page.insert_text((30, 80), "Termination for convenience", fontsize=16)
    path = tmp_path / "scan.pdf"
    doc.save(path)
    with open_source(path) as src:
        bare = src.render_page(1, pixels=False)
    await _router(fake_vllm, client).recognize(bare, OcrOptions(engine="deepseek"))
    image, _ = request_image_and_prompt(fake_vllm.requests[0])
    header, b64 = image.split(",", 1)
    assert header == "data:image/jpeg;base64"
    sent = decode_png(base64.b64decode(b64))
    lossless = decode_png(with_pixels(bare).image_png)
    assert sent.shape == lossless.shape and sent.ndim == 2  # the grey page in one channel, same pixels
    assert np.abs(sent.astype(int) - lossless.astype(int)).mean() < 2.0
    assert with_pixels(bare).mime == "image/png" and with_pixels(bare, "jpeg").mime == "image/jpeg"
