"""ingest.preprocess: each step does its job and boxes found after it land on the original page."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pymupdf
import pytest

from ingest.layout import BBox, Block, Line, PageLayout
from ingest.ocr.engine import PreprocessOptions
from ingest.page import PageImage
from ingest.preprocess import decode_png, encode_png, estimate_skew, preprocess_page, rotate
from ingest.sources import open_source

MARKER_PT = (400.0, 600.0, 500.0, 700.0)  # a filled black square on the synthetic page


def text_page_pixels() -> np.ndarray:
    """A letter page at 72 dpi: lines of text and one black square marker, as BGR pixels."""
    doc = pymupdf.open()
    page = doc.new_page(width=612, height=792)
    for i in range(16):
        page.insert_text(
            (60, 80 + i * 28), f"Line {i} of the quick brown fox jumps over the dog", fontsize=16
        )
    page.draw_rect(pymupdf.Rect(*MARKER_PT), color=(0, 0, 0), fill=(0, 0, 0))
    pix = page.get_pixmap(dpi=72, alpha=False)
    return np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)[:, :, ::-1].copy()


def as_page(img: np.ndarray) -> PageImage:
    h, w = img.shape[:2]
    return PageImage(
        page=1, width=w, height=h, unit="px", image_png=encode_png(img), image_size=(w, h), dpi=72
    )


def marker_box(img: np.ndarray) -> tuple[float, float, float, float]:
    """Pixel box of the biggest dark blob: the marker (text glyphs are far smaller)."""
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    _, ink = cv2.threshold(gray, 100, 255, cv2.THRESH_BINARY_INV)
    n, _, stats, _ = cv2.connectedComponentsWithStats(ink)
    x, y, w, h, _ = stats[1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))]
    return float(x), float(y), float(x + w), float(y + h)


def assert_boxes_close(a: BBox, b: BBox, tol: float) -> None:
    assert max(abs(u - v) for u, v in zip(a.as_list(), b.as_list(), strict=True)) <= tol, (a, b)


def test_no_options_returns_the_page_unchanged() -> None:
    page = as_page(text_page_pixels())
    prepared = preprocess_page(page, PreprocessOptions())
    box = BBox(x0=0.1, y0=0.2, x1=0.3, y1=0.4)
    assert prepared.page is page and prepared.steps == ()
    assert prepared.to_original(box) == box


@pytest.mark.parametrize("angle", [-6.0, 4.5])
def test_deskew_finds_the_angle_and_maps_boxes_back_onto_the_rotated_original(angle: float) -> None:
    skewed, _ = rotate(text_page_pixels(), angle)
    assert abs(estimate_skew(skewed) + angle) <= 0.3

    prepared = preprocess_page(as_page(skewed), PreprocessOptions(deskew=True))
    assert prepared.steps[0].startswith("deskew")
    straight = decode_png(prepared.page.image_png)
    found = BBox.from_pixels(marker_box(straight), prepared.page.image_size)
    # the marker is axis-aligned again: its box is a square of the original 100 pt side
    x0, y0, x1, y1 = marker_box(straight)
    assert abs((x1 - x0) - 100) <= 4 and abs((y1 - y0) - 100) <= 4

    expected = BBox.from_pixels(marker_box(skewed), (skewed.shape[1], skewed.shape[0]))
    assert_boxes_close(prepared.to_original(found), expected, tol=0.01)


def test_perspective_finds_the_page_in_a_photo_and_maps_boxes_back() -> None:
    page = text_page_pixels()
    h, w = page.shape[:2]
    photo_size = (1000, 1100)
    corners = np.array(
        [[120, 90], [820, 140], [860, 1010], [90, 960]], dtype=np.float32
    )  # tl, tr, br, bl in the photo
    homography = cv2.getPerspectiveTransform(
        np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32), corners
    )
    photo = cv2.warpPerspective(page, homography, photo_size, borderValue=(140, 130, 120))  # a grey desk

    prepared = preprocess_page(as_page(photo), PreprocessOptions(perspective=True))
    assert prepared.steps == ("perspective",)
    flat = decode_png(prepared.page.image_png)
    fx0, fy0, fx1, fy1 = marker_box(flat)
    # nearly square again (a doc-scanner warp sizes the page from its edges; a photo foreshortens them)
    assert abs((fx1 - fx0) / (fy1 - fy0) - 1.0) < 0.2

    found = BBox.from_pixels((fx0, fy0, fx1, fy1), prepared.page.image_size)
    expected = BBox.from_pixels(marker_box(photo), photo_size)
    assert_boxes_close(prepared.to_original(found), expected, tol=0.015)


def test_photo_without_a_page_outline_is_left_as_is() -> None:
    prepared = preprocess_page(as_page(text_page_pixels()), PreprocessOptions(perspective=True))
    assert prepared.steps == ()


def test_binarize_leaves_only_black_and_white_and_keeps_geometry() -> None:
    img = text_page_pixels()
    shade = np.broadcast_to(np.linspace(0, 80, img.shape[1], dtype=np.uint8)[None, :, None], img.shape)
    img = cv2.add(img, np.ascontiguousarray(shade))
    prepared = preprocess_page(as_page(img), PreprocessOptions(binarize=True, clahe=True, denoise=True))
    out = decode_png(prepared.page.image_png)
    assert prepared.steps == ("denoise", "clahe", "binarize")
    assert set(np.unique(out).tolist()) <= {0, 255}
    assert out.shape[:2] == img.shape[:2]
    box = BBox(x0=0.2, y0=0.2, x1=0.5, y1=0.6)
    assert prepared.to_original(box) == box


def test_clahe_raises_local_contrast_of_a_faded_scan() -> None:
    faded = (text_page_pixels().astype(np.float32) * 0.25 + 150).astype(np.uint8)
    out = decode_png(preprocess_page(as_page(faded), PreprocessOptions(clahe=True)).page.image_png)

    def spread(a: np.ndarray) -> float:
        return float(np.percentile(a, 99.5) - np.percentile(a, 0.5))

    assert spread(out) > 1.3 * spread(cv2.cvtColor(faded, cv2.COLOR_BGR2GRAY))


def test_map_layout_moves_block_and_line_boxes_and_restores_image_size() -> None:
    skewed, _ = rotate(text_page_pixels(), 5.0)
    original = as_page(skewed)
    prepared = preprocess_page(original, PreprocessOptions(deskew=True))
    box = BBox(x0=0.3, y0=0.3, x1=0.6, y1=0.4)
    layout = PageLayout(
        page=1,
        width=original.width,
        height=original.height,
        image_size=prepared.page.image_size,
        engine="x",
        blocks=[Block(kind="text", markdown="t", bbox=box, lines=[Line(text="t", bbox=box)])],
    )
    mapped = prepared.map_layout(layout)
    assert mapped.image_size == original.image_size
    assert mapped.blocks[0].bbox == prepared.to_original(box) == mapped.blocks[0].lines[0].bbox
    assert mapped.blocks[0].bbox != box


@pytest.mark.parametrize("name", ["skew.pdf", "rotated_skew.pdf"])
def test_deskew_straightens_real_skewed_scans(testdata: Path, name: str) -> None:
    with open_source(testdata / "ocrmypdf-test-resources" / name) as doc:
        page = doc.render_page(1)
    assert abs(estimate_skew(decode_png(page.image_png))) >= 1.0
    prepared = preprocess_page(page, PreprocessOptions(deskew=True))
    assert abs(estimate_skew(decode_png(prepared.page.image_png))) <= 0.2
