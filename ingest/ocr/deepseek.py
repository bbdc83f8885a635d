"""DeepSeek-OCR (v1 or OCR-2) through vLLM's OpenAI-compatible `/v1/chat/completions`.

One request per page: the page image as a data URI plus a text prompt, greedy decoding, special
tokens kept (they carry the grounding tags) and vLLM's per-request n-gram repetition blocker.
"""

from __future__ import annotations

import asyncio
import base64
import logging
from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ingest.errors import BadOcrOption
from ingest.layout import Block, ModeChoice, PageLayout
from ingest.ocr.chat_server import ChatServer, ChatServerConfig, Completion
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

# DeepSeek's own (base_size, image_size, crop_mode) per mode, for servers that honour mm_processor_kwargs.
MODE_PROCESSOR_KWARGS: dict[str, dict[str, Any]] = {
    "tiny": {"base_size": 512, "image_size": 512, "crop_mode": False},
    "small": {"base_size": 640, "image_size": 640, "crop_mode": False},
    "base": {"base_size": 1024, "image_size": 1024, "crop_mode": False},
    "large": {"base_size": 1280, "image_size": 1280, "crop_mode": False},
    "gundam": {"base_size": 1024, "image_size": 640, "crop_mode": True},
}
CONTEXT_TOKENS = 8192  # DeepSeek-OCR's context; vLLM's --max-model-len may be set lower
# Room kept for the prompt and the vision tokens: a Gundam page is at most ~920 of them under vLLM.
PROMPT_RESERVE_TOKENS = 1024


class NGramSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ngram_size: int = Field(default=30, gt=0)
    window_size: int = Field(default=90, gt=0)


class DeepSeekConfig(ChatServerConfig):
    model: str = "deepseek-ai/DeepSeek-OCR"  # or deepseek-ai/DeepSeek-OCR-2
    # Prompt + vision tokens (at most ~1k in Gundam mode) + output must fit the server's context.
    max_tokens: int = Field(default=7168, gt=0)
    # What the vLLM server was started with (--max-model-len, --max-num-seqs), so that what we ask
    # for fits: max_tokens + PROMPT_RESERVE_TOKENS <= server_max_model_len, and, when the server's
    # sequences are given, concurrency <= server_max_num_seqs (a small card has no KV cache to spare).
    server_max_model_len: int = Field(default=CONTEXT_TOKENS, gt=PROMPT_RESERVE_TOKENS, le=CONTEXT_TOKENS)
    server_max_num_seqs: int | None = Field(default=None, gt=0)
    ngram: NGramSettings = NGramSettings()
    # The router's retry after a loop: shorter n-grams are banned over a longer window.
    strict_ngram: NGramSettings = NGramSettings(ngram_size=20, window_size=180)
    send_mm_processor_kwargs: bool = False  # only for a vLLM whose processor reads them per request
    # After a service error (unreachable, timeout, 5xx after `retries`): True reads the page with the
    # CPU engine now; False leaves it failed with the reason, for `retry` once the server is back.
    cpu_fallback_on_error: bool = True

    @model_validator(mode="after")
    def _fits_server(self) -> DeepSeekConfig:
        room = self.server_max_model_len - PROMPT_RESERVE_TOKENS
        if self.max_tokens > room:
            raise ValueError(
                f"deepseek.max_tokens {self.max_tokens} does not fit the server's context: with "
                f"server_max_model_len {self.server_max_model_len} (vLLM --max-model-len) at most {room} "
                f"tokens are left after the prompt and the page image; lower max_tokens to {room}"
            )
        if self.server_max_num_seqs is not None and self.concurrency > self.server_max_num_seqs:
            raise ValueError(
                f"deepseek.concurrency {self.concurrency} is above server_max_num_seqs "
                f"{self.server_max_num_seqs} (vLLM --max-num-seqs): set concurrency to at most "
                f"{self.server_max_num_seqs}, or start the server with more sequences"
            )
        return self


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
    """The page image to send (bytes, MIME type), downscaled with its aspect kept so boxes still map,
    in the format it was rendered in (JPEG where rendered for this server)."""
    import cv2  # not loaded to read settings

    from ingest.ocr.mode_choice import MODE_MAX_SIDE_PX
    from ingest.preprocess import decode_png, encode_image

    limit = MODE_MAX_SIDE_PX[mode]
    if limit is None or max(page.image_size) <= limit:
        return page.image_png, page.mime
    img = decode_png(page.image_png)
    scale = limit / max(img.shape[:2])
    size = (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale)))
    return encode_image(cv2.resize(img, size, interpolation=cv2.INTER_AREA), page.mime), page.mime


def auto_modes(config: DeepSeekConfig) -> tuple[ResolutionMode, ...]:
    """The modes `auto` chooses from, cheapest first. vLLM's own processor gives every image over
    640 px the same tiles, so there base costs what gundam does with fewer pixels: only small and
    gundam differ in cost. A server that honours mm_processor_kwargs has base in between."""
    return ("small", "base", "gundam") if config.send_mm_processor_kwargs else ("small", "gundam")


def build_request(page: PageImage, options: OcrOptions, config: DeepSeekConfig, strict: bool = False) -> dict:
    """The exact JSON body sent to vLLM for one page (its mode already chosen, never `auto`)."""
    _, prompt = resolve_prompt(options)
    if options.mode == "auto":
        raise BadOcrOption("mode auto is chosen per page (DeepSeekEngine.choose_mode) before the request")
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


class DeepSeekEngine:
    name = "deepseek"

    def __init__(self, config: DeepSeekConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.server = ChatServer(config, client, "DeepSeek-OCR", "deepseek")
        self._slots = asyncio.Semaphore(config.concurrency)

    async def recognize(self, page: PageImage, options: OcrOptions, *, strict: bool = False) -> PageLayout:
        """One page; grounded prompts are parsed into blocks, others become one page-level block."""
        preset, _ = resolve_prompt(options)
        choice = await self.choose_mode(page, options)
        # resizing, base64 and parsing are CPU work: off the event loop, which serves HTTP meanwhile
        body = await asyncio.to_thread(
            build_request, page, options.model_copy(update={"mode": choice.mode}), self.config, strict=strict
        )
        async with self._slots:
            completion = await self.server.complete(body)
        grounded = preset in GROUNDED_PRESETS
        layout = await asyncio.to_thread(layout_from_completion, page, completion, grounded=grounded)
        layout.mode = choice
        return layout

    async def choose_mode(self, page: PageImage, options: OcrOptions) -> ModeChoice:
        """The requested mode, or with `auto` the cheapest that reads this page (ingest.ocr.mode_choice)."""
        if options.mode != "auto":
            return ModeChoice(mode=options.mode, reason="requested")
        from ingest.ocr.mode_choice import choose_mode, measure_page  # OpenCV: not loaded to read settings

        measures = await asyncio.to_thread(measure_page, page)
        return choose_mode(measures, auto_modes(self.config))


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
