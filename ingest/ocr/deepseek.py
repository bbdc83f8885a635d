"""DeepSeek-OCR (v1 or OCR-2) through vLLM's OpenAI-compatible `/v1/chat/completions`.

One request per page: the page image as a data URI plus a text prompt, greedy decoding, special
tokens kept (they carry the grounding tags) and vLLM's per-request n-gram repetition blocker.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field

from ingest.errors import BadOcrOption, EngineBadResponse, EngineTimeout, EngineUnavailable
from ingest.layout import Block, PageLayout
from ingest.ocr.engine import OcrOptions, ResolutionMode
from ingest.ocr.grounding import PAGE_BOX, parse_grounding, strip_grounding
from ingest.page import PageImage

log = logging.getLogger(__name__)

PROMPT_PRESETS: dict[str, str] = {
    "document": "<|grounding|>Convert the document to markdown.",
    "free": "Free OCR.",
    "figure": "Parse the figure.",
    "describe": "Describe this image in detail.",
    "locate": "Locate <|ref|>{text}<|/ref|> in the image.",
}
GROUNDED_PRESETS = frozenset({"document", "locate"})

# The n-gram blocker would also ban the `<td>`/`</td>` tokens, which legitimately repeat in tables.
TD_TOKEN_IDS = (128821, 128822)

# Longest image side sent per mode; vLLM's processor then builds its fixed views (docs/ocr-deepseek.md).
MODE_MAX_SIDE_PX: dict[str, int | None] = {
    "tiny": 512,
    "small": 640,
    "base": 1024,
    "large": 1280,
    "gundam": None,
}
# DeepSeek's own (base_size, image_size, crop_mode) per mode, for servers that honour mm_processor_kwargs.
MODE_PROCESSOR_KWARGS: dict[str, dict[str, Any]] = {
    "tiny": {"base_size": 512, "image_size": 512, "crop_mode": False},
    "small": {"base_size": 640, "image_size": 640, "crop_mode": False},
    "base": {"base_size": 1024, "image_size": 1024, "crop_mode": False},
    "large": {"base_size": 1280, "image_size": 1280, "crop_mode": False},
    "gundam": {"base_size": 1024, "image_size": 640, "crop_mode": True},
}
CONTEXT_TOKENS = 8192


class NGramSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ngram_size: int = Field(default=30, gt=0)
    window_size: int = Field(default=90, gt=0)


class DeepSeekConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = "http://127.0.0.1:8000/v1"  # OpenAI base URL, ending in /v1
    model: str = "deepseek-ai/DeepSeek-OCR"  # or deepseek-ai/DeepSeek-OCR-2
    api_key: str | None = None
    # Prompt + vision tokens (at most ~1k in Gundam mode) + output must fit the 8192-token context.
    max_tokens: int = Field(default=7168, gt=0, le=CONTEXT_TOKENS)
    concurrency: int = Field(default=64, gt=0)  # pages in flight; vLLM batches them
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=300.0, gt=0)
    retries: int = Field(default=3, ge=0)  # extra tries on connection errors, 429 and 5xx
    backoff_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=10.0, ge=0)
    ngram: NGramSettings = NGramSettings()
    # The router's retry after a loop: shorter n-grams are banned over a longer window.
    strict_ngram: NGramSettings = NGramSettings(ngram_size=20, window_size=180)
    send_mm_processor_kwargs: bool = False  # only for a vLLM whose processor reads them per request
    # After a service error (unreachable, timeout, 5xx after `retries`): True reads the page with the
    # CPU engine now; False leaves it failed with the reason, for `retry` once the server is back.
    cpu_fallback_on_error: bool = True


class Completion(BaseModel):
    text: str
    finish_reason: str | None
    usage: dict[str, int] | None


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Reply(BaseModel):
    """vLLM's reply; unknown fields are ignored (strict in, lenient out)."""

    choices: list[_Choice] = Field(min_length=1)
    usage: dict[str, Any] | None = None


def resolve_prompt(options: OcrOptions) -> tuple[str, str]:
    """(preset name or "custom", prompt text)."""
    name = options.prompt.strip()
    if name == "locate":
        if not options.locate_text:
            raise BadOcrOption("the `locate` prompt needs locate_text: the text to find on the page")
        return name, PROMPT_PRESETS[name].format(text=options.locate_text)
    if name in PROMPT_PRESETS:
        return name, PROMPT_PRESETS[name]
    if not name:
        raise BadOcrOption(f"empty prompt: use one of {sorted(PROMPT_PRESETS)} or custom text")
    return "custom", options.prompt


def image_for_mode(page: PageImage, mode: ResolutionMode) -> tuple[bytes, str]:
    """The page image to send (bytes, MIME type), downscaled with its aspect kept so boxes still map."""
    limit = MODE_MAX_SIDE_PX[mode]
    if limit is None or max(page.image_size) <= limit:
        return page.image_png, "image/png"
    with Image.open(io.BytesIO(page.image_png)) as img:
        scale = limit / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        out = io.BytesIO()
        img.convert("RGB").resize(size, Image.Resampling.LANCZOS).save(out, format="PNG")
    return out.getvalue(), "image/png"


def build_request(page: PageImage, options: OcrOptions, config: DeepSeekConfig, strict: bool = False) -> dict:
    """The exact JSON body sent to vLLM for one page."""
    _, prompt = resolve_prompt(options)
    data, mime = image_for_mode(page, options.mode)
    ngram = config.strict_ngram if strict else config.ngram
    body: dict[str, Any] = {
        "model": config.model,
        "messages": [
            {
                "role": "user",
                "content": [
                    {
                        "type": "image_url",
                        "image_url": {"url": f"data:{mime};base64,{base64.b64encode(data).decode()}"},
                    },
                    {"type": "text", "text": prompt},
                ],
            }
        ],
        "max_tokens": config.max_tokens,
        "temperature": 0.0,
        "skip_special_tokens": False,
        "vllm_xargs": {
            "ngram_size": ngram.ngram_size,
            "window_size": ngram.window_size,
            "whitelist_token_ids": list(TD_TOKEN_IDS),
        },
    }
    if config.send_mm_processor_kwargs:
        body["mm_processor_kwargs"] = MODE_PROCESSOR_KWARGS[options.mode]
    return body


POOL_SHARD_CONNECTIONS = 16


def build_client(config: DeepSeekConfig) -> httpx.AsyncClient:
    """A client sized for `concurrency` pages in flight, with the configured timeouts."""
    shards = -(-config.concurrency // POOL_SHARD_CONNECTIONS)
    per_shard = -(-config.concurrency // shards)
    limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
    transport = _ShardedTransport([httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)])
    return httpx.AsyncClient(timeout=_timeout(config), transport=transport)


class _ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools behind one client, each request to the least busy one.

    httpcore scans every connection of its pool on each request and response, so one pool of 256
    connections spends milliseconds of CPU per page; pools of 16 keep that flat (bench/ocr_throughput.py).
    """

    def __init__(self, shards: list[httpx.AsyncHTTPTransport]) -> None:
        self._shards = shards
        self._busy = [0] * len(shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[i] += 1
        try:
            response = await self._shards[i].handle_async_request(request)
        except BaseException:
            self._busy[i] -= 1
            raise
        response.stream = _ReleasingStream(response.stream, lambda: self._release(i))
        return response

    def _release(self, i: int) -> None:
        self._busy[i] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


def _timeout(config: DeepSeekConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.read_timeout_s,
        pool=config.read_timeout_s,
    )


class DeepSeekEngine:
    name = "deepseek"

    def __init__(self, config: DeepSeekConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self._client = client
        self._slots = asyncio.Semaphore(config.concurrency)
        self._headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}

    async def recognize(self, page: PageImage, options: OcrOptions, *, strict: bool = False) -> PageLayout:
        """One page; grounded prompts are parsed into blocks, others become one page-level block."""
        preset, _ = resolve_prompt(options)
        # resizing, base64 and parsing are CPU work: off the event loop, which serves HTTP meanwhile
        body = await asyncio.to_thread(build_request, page, options, self.config, strict=strict)
        async with self._slots:
            completion = await self.complete(body)
        grounded = preset in GROUNDED_PRESETS
        return await asyncio.to_thread(layout_from_completion, page, completion, grounded=grounded)

    async def complete(self, body: dict) -> Completion:
        """POST with bounded retries; raises EngineUnavailable, EngineTimeout or EngineBadResponse."""
        url = self.config.url.rstrip("/") + "/chat/completions"
        content = await asyncio.to_thread(json.dumps, body)  # megabytes of base64 image
        headers = self._headers | {"Content-Type": "application/json"}
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            try:
                response = await self._client.post(
                    url, content=content, headers=headers, timeout=_timeout(self.config)
                )
            # Messages reach clients (page quality reasons): the URL and exception text go to the log.
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
                # A page that takes longer than read_timeout_s would take as long again: no retry.
                log.warning("DeepSeek-OCR at %s did not answer within the timeout: %r", url, exc)
                raise EngineTimeout(
                    "DeepSeek-OCR did not answer within the timeout (deepseek.read_timeout_s)"
                ) from exc
            except httpx.TransportError as exc:
                if last:
                    log.warning("cannot reach DeepSeek-OCR at %s after %d tries: %r", url, attempt + 1, exc)
                    raise EngineUnavailable(
                        f"cannot reach DeepSeek-OCR after {attempt + 1} tries; "
                        "check that vLLM is running and the deepseek.url setting"
                    ) from exc
                await asyncio.sleep(self._backoff(attempt, None))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if last:
                    log.warning("DeepSeek-OCR answered HTTP %d: %s", response.status_code, _snippet(response))
                    raise EngineBadResponse(
                        f"DeepSeek-OCR answered HTTP {response.status_code} after {attempt + 1} tries"
                    )
                await asyncio.sleep(self._backoff(attempt, response.headers.get("retry-after")))
                continue
            if response.status_code >= 400:
                log.warning(
                    "DeepSeek-OCR refused a request: HTTP %d: %s", response.status_code, _snippet(response)
                )
                raise EngineBadResponse(f"DeepSeek-OCR refused the request: HTTP {response.status_code}")
            return _parse_reply(response)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = self.config.backoff_s * 2**attempt
        if retry_after is not None:
            with contextlib.suppress(ValueError):  # an HTTP date: keep our own backoff
                delay = max(delay, float(retry_after))
        return min(delay, self.config.backoff_max_s)


def _parse_reply(response: httpx.Response) -> Completion:
    try:
        reply = _Reply.model_validate_json(response.content)
    except ValueError as exc:
        log.warning("DeepSeek-OCR sent a reply that is not a chat completion: %s", _snippet(response))
        raise EngineBadResponse("DeepSeek-OCR sent a reply that is not a chat completion") from exc
    choice = reply.choices[0]
    usage = {k: v for k, v in (reply.usage or {}).items() if isinstance(v, int)}
    return Completion(
        text=choice.message.content or "", finish_reason=choice.finish_reason, usage=usage or None
    )


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"


def layout_from_completion(page: PageImage, completion: Completion, *, grounded: bool) -> PageLayout:
    """Parse a completion into the page's layout; quality is judged later by the router's gate."""
    if grounded:
        blocks = parse_grounding(completion.text).blocks
    else:
        blocks = page_level_blocks(strip_grounding(completion.text))
    return page.layout(
        DeepSeekEngine.name,
        blocks=blocks,
        raw=completion.text,
        finish_reason=completion.finish_reason,
        usage=completion.usage,
    )


def page_level_blocks(text: str) -> list[Block]:
    """Ungrounded output (Free OCR, describe, figure, custom) as one text block covering the page."""
    text = text.strip()
    if not text:
        return []
    return [Block(kind="text", markdown=text, bbox=PAGE_BOX, label="page")]
