"""A source page ready for OCR: the rendered image, its size and what the text layer holds.

`width`/`height` are PDF points for PDFs and pixels for images (`unit` says which);
`image_png` is the page rendered at `dpi` (the original pixels for images), `image_size` its pixels;
a PDF page opened for its text layer comes with `image_png` empty (not rendered: `sources.with_pixels`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ingest.layout import PageLayout


class PageImage(BaseModel):
    page: int  # 1-based
    width: float
    height: float
    unit: Literal["pt", "px"]
    image_png: bytes  # PNG, or JPEG where rendered for an OCR server (`mime`); empty: not rendered
    image_size: tuple[int, int]  # (width_px, height_px)
    dpi: int
    source: Path | None = None  # the original file; the text-layer engine reopens PDFs from here
    text_chars: int = 0  # printable characters in the PDF text layer (0 for images)

    @property
    def mime(self) -> str:
        """The image's media type, read from its first bytes."""
        return "image/jpeg" if self.image_png[:3] == b"\xff\xd8\xff" else "image/png"

    def layout(self, engine: str, **fields: Any) -> PageLayout:
        """A layout of this page: its number, size and image size, plus what the engine found."""
        geometry = {"page": self.page, "width": self.width, "height": self.height, "unit": self.unit}
        return PageLayout(**(geometry | {"image_size": self.image_size, "engine": engine} | fields))
