"""A general vision-language model on vLLM's OpenAI server (MiniCPM-V 2.6 by default) for pages that
DeepSeek's optical compression reads poorly: UI and phone screenshots, fine drawings.

The model answers plain text, no boxes. Its lines are placed on the page with RapidOCR's: each line
of the reply goes to the box of the RapidOCR line whose text it matches best, so a citation still
points at a place on the page while quoting the model's words. A reply line that matches no
detected line keeps no box of its own; its paragraph then covers the page (label `unplaced`).
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Sequence
from difflib import SequenceMatcher
from typing import Any, Protocol

import httpx
from pydantic import Field

from ingest.layout import BBox, Block, Line, PageLayout
from ingest.ocr.chat_server import ChatServer, ChatServerConfig
from ingest.ocr.engine import OcrOptions
from ingest.ocr.grounding import PAGE_BOX
from ingest.page import PageImage

DEFAULT_PROMPT = (
    "Transcribe all the text in this image in reading order, one line of text per line, "
    "with a blank line between paragraphs. Output only the text."
)
MIN_MATCH = 0.6  # similarity (0..1) a reply line needs with a detected line to take its box


class VlmConfig(ChatServerConfig):
    model: str = "openbmb/MiniCPM-V-2_6"  # any vision model vLLM serves with an OpenAI chat template
    prompt: str = DEFAULT_PROMPT  # sent for the `document` and `free` prompts; other prompts verbatim
    max_tokens: int = Field(default=2048, gt=0)
    concurrency: int = Field(default=16, gt=0)


class Locator(Protocol):
    """Finds the text lines of a page with their boxes (RapidOCR)."""

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout: ...


def build_vlm_request(page: PageImage, options: OcrOptions, config: VlmConfig) -> dict[str, Any]:
    """The JSON body: the OpenAI vision chat shape (an image_url data URI and a text part), greedy."""
    prompt = config.prompt if options.prompt in ("document", "free") else options.prompt
    image = f"data:{page.mime};base64,{base64.b64encode(page.image_png).decode()}"
    content = [{"type": "image_url", "image_url": {"url": image}}, {"type": "text", "text": prompt}]
    return {
        "model": config.model,
        "messages": [{"role": "user", "content": content}],
        "max_tokens": config.max_tokens,
        "temperature": 0.0,
    }


def _normal(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def best_line(text: str, lines: Sequence[Line]) -> Line | None:
    """The detected line whose text is most like `text`, if like enough."""
    wanted = _normal(text)
    best, best_score = None, MIN_MATCH
    for line in lines:
        matcher = SequenceMatcher(None, wanted, _normal(line.text), autojunk=False)
        if matcher.real_quick_ratio() >= best_score and matcher.ratio() >= best_score:
            best, best_score = line, matcher.ratio()
    return best


def place_text(reply: str, detected: Sequence[Line]) -> list[Block]:
    """The reply's paragraphs as blocks, each line on the box of its best-matching detected line."""
    blocks: list[Block] = []
    for paragraph in re.split(r"\n\s*\n", reply.strip()):
        texts = [t.strip() for t in paragraph.splitlines() if t.strip()]
        if not texts:
            continue
        placed = [(t, best_line(t, detected)) for t in texts]
        lines = [Line(text=t, bbox=match.bbox) for t, match in placed if match is not None]
        heading = texts[0].startswith("#") and len(texts) == 1
        blocks.append(
            Block(
                kind="heading" if heading else "text",
                level=len(texts[0]) - len(texts[0].lstrip("#")) if heading else None,
                markdown=texts[0].lstrip("# ") if heading else "\n".join(texts),
                bbox=BBox.union(line.bbox for line in lines) if lines else PAGE_BOX,
                label="text" if lines else "unplaced",
                lines=lines if len(lines) == len(texts) else [],  # a block's lines must cover its text
                order=len(blocks),
            )
        )
    return blocks


def detected_lines(layout: PageLayout) -> list[Line]:
    return [line for block in layout.blocks for line in block.lines] or [
        Line(text=block.markdown, bbox=block.bbox) for block in layout.blocks
    ]


class VlmEngine:
    name = "vlm"

    def __init__(self, config: VlmConfig, client: httpx.AsyncClient, locator: Locator) -> None:
        self.config = config
        self.server = ChatServer(config, client, "the vision model", "vlm")
        self._locator = locator
        self._slots = asyncio.Semaphore(config.concurrency)

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        body = build_vlm_request(page, options, self.config)
        async with self._slots:
            completion = await self.server.complete(body)
        located = await self._locator.recognize(page, options)
        return page.layout(
            self.name,
            blocks=place_text(completion.text, detected_lines(located)),
            raw=completion.text,
            finish_reason=completion.finish_reason,
            usage=completion.usage,
        )
