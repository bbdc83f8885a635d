"""What kind of page this is, so `ocr.kinds` can send each kind to its engine and mode.

Kinds: `born_digital` (a real text layer), `scanned_text`, `screenshot`, `drawing` (a figure or
line drawing with little text) and `photo` (a camera picture, of a page or not). Cheap image
measurements decide (on a copy at most `MEASURE_SIDE_PX` on its long side):

- **flat**: the share of pixels in the 16 most common colours (4 bits a channel). Rendered and
  scanned pages are a few flat tones; camera pictures spread over many.
- **colour**: the share of saturated pixels. Screenshots have coloured bars, buttons and icons, or a
  dark background; paper does not.
- **graphic**: the share of ink in connected shapes larger than glyphs (after straight table rules are
  taken out): the strokes of a drawing.

The thresholds were set on half of the labelled pages of `bench/page_kinds.py` and are reported
on the other half (docs/benchmarks.md).
"""

from __future__ import annotations

from typing import Any, get_args

import cv2
import numpy as np
from pydantic import BaseModel

from ingest.ocr.engine import PageKind
from ingest.page import PageImage
from ingest.preprocess import decode_png

PAGE_KINDS: tuple[PageKind, ...] = get_args(PageKind)

MEASURE_SIDE_PX = 1000
PHOTO_FLAT = 0.8  # below: too many tones for a rendered or scanned page (scans >= 0.82, photos <= 0.76)
SCREEN_COLOUR = 0.05  # above: coloured UI (screens >= 0.07; a receipt's coloured logo 0.03)
DARK_BACKGROUND = 80  # a dominant grey below this: a dark-mode screen
DRAWING_GRAPHIC = 0.25  # at least this share of the ink in strokes...
DRAWING_MAX_GLYPHS = 100  # ...and no more glyphs than labels (a short text page has ~80, with no strokes)


class KindMeasures(BaseModel):
    flat: float
    colour: float
    background: int  # the dominant grey level
    graphic: float
    glyphs: int  # glyph-sized shapes: a drawing has a few labels, a page of text hundreds


def measure_kind(page: PageImage) -> KindMeasures:
    img = decode_png(page.image_png)
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    shrink = min(1.0, MEASURE_SIDE_PX / max(img.shape[:2]))
    if shrink < 1.0:
        img = cv2.resize(img, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    codes = ((img[..., 0] >> 4).astype(np.int32) << 8) | ((img[..., 1] >> 4) << 4) | (img[..., 2] >> 4)
    counts = np.sort(np.bincount(codes.ravel(), minlength=4096))[::-1]
    hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return KindMeasures(
        flat=float(counts[:16].sum()) / codes.size,
        colour=float(np.count_nonzero((hsv[..., 1] > 80) & (hsv[..., 2] > 60))) / codes.size,
        background=int(np.argmax(np.bincount(gray.ravel(), minlength=256))),
        **_ink_shapes(gray),
    )


def _ink_shapes(gray: np.ndarray) -> dict[str, Any]:
    """Share of the ink (rules aside) in shapes taller or wider than a glyph could be, and the glyphs."""
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    if np.count_nonzero(ink) > 0.5 * ink.size:  # a dark page: ink is the background
        ink = cv2.bitwise_not(ink)
    height, width = ink.shape
    for size in ((max(1, width // 4), 1), (1, max(1, height // 4))):
        ink = cv2.subtract(
            ink, cv2.morphologyEx(ink, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, size))
        )
    _, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    w, h, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    big = (h > height / 25) | (w > width / 8)
    glyphs = (~big) & (h >= 4) & (area >= 6)
    total = int(area.sum())
    return {
        "graphic": float(area[big].sum()) / total if total else 0.0,
        "glyphs": int(np.count_nonzero(glyphs)),
    }


def classify_page(measures: KindMeasures, has_text: bool) -> tuple[PageKind, str]:
    """The page's kind and the measurement that decided it (pure)."""
    if has_text:
        return "born_digital", "text layer"
    if measures.flat < PHOTO_FLAT:
        return "photo", f"{measures.flat:.0%} of pixels in 16 tones"
    if measures.colour >= SCREEN_COLOUR or measures.background < DARK_BACKGROUND:
        return "screenshot", f"{measures.colour:.1%} colour, background {measures.background}"
    if measures.graphic >= DRAWING_GRAPHIC and measures.glyphs <= DRAWING_MAX_GLYPHS:
        return "drawing", f"{measures.graphic:.0%} of ink in strokes, {measures.glyphs} glyphs"
    return "scanned_text", f"{measures.graphic:.0%} of ink in strokes, {measures.colour:.1%} colour"


def page_kind(page: PageImage, has_text: bool) -> tuple[PageKind, str]:
    """The kind of `page`; a page with a real text layer is born-digital without looking at pixels."""
    if has_text:
        return "born_digital", "text layer"
    return classify_page(measure_kind(page), has_text=False)
