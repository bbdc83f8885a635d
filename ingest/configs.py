"""The config models of ingest's heavy modules (sources, the text layer and RapidOCR engines).

They live apart from their modules so that reading settings (`api.settings`, every CLI command)
imports no PDF, image or OCR library.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dpi: int = 144  # PDF render resolution
    max_bytes: int = 200 * 1024 * 1024
    max_pages: int = 2000
    max_pixels: int = 60_000_000  # per page: image pixels, or rendered PDF pixels (dpi is lowered first)
    strict_extension: bool = True  # a known extension that contradicts the content is refused


class TextLayerConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # "auto" runs PyMuPDF find_tables (0.1-0.7 s/page) only on pages with ruling lines
    tables: Literal["auto", "always", "never"] = "auto"
    min_rulings: int = (
        3  # axis-aligned strokes >= 10% of the page width that make a page worth a table search
    )
    heading_size_ratio: float = 1.15  # a line this much larger than the body size can be a heading
    heading_max_chars: int = 160
    font_sample_pages: int = 40  # pages read for the document's font statistics


class RapidOcrConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_side_px: int = 2000  # bigger page images are downscaled first: speed, with boxes kept normalized
    min_score: float = 0.5  # lines recognized with less confidence are dropped
    threads: int | None = None  # onnxruntime intra-op threads; None = onnxruntime's default (all cores)
    auto_orient: bool = True  # turn pages scanned sideways or upside down upright before reading them
    # Lines recognized per onnxruntime call. RapidOCR pads every line of a call to the widest one (with
    # grey): one at a time costs 20% less CPU per page than its default 6 and misreads fewer characters.
    rec_batch: int | None = 1  # None = RapidOCR's default (6)
    # Detection reads a page scaled to at most this long side (RapidOCR's default reads pages of 736 px
    # and more at full size; smaller ones it enlarges, and still does); 1280 cuts a 144-dpi letter page's
    # det pixels to 0.65, det and rec together 38% of the CPU. None = full size.
    det_max_side_px: int | None = 1280
