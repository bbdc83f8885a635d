"""`ocr.mode: auto`: the cheapest DeepSeek resolution mode that still reads a scanned page.

Three cheap measurements of the page image (0.1–0.3 s for an A4 page at 144 dpi; bench/mode_choice_cost.py): the median height
of the glyphs (connected components), the share of dark pixels, and the long ruling lines of a
table grid. A mode downsamples the page to its longest side (`MODE_MAX_SIDE_PX`), so its glyphs
shrink by the same factor; the first candidate mode, cheapest first, whose glyphs stay at least
`MIN_GLYPH_PX` high is chosen. Tables and dense pages go straight to the last (richest) candidate.
The thresholds are starting values, not calibrated on a labelled set.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from pydantic import BaseModel

from ingest.layout import ModeChoice
from ingest.ocr.engine import ResolutionMode
from ingest.page import PageImage
from ingest.preprocess import decode_png

# Median glyph height a mode must keep in the image it sends. At 144 dpi a glyph is ~1.1 px per
# point of font size, and small sends an A4 page at 640/1684 of that: 12 pt print keeps 5.3 px and
# reads as small, 11 pt (4.9 px) and smaller go on. A starting value, not calibrated.
MIN_GLYPH_PX = 5.0
MIN_GLYPHS = 40  # fewer glyph-sized components: no measurable text (a figure, a photo, a blank page)
DENSE_INK = 0.2  # dark pixels above this share: a dark, noisy or crowded scan (text pages have 5-10%)
TABLE_RULES_H = 4  # long horizontal rules of a ruled table...
TABLE_RULES_HV = (3, 2)  # ...or a grid of horizontal and vertical ones
MEASURE_SIDE_PX = 2000  # pages larger than this are measured on a copy scaled down to it
RULE_FRACTION = 0.25  # a rule spans at least this share of the page width (height for vertical ones)
RULE_THICKNESS = 0.005  # ...and is at most this share of the page's long side thick

# Longest image side the DeepSeek client sends per mode; vLLM's processor then builds its fixed
# views (docs/ocr-deepseek.md). None: the page as rendered.
MODE_MAX_SIDE_PX: dict[str, int | None] = {
    "tiny": 512,
    "small": 640,
    "base": 1024,
    "large": 1280,
    "gundam": None,
}


class PageMeasures(BaseModel):
    long_side_px: int
    glyph_px: float | None  # median glyph height at the rendered size; None: no measurable text
    glyphs: int
    ink: float  # share of dark pixels
    rules_h: int  # long horizontal rules
    rules_v: int  # long vertical rules


def measure_page(page: PageImage) -> PageMeasures:
    """Glyph height, ink and ruling lines of the rendered page."""
    img = decode_png(page.image_png)
    gray = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY) if img.ndim == 3 else img
    long_side_px = max(gray.shape)
    shrink = min(1.0, MEASURE_SIDE_PX / long_side_px)  # large scans are measured on a smaller copy
    if shrink < 1.0:
        gray = cv2.resize(gray, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU)
    height, width = ink.shape
    horizontal = _rules(ink, (max(1, int(width * RULE_FRACTION)), 1))
    vertical = _rules(ink, (1, max(1, int(height * RULE_FRACTION))))
    text = cv2.subtract(ink, cv2.bitwise_or(horizontal, vertical))
    heights = _glyph_heights(text, height)
    return PageMeasures(
        long_side_px=long_side_px,
        glyph_px=float(np.median(heights)) / shrink if len(heights) >= MIN_GLYPHS else None,
        glyphs=len(heights),
        ink=float(np.count_nonzero(ink)) / ink.size,
        rules_h=_count_rules(horizontal, across=True),
        rules_v=_count_rules(vertical, across=False),
    )


def _rules(ink: np.ndarray, kernel_size: tuple[int, int]) -> np.ndarray:
    """The ink of straight strokes at least as long as the kernel."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, kernel_size)
    return cv2.morphologyEx(ink, cv2.MORPH_OPEN, kernel)


def _count_rules(mask: np.ndarray, across: bool) -> int:
    """Thin strokes only: a black scan margin or a dark photo also survives the opening, but thick."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(mask)
    thickness = stats[1:, cv2.CC_STAT_HEIGHT if across else cv2.CC_STAT_WIDTH]
    return int(np.count_nonzero(thickness <= max(3, RULE_THICKNESS * max(mask.shape))))


def _glyph_heights(text: np.ndarray, page_height_px: int) -> np.ndarray:
    """Heights of the components shaped like glyphs: not specks, not rules, not pictures."""
    _, _, stats, _ = cv2.connectedComponentsWithStats(text, connectivity=8)
    w, h, area = stats[1:, cv2.CC_STAT_WIDTH], stats[1:, cv2.CC_STAT_HEIGHT], stats[1:, cv2.CC_STAT_AREA]
    glyph = (h >= 4) & (h <= page_height_px / 20) & (w <= 3 * h) & (area >= 6)
    return h[glyph]


def scale_for(mode: ResolutionMode, long_side_px: int) -> float:
    """How much the mode shrinks the page (never enlarges it)."""
    limit = MODE_MAX_SIDE_PX[mode]
    return 1.0 if limit is None else min(1.0, limit / long_side_px)


def choose_mode(measures: PageMeasures, candidates: Sequence[ResolutionMode]) -> ModeChoice:
    """The cheapest candidate that keeps the glyphs legible; tables and dense print get the last one."""
    richest = candidates[-1]
    if measures.rules_h >= TABLE_RULES_H or (
        measures.rules_h >= TABLE_RULES_HV[0] and measures.rules_v >= TABLE_RULES_HV[1]
    ):
        return ModeChoice(
            mode=richest, reason=f"table rules ({measures.rules_h} across, {measures.rules_v} down)"
        )
    if measures.ink >= DENSE_INK:
        return ModeChoice(mode=richest, reason=f"dense page ({measures.ink:.0%} ink)")
    if measures.glyph_px is None:
        return ModeChoice(mode=richest, reason=f"no measurable text ({measures.glyphs} glyphs)")
    for mode in candidates[:-1]:
        kept = measures.glyph_px * scale_for(mode, measures.long_side_px)
        if kept >= MIN_GLYPH_PX:
            return ModeChoice(
                mode=mode, reason=f"text {measures.glyph_px:.0f} px high, {kept:.0f} px in {mode}"
            )
    return ModeChoice(mode=richest, reason=f"small print (text {measures.glyph_px:.0f} px high)")
