"""Showing a cited region: the page image with the boxes highlighted, or cropped around one box.

Boxes are normalized 0..1 of the page (top-left origin), so they land on a page image of any size.
"""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from ingest.layout import BBox

Colour = tuple[int, int, int]

HIGHLIGHT: Colour = (255, 196, 0)
FILL_ALPHA = 90  # of 255: the text under the box stays readable
OUTLINE_FRACTION = 0.002  # outline width as a share of the longer image side


def render_highlight(
    image_png: bytes, boxes: list[BBox], colour: Colour = HIGHLIGHT, fill_alpha: int = FILL_ALPHA
) -> bytes:
    """The page image (PNG) with each box filled semi-transparently and outlined."""
    page = Image.open(io.BytesIO(image_png)).convert("RGBA")
    overlay = Image.new("RGBA", page.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    width = max(2, round(max(page.size) * OUTLINE_FRACTION))
    for box in boxes:
        x0, y0, x1, y1 = _pixels(box, page.size)
        draw.rectangle((x0, y0, x1, y1), fill=(*colour, fill_alpha), outline=(*colour, 255), width=width)
    return _png(Image.alpha_composite(page, overlay).convert("RGB"))


def render_crop(image_png: bytes, bbox: BBox, margin: float = 0.02) -> bytes:
    """The part of the page image (PNG) inside `bbox` grown by `margin` (a share of the page) per side."""
    page = Image.open(io.BytesIO(image_png))
    grown = BBox(x0=bbox.x0 - margin, y0=bbox.y0 - margin, x1=bbox.x1 + margin, y1=bbox.y1 + margin)
    x0, y0, x1, y1 = _pixels(grown, page.size)
    return _png(page.crop((x0, y0, max(x1, x0 + 1), max(y1, y0 + 1))))


def _pixels(box: BBox, size_px: tuple[int, int]) -> tuple[int, int, int, int]:
    x0, y0, x1, y1 = box.to_pixels(size_px)
    w, h = size_px
    return (
        min(max(0, round(x0)), w - 1),
        min(max(0, round(y0)), h - 1),
        min(max(0, round(x1)), w),
        min(max(0, round(y1)), h),
    )


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
