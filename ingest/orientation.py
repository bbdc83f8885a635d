"""Page orientation (0/90/180/270) from an OCR engine's own line boxes and recognition scores.

Tall line boxes mean a sideways page; the candidates are then told apart by recognizing a few of
the longest lines turned both ways and keeping the more confident reading. No extra model.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ingest.preprocess import PreparedPage, decode_png, encode_png

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels
ScoreCrops = Callable[[list[np.ndarray]], list[float]]  # recognition confidence per crop

ROTATIONS = (0, 90, 180, 270)  # clockwise degrees that turn the page upright
ELONGATED = 1.5  # a box this much longer one way than the other shows the line direction
PROBE_LINES = 4  # lines recognized per candidate rotation
MAX_PROBE_RATIO = 10.0  # a probe crop is cut to its middle this many line heights long (rec cost)
SURE_UPRIGHT = 0.9  # wide lines read this confidently as they are: upright, nothing to probe
TURN_MARGIN = 0.05  # 180 must read this much more confidently than as-is to turn an upright page
MIN_TURNED_SCORE = 0.7  # a turned reading below this is not trusted (e.g. vertical CJK columns)

_CV2_ROTATE = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}


@dataclass(frozen=True)
class Orientation:
    """The decision and what it rested on (kept in `PageLayout.raw`)."""

    rotation: int  # clockwise degrees applied to the page image before OCR
    sideways: bool = False
    scores: tuple[tuple[int, float], ...] = ()  # (candidate rotation, mean probe confidence)


# --- decisions: plain values in, plain values out -------------------------------------------------
def is_sideways(boxes: Sequence[Box]) -> bool:
    """Most text (by line length) runs vertically: the page lies on its side."""
    tall = wide = 0.0
    for x0, y0, x1, y1 in boxes:
        w, h = x1 - x0, y1 - y0
        if h >= ELONGATED * w:
            tall += h
        elif w >= ELONGATED * h:
            wide += w
    return bool(tall > wide)


def candidates(sideways: bool) -> tuple[int, int]:
    """The two rotations a page can need; the first is the one kept when in doubt."""
    return (90, 270) if sideways else (0, 180)


def probe_lines(boxes: Sequence[Box], sideways: bool, k: int = PROBE_LINES) -> list[int]:
    """Indices of the `k` longest lines that run the page's way (short ones read ambiguously)."""

    def length(b: Box) -> float:
        w, h = b[2] - b[0], b[3] - b[1]
        along, across = (h, w) if sideways else (w, h)
        return along if along >= ELONGATED * across else 0.0

    ranked = sorted(range(len(boxes)), key=lambda i: length(boxes[i]), reverse=True)
    return [i for i in ranked[:k] if length(boxes[i]) > 0]


def choose_rotation(scores: dict[int, float], sideways: bool) -> int:
    """The rotation to apply given each candidate's mean probe confidence.

    An upright-looking page turns 180 only when that reads clearly better; a sideways page turns
    the better way, unless neither reading is confident (then the text is left as it is).
    """
    keep, other = candidates(sideways)
    if not scores:
        return 0
    if not sideways:
        turned = scores.get(other, 0.0)
        return other if turned >= MIN_TURNED_SCORE and turned > scores.get(keep, 0.0) + TURN_MARGIN else 0
    best = max((keep, other), key=lambda r: scores.get(r, 0.0))
    return best if scores.get(best, 0.0) >= MIN_TURNED_SCORE else 0


# --- pixels --------------------------------------------------------------------------------------
def rotate_image(img: np.ndarray, rotation: int) -> np.ndarray:
    """`img` turned `rotation` degrees clockwise (exact, no resampling)."""
    return img if rotation == 0 else cv2.rotate(img, _CV2_ROTATE[rotation])


def rotation_matrix(rotation: int, size_px: tuple[int, int]) -> np.ndarray:
    """3x3 map from pixels of an image of `size_px` to pixels of it turned `rotation` clockwise."""
    w, h = size_px
    rows = {
        0: [[1, 0, 0], [0, 1, 0]],
        90: [[0, -1, h], [1, 0, 0]],
        180: [[-1, 0, w], [0, -1, h]],
        270: [[0, 1, 0], [-1, 0, w]],
    }
    if rotation not in rows:
        raise ValueError(f"rotation must be one of {ROTATIONS}, not {rotation}")
    return np.array([*rows[rotation], [0, 0, 1]], dtype=np.float64)


def rotate_prepared(prepared: PreparedPage, rotation: int) -> PreparedPage:
    """`prepared` with its pixels turned too; `to_original` then undoes both steps at once."""
    if rotation == 0:
        return prepared
    img = rotate_image(decode_png(prepared.page.image_png), rotation)
    page = prepared.page.model_copy(
        update={"image_png": encode_png(img), "image_size": (img.shape[1], img.shape[0])}
    )
    matrix = rotation_matrix(rotation, prepared.page.image_size) @ prepared.matrix
    return PreparedPage(
        page=page,
        original_size=prepared.original_size,
        matrix=matrix,
        steps=(*prepared.steps, f"rotate({rotation})"),
    )


def probe_crop(img: np.ndarray, box: Box) -> np.ndarray:
    """The line's pixels, cut to its middle when very long (the ends say nothing more)."""
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    x0, y0 = max(x0, 0), max(y0, 0)
    crop = img[y0 : max(y1, y0 + 1), x0 : max(x1, x0 + 1)]
    h, w = crop.shape[:2]
    limit = int(MAX_PROBE_RATIO * min(h, w))
    if w > limit:
        crop = crop[:, (w - limit) // 2 : (w + limit) // 2]
    elif h > limit:
        crop = crop[(h - limit) // 2 : (h + limit) // 2]
    return crop


def detect_orientation(
    img: np.ndarray, boxes: Sequence[Box], as_read: Sequence[float], score_crops: ScoreCrops
) -> Orientation:
    """How to turn `img` upright, given the line boxes an engine found on it and their confidence.

    A page of wide lines that already read confidently costs nothing more; otherwise a few lines
    are recognized again in each candidate rotation.
    """
    sideways = is_sideways(boxes)
    probes = probe_lines(boxes, sideways)
    if not probes:
        return Orientation(rotation=0, sideways=sideways)
    scores: dict[int, float] = {}
    if not sideways:
        scores[0] = statistics.fmean(as_read[i] for i in probes)
        if scores[0] >= SURE_UPRIGHT:
            return Orientation(rotation=0, scores=((0, round(scores[0], 4)),))
    crops = [probe_crop(img, boxes[i]) for i in probes]
    todo = [r for r in candidates(sideways) if r not in scores]
    confidences = score_crops([rotate_image(c, r) for r in todo for c in crops])
    n = len(crops)
    scores |= {r: statistics.fmean(confidences[k * n : (k + 1) * n]) for k, r in enumerate(todo)}
    return Orientation(
        rotation=choose_rotation(scores, sideways),
        sideways=sideways,
        scores=tuple((r, round(s, 4)) for r, s in sorted(scores.items())),
    )
