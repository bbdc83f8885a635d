"""The page layout data model shared by every OCR engine, the chunker and retrieval.

Boxes are normalized to 0..1 of the page with a top-left origin. Converters to and from
DeepSeek's 0..999 grid, PDF points and image pixels live on `BBox`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

BlockKind = Literal[
    "title",
    "heading",
    "text",
    "list",
    "table",
    "figure",
    "caption",
    "equation",
    "code",
    "header",
    "footer",
    "page_number",
]

# Kinds that repeat on every page and carry no content of their own.
FURNITURE_KINDS: frozenset[str] = frozenset({"header", "footer", "page_number"})

GRID_999 = 999


def _clamp01(v: float) -> float:
    return 0.0 if v < 0.0 else 1.0 if v > 1.0 else v


class BBox(BaseModel):
    """A box normalized to 0..1 of the page, top-left origin, x0<=x1 and y0<=y1."""

    model_config = ConfigDict(frozen=True)

    x0: float
    y0: float
    x1: float
    y1: float

    @model_validator(mode="before")
    @classmethod
    def _order_and_clamp(cls, data: Any) -> Any:
        if isinstance(data, list | tuple):
            data = dict(zip(("x0", "y0", "x1", "y1"), data, strict=True))
        if isinstance(data, dict) and all(k in data for k in ("x0", "y0", "x1", "y1")):
            x0, x1 = sorted((float(data["x0"]), float(data["x1"])))
            y0, y1 = sorted((float(data["y0"]), float(data["y1"])))
            data = {"x0": _clamp01(x0), "y0": _clamp01(y0), "x1": _clamp01(x1), "y1": _clamp01(y1)}
        return data

    # --- constructors -------------------------------------------------------------------
    @classmethod
    def from_999(cls, box_999: Sequence[float]) -> BBox:
        """DeepSeek-OCR boxes: 0..999 per axis of the image that was sent."""
        x0, y0, x1, y1 = box_999
        return cls(x0=x0 / GRID_999, y0=y0 / GRID_999, x1=x1 / GRID_999, y1=y1 / GRID_999)

    @classmethod
    def from_pixels(cls, box_px: Sequence[float], size_px: tuple[int, int] | Sequence[float]) -> BBox:
        w, h = size_px
        x0, y0, x1, y1 = box_px
        return cls(x0=x0 / w, y0=y0 / h, x1=x1 / w, y1=y1 / h)

    @classmethod
    def from_points(
        cls,
        box_pt: Sequence[float],
        size_pt: Sequence[float],
        origin: Literal["top", "bottom"] = "top",
    ) -> BBox:
        """PDF points; PyMuPDF uses a top-left origin, PDF/docling JSON a bottom-left one."""
        w, h = size_pt
        x0, y0, x1, y1 = box_pt
        if origin == "bottom":
            y0, y1 = h - y0, h - y1
        return cls(x0=x0 / w, y0=y0 / h, x1=x1 / w, y1=y1 / h)

    @classmethod
    def union(cls, boxes: Iterable[BBox]) -> BBox:
        bs = list(boxes)
        if not bs:
            raise ValueError("union of no boxes")
        return cls(
            x0=min(b.x0 for b in bs),
            y0=min(b.y0 for b in bs),
            x1=max(b.x1 for b in bs),
            y1=max(b.y1 for b in bs),
        )

    # --- converters ---------------------------------------------------------------------
    def to_pixels(self, size_px: Sequence[float]) -> list[float]:
        """Pixels of an image of `size_px`, or PDF points of a page of that size (top-left origin)."""
        w, h = size_px
        return [self.x0 * w, self.y0 * h, self.x1 * w, self.y1 * h]

    def as_list(self) -> list[float]:
        return [self.x0, self.y0, self.x1, self.y1]

    # --- geometry -----------------------------------------------------------------------
    @property
    def area(self) -> float:
        return max(0.0, self.x1 - self.x0) * max(0.0, self.y1 - self.y0)

    def intersection(self, other: BBox) -> float:
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return max(0.0, w) * max(0.0, h)

    def iou(self, other: BBox) -> float:
        inter = self.intersection(other)
        union = self.area + other.area - inter
        return inter / union if union > 0 else 0.0

    def contains(self, other: BBox, tol: float = 0.0) -> bool:
        return (
            self.x0 - tol <= other.x0
            and self.y0 - tol <= other.y0
            and self.x1 + tol >= other.x1
            and self.y1 + tol >= other.y1
        )


# Horizontal extent (x0, x1, 0..1 of the page) of each whitespace-separated word of a line's text, where
# the engine knows it (text layer: PyMuPDF words). Lets a citation highlight a phrase, not the whole line.
WordsX = list[tuple[float, float]]


class Line(BaseModel):
    """A finer box inside a block (text-layer line, RapidOCR line)."""

    text: str
    bbox: BBox
    words_x: WordsX | None = None

    def region(self, page: int) -> Region:
        return Region(page=page, bbox=self.bbox, text=self.text, words_x=self.words_x)


class Block(BaseModel):
    kind: BlockKind
    markdown: str
    bbox: BBox
    order: int = 0
    level: int | None = None  # heading level, 1 = top
    html: str | None = None  # tables keep the engine's HTML
    label: str = ""  # the label exactly as the engine emitted it
    lines: list[Line] = Field(default_factory=list)
    clause: str | None = None  # legal numbering the block opens with ("12.3", "Article IV"): ingest.clauses

    def regions(self, page: int) -> list[Region]:
        """The finest boxes the block has, each with its text: its lines when the engine gave them,
        else the block box. A citation narrows a chunk to the regions holding its quote."""
        if self.lines:
            return [line.region(page) for line in self.lines]
        return [Region(page=page, bbox=self.bbox, text=self.markdown)]


QualityStatus = Literal["ok", "retried", "fallback", "failed"]


class Quality(BaseModel):
    status: QualityStatus = "ok"
    reason: str | None = None
    # every attempt in order, e.g. ["deepseek: loop", "deepseek(strict): ok"]
    attempts: list[str] = Field(default_factory=list)


class ModeChoice(BaseModel):
    """The DeepSeek resolution mode a page was read in, and why (`ocr.mode: auto`, or as requested)."""

    mode: str
    reason: str


class KindChoice(BaseModel):
    """The kind of page the router saw (`ocr.kinds`) and the measurement that decided it."""

    kind: str
    reason: str


class PageLayout(BaseModel):
    """One page as an engine saw it. A failed page is still a PageLayout with quality failed."""

    page: int  # 1-based
    width: float  # PDF points, or pixels for images
    height: float
    unit: Literal["pt", "px"] = "pt"
    image_size: tuple[int, int]  # pixels of the rendered page image (width, height)
    engine: str
    blocks: list[Block] = Field(default_factory=list)
    quality: Quality = Field(default_factory=Quality)
    raw: str = ""  # the engine's raw output, kept for audit and re-parsing
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    mode: ModeChoice | None = None  # DeepSeek pages only
    page_kind: KindChoice | None = None  # only when routed by kind (engine auto with ocr.kinds)

    def content_blocks(self) -> list[Block]:
        """Blocks in reading order, without headers, footers and page numbers."""
        return [b for b in sorted(self.blocks, key=lambda b: b.order) if b.kind not in FURNITURE_KINDS]


class Region(BaseModel):
    """A cited place: a page and a box on it."""

    page: int
    bbox: BBox
    # the text inside the box (a line's or block's), so answers can narrow a chunk to the quoted lines
    text: str | None = None
    words_x: WordsX | None = None  # see `WordsX`; only for a one-line region

    def to_public(self) -> dict[str, Any]:
        return {"page": self.page, "bbox": [round(v, 5) for v in self.bbox.as_list()]}

    def part(self, start: int, end: int) -> Region:
        """The region of `text[start:end]`: its words' extent when known, else its share of the
        characters (a fair estimate on one line; a multi-line block keeps its whole box)."""
        text = self.text or ""
        start, end = max(0, start), min(len(text), end)
        if not text or end <= start or (start == 0 and end == len(text)):
            return self
        words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        if self.words_x is not None and len(self.words_x) == len(words):
            inside = [x for (a, b), x in zip(words, self.words_x, strict=True) if a < end and b > start]
            if not inside:
                return self
            x0, x1 = min(x[0] for x in inside), max(x[1] for x in inside)
        elif "\n" in text.strip():
            return self
        else:
            width = self.bbox.x1 - self.bbox.x0
            x0 = self.bbox.x0 + width * start / len(text)
            x1 = self.bbox.x0 + width * end / len(text)
        box = BBox(x0=x0, y0=self.bbox.y0, x1=x1, y1=self.bbox.y1)
        return Region(page=self.page, bbox=box, text=text[start:end])
