"""The OCR engine protocol and per-document OCR options.

An engine turns one `PageImage` into one `PageLayout`. Engines raise typed errors from
`ingest.errors` for service faults; the router and quality gate decide what to do with them.
"""

from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict

from ingest.layout import PageLayout
from ingest.page import PageImage

EngineName = Literal["auto", "textlayer", "rapidocr", "deepseek", "vlm"]
ResolutionMode = Literal["tiny", "small", "base", "large", "gundam"]
OcrMode = Literal["auto", "tiny", "small", "base", "large", "gundam"]  # auto: chosen per page


class PreprocessOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    denoise: bool = False
    clahe: bool = False
    deskew: bool = False
    binarize: bool = False
    perspective: bool = False

    def any(self) -> bool:
        return any(self.model_dump().values())


class OcrOptions(BaseModel):
    """Chosen per document (API upload fields, CLI flags); defaults come from settings."""

    model_config = ConfigDict(extra="forbid")

    engine: EngineName = "auto"
    mode: OcrMode = "gundam"
    prompt: str = "document"  # a preset name (document, free, figure, describe, locate) or custom text
    locate_text: str | None = None  # for the `locate` preset
    preprocess: PreprocessOptions = PreprocessOptions()


class Engine(Protocol):
    name: str

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout: ...
