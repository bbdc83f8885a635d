"""Optional image clean-up before OCR: perspective, deskew, denoise, CLAHE, binarize (in that order).

Geometry steps are recorded as one 3x3 homography from original to processed pixels, so a box
found on the processed image maps back onto the original page with `PreparedPage.to_original`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from ingest.layout import BBox, Line, PageLayout
from ingest.ocr.engine import PreprocessOptions
from ingest.page import PageImage

MAX_SKEW_DEG = 15.0
MIN_SKEW_DEG = 0.2  # below this a rotation blurs more than it straightens
ANGLE_PROBE_SIDE_PX = 1000  # the skew search runs on a downscaled copy
MIN_PAGE_AREA = 0.25  # a page quadrilateral covers at least this share of the photo
WHITE = 255


@dataclass(frozen=True)
class PreparedPage:
    """The processed page plus the way back: `matrix` maps original pixels to processed pixels."""

    page: PageImage  # processed pixels; width/height/unit stay the original page's
    original_size: tuple[int, int]
    matrix: np.ndarray = field(default_factory=lambda: np.eye(3))
    steps: tuple[str, ...] = ()

    def to_original(self, bbox: BBox) -> BBox:
        """A box normalized to the processed image, as a box normalized to the original page."""
        if np.allclose(self.matrix, np.eye(3)):
            return bbox
        x0, y0, x1, y1 = bbox.to_pixels(self.page.image_size)
        corners = np.array([[[x0, y0]], [[x1, y0]], [[x1, y1]], [[x0, y1]]], dtype=np.float64)
        back = cv2.perspectiveTransform(corners, np.linalg.inv(self.matrix)).reshape(-1, 2)
        xs, ys = back[:, 0], back[:, 1]
        box_px = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        return BBox.from_pixels(box_px, self.original_size)

    def _line_to_original(self, line: Line) -> Line:
        box = self.to_original(line.bbox)
        words = None
        if line.words_x:  # each word as a box of the line's height, moved like the line
            moved = [
                self.to_original(line.bbox.model_copy(update={"x0": a, "x1": z})) for a, z in line.words_x
            ]
            words = [(w.x0, w.x1) for w in moved]
        return Line(text=line.text, bbox=box, words_x=words)

    def map_layout(self, layout: PageLayout) -> PageLayout:
        """A layout found on the processed image, moved onto the original page."""
        blocks = [
            b.model_copy(
                update={
                    "bbox": self.to_original(b.bbox),
                    "lines": [self._line_to_original(ln) for ln in b.lines],
                }
            )
            for b in layout.blocks
        ]
        return layout.model_copy(update={"blocks": blocks, "image_size": self.original_size})


def preprocess_page(page: PageImage, options: PreprocessOptions) -> PreparedPage:
    if not options.any():
        return PreparedPage(page=page, original_size=page.image_size)
    img = decode_png(page.image_png)
    matrix = np.eye(3)
    steps: list[str] = []
    if options.perspective:
        quad = find_page_quad(img)
        if quad is not None:
            img, m = warp_quad(img, quad)
            matrix, steps = m @ matrix, [*steps, "perspective"]
    if options.deskew:
        angle = estimate_skew(img)
        if abs(angle) >= MIN_SKEW_DEG:
            img, m = rotate(img, angle)
            matrix, steps = m @ matrix, [*steps, f"deskew({angle:.2f})"]
    img, tone_steps = _tone(img, options)
    processed = page.model_copy(
        update={"image_png": encode_png(img), "image_size": (img.shape[1], img.shape[0])}
    )
    return PreparedPage(
        page=processed, original_size=page.image_size, matrix=matrix, steps=(*steps, *tone_steps)
    )


def _tone(img: np.ndarray, options: PreprocessOptions) -> tuple[np.ndarray, list[str]]:
    steps: list[str] = []
    if not (options.denoise or options.clahe or options.binarize):
        return img, steps
    gray = to_gray(img)
    if options.denoise:
        gray = cv2.fastNlMeansDenoising(gray, None, h=10, templateWindowSize=7, searchWindowSize=21)
        steps.append("denoise")
    if options.clahe:
        gray = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8)).apply(gray)
        steps.append("clahe")
    if options.binarize:
        # adaptive, not Otsu: photos are lit unevenly and one global threshold loses a corner
        block = max(15, (min(gray.shape) // 40) | 1)
        gray = cv2.adaptiveThreshold(
            gray, WHITE, cv2.ADAPTIVE_THRESH_GAUSSIAN_C, cv2.THRESH_BINARY, block, 15
        )
        steps.append("binarize")
    return gray, steps


# --- deskew ----------------------------------------------------------------------------------
def estimate_skew(img: np.ndarray) -> float:
    """Degrees (counter-clockwise positive, OpenCV's convention) that straighten the text lines.

    Projection profiles: rows of straight text give the sharpest row sums, so the angle that
    maximizes their variance wins; a coarse search is refined around the best candidate.
    """
    gray = to_gray(img)
    scale = min(1.0, ANGLE_PROBE_SIDE_PX / max(gray.shape))
    if scale < 1.0:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    _, ink = cv2.threshold(gray, 0, WHITE, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    if cv2.countNonZero(ink) == 0:
        return 0.0
    coarse = _best_angle(ink, np.arange(-MAX_SKEW_DEG, MAX_SKEW_DEG + 0.01, 1.0))
    return _best_angle(ink, np.arange(coarse - 1.0, coarse + 1.01, 0.1))


def _best_angle(ink: np.ndarray, angles: np.ndarray) -> float:
    h, w = ink.shape
    centre = (w / 2.0, h / 2.0)
    scores = []
    for a in angles:
        m = cv2.getRotationMatrix2D(centre, float(a), 1.0)
        rotated = cv2.warpAffine(ink, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        scores.append(float(np.var(rotated.sum(axis=1, dtype=np.float64))))
    return round(float(angles[int(np.argmax(scores))]), 2)


def rotate(img: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by `angle` degrees on an enlarged white canvas (nothing is cut off)."""
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    new_w, new_h = int(round(h * sin + w * cos)), int(round(h * cos + w * sin))
    m[0, 2] += new_w / 2.0 - w / 2.0
    m[1, 2] += new_h / 2.0 - h / 2.0
    fill = (WHITE,) * (1 if img.ndim == 2 else img.shape[2])
    out = cv2.warpAffine(img, m, (new_w, new_h), flags=cv2.INTER_LINEAR, borderValue=fill)
    return out, np.vstack([m, [0.0, 0.0, 1.0]])


# --- perspective -----------------------------------------------------------------------------
def find_page_quad(img: np.ndarray) -> np.ndarray | None:
    """The page's four corners (tl, tr, br, bl) in a photo, or None when no page stands out."""
    gray = to_gray(img)
    scale = min(1.0, ANGLE_PROBE_SIDE_PX / max(gray.shape))
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    edges = cv2.Canny(cv2.GaussianBlur(small, (5, 5), 0), 50, 150)
    edges = cv2.dilate(edges, np.ones((3, 3), np.uint8))
    contours, _ = cv2.findContours(edges, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = MIN_PAGE_AREA * small.shape[0] * small.shape[1]
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:5]:
        if cv2.contourArea(contour) < min_area:
            break
        approx = cv2.approxPolyDP(contour, 0.02 * cv2.arcLength(contour, True), True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            return order_corners(approx.reshape(4, 2).astype(np.float64) / scale)
    return None


def order_corners(pts: np.ndarray) -> np.ndarray:
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]])


def warp_quad(img: np.ndarray, quad: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tl, tr, br, bl = quad
    w = int(round(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))))
    h = int(round(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))))
    target = np.array([[0, 0], [w - 1, 0], [w - 1, h - 1], [0, h - 1]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    fill = (WHITE,) * (1 if img.ndim == 2 else img.shape[2])
    return cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderValue=fill), m.astype(np.float64)


# --- pixels ----------------------------------------------------------------------------------
def decode_png(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise ValueError("the page image could not be decoded")
    if img.ndim == 3 and img.shape[2] == 4:
        img = cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    return img


JPEG_QUALITY = 90  # RapidOCR reads real scans as well as from PNG (docs/ingest-sources.md)


def encode_image(img: np.ndarray, mime: str = "image/png") -> bytes:
    """PNG at zlib level 1 (lossless, fast), or JPEG (~10x faster again, half the bytes)."""
    if mime == "image/jpeg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    else:
        ok, buf = cv2.imencode(".png", img, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise ValueError("the page image could not be encoded")
    return buf.tobytes()


def encode_png(img: np.ndarray) -> bytes:
    return encode_image(img)


def to_gray(img: np.ndarray) -> np.ndarray:
    return img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
