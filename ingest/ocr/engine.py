"""The OCR engine protocol and per-document OCR options.

An engine turns one `PageImage` into one `PageLayout`. Engines raise typed errors from
`ingest.errors` for service faults; the router and quality gate decide what to do with them.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ingest.layout import PageLayout
from ingest.page import PageImage

EngineName = Literal["auto", "textlayer", "rapidocr", "deepseek", "vlm"]
ResolutionMode = Literal["tiny", "small", "base", "large", "gundam"]
OcrMode = Literal["auto", "tiny", "small", "base", "large", "gundam"]  # auto: chosen per page
PageKind = Literal["born_digital", "scanned_text", "screenshot", "drawing", "photo"]  # ingest.ocr.page_kind


class PreprocessOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    denoise: bool = False
    clahe: bool = False
    deskew: bool = False
    binarize: bool = False
    perspective: bool = False

    def any(self) -> bool:
        return any(self.model_dump().values())


class KindRoute(BaseModel):
    """The engine (and DeepSeek mode) for one kind of page, under `engine: auto`."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineName
    mode: OcrMode | None = None  # None: the document's mode

    @classmethod
    def parse_map(cls, text: str) -> dict[PageKind, KindRoute]:
        """`screenshot=vlm,drawing=vlm,photo=deepseek:gundam` (an upload field) as routes."""
        routes: dict[str, KindRoute] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            kind, _, target = item.partition("=")
            engine, _, mode = target.partition(":")
            routes[kind.strip()] = cls.model_validate(
                {"engine": engine.strip(), "mode": mode.strip() or None}
            )
        return OcrOptions.model_validate({"kinds": routes}).kinds


class OcrOptions(BaseModel):
    """Chosen per document (API upload fields, CLI flags); defaults come from settings."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineName = "auto"
    mode: OcrMode = "gundam"
    prompt: str = "document"  # a preset name (document, free, figure, describe, locate) or custom text
    locate_text: str | None = None  # for the `locate` preset
    preprocess: PreprocessOptions = PreprocessOptions()
    # With engine auto: the route for each kind of page (the others go the usual auto way).
    kinds: dict[PageKind, KindRoute] = Field(default_factory=dict)


class Engine(Protocol):
    name: str

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout: ...
