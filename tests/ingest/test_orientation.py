"""ingest.orientation: the decisions on plain values, the geometry on marked pixels, the probe with a fake reader.

The real engine on rotated scans is tested in test_rapidocr.py (it shares that module's models).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from ingest.layout import BBox
from ingest.orientation import (
    ROTATIONS,
    Box,
    choose_rotation,
    detect_orientation,
    is_sideways,
    probe_crop,
    probe_lines,
    rotate_image,
    rotate_prepared,
    rotation_matrix,
)
from ingest.page import PageImage
from ingest.preprocess import PreparedPage, decode_png, encode_png

WIDE: Box = (100, 100, 500, 130)
TALL: Box = (100, 100, 130, 500)


# --- decisions ---------------------------------------------------------------------------------
def test_wide_lines_mean_upright_and_tall_lines_mean_sideways() -> None:
    assert not is_sideways([WIDE, WIDE, TALL])
    assert is_sideways([TALL, TALL, WIDE])
    assert not is_sideways([])


def test_square_boxes_do_not_vote_and_long_lines_outweigh_short_ones() -> None:
    squares = [(0, 0, 30, 30)] * 20  # single characters, page numbers
    assert is_sideways([*squares, TALL])
    assert not is_sideways([(0, 0, 30, 60), (0, 0, 30, 60), (0, 0, 900, 30)])  # one long line wins


def test_probe_lines_are_the_longest_lines_that_run_the_page_way() -> None:
    boxes: list[Box] = [(0, 0, 100, 20), (0, 0, 600, 20), (0, 0, 20, 800), (0, 0, 300, 20), (0, 0, 20, 20)]
    assert probe_lines(boxes, sideways=False, k=2) == [1, 3]
    assert probe_lines(boxes, sideways=True, k=2) == [2]  # the square never probes


@pytest.mark.parametrize(
    ("scores", "sideways", "rotation"),
    [
        ({0: 0.95, 180: 0.60}, False, 0),
        ({0: 0.65, 180: 0.98}, False, 180),
        ({0: 0.80, 180: 0.83}, False, 0),  # not clearly better: an upright page is never turned on a hunch
        ({0: 0.30, 180: 0.50}, False, 0),  # neither reads: leave it
        ({90: 0.97, 270: 0.70}, True, 90),
        ({90: 0.70, 270: 0.97}, True, 270),
        ({90: 0.40, 270: 0.45}, True, 0),  # vertical CJK columns read badly both ways: leave them
        ({}, True, 0),
    ],
)
def test_choose_rotation(scores: dict[int, float], sideways: bool, rotation: int) -> None:
    assert choose_rotation(scores, sideways) == rotation


# --- geometry ----------------------------------------------------------------------------------
@pytest.mark.parametrize("rotation", ROTATIONS)
def test_rotation_matrix_follows_the_pixels_of_the_turned_image(rotation: int) -> None:
    img = np.zeros((30, 50), np.uint8)
    img[5:8, 40:44] = 255  # a mark near the top-right corner
    turned = rotate_image(img, rotation)
    ys, xs = np.nonzero(turned)
    m = rotation_matrix(rotation, (50, 30))
    corners = np.array([m @ (x, y, 1.0) for x, y in [(40, 5), (44, 8)]])
    assert (corners[:, 0].min(), corners[:, 1].min()) == (xs.min(), ys.min())
    assert (corners[:, 0].max(), corners[:, 1].max()) == (xs.max() + 1, ys.max() + 1)


def test_rotation_other_than_quarter_turns_is_refused() -> None:
    with pytest.raises(ValueError, match="rotation must be one of"):
        rotation_matrix(45, (10, 10))


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_box_on_the_turned_page_maps_back_onto_the_original(rotation: int) -> None:
    img = np.full((300, 400, 3), 255, np.uint8)
    img[40:60, 250:380] = 0  # a dark "word" at a known place
    page = PageImage(
        page=1, width=400, height=300, unit="px", image_png=encode_png(img), image_size=(400, 300), dpi=72
    )
    prepared = rotate_prepared(PreparedPage(page=page, original_size=(400, 300)), rotation)
    turned = decode_png(prepared.page.image_png)
    assert prepared.page.image_size == (turned.shape[1], turned.shape[0])
    assert prepared.steps == (f"rotate({rotation})",)
    ys, xs = np.nonzero(turned[:, :, 0] == 0)
    found = BBox.from_pixels((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1), prepared.page.image_size)
    back = prepared.to_original(found)
    assert back.iou(BBox.from_pixels((250, 40, 380, 60), (400, 300))) > 0.99


def test_turning_composes_with_an_earlier_preprocessing_step() -> None:
    shift = np.array([[1.0, 0, 10], [0, 1, 20], [0, 0, 1]])  # e.g. a crop recorded by preprocessing
    page = PageImage(
        page=1, width=100, height=50, unit="px", image_png=encode_png(np.zeros((50, 100), np.uint8)),
        image_size=(100, 50), dpi=72,
    )  # fmt: skip
    prepared = rotate_prepared(PreparedPage(page=page, original_size=(120, 80), matrix=shift), 180)
    # original pixel (15, 25) -> shifted (25, 45) -> turned (75, 5)
    np.testing.assert_allclose(prepared.matrix @ (15, 25, 1), (75, 5, 1))


def test_very_long_probe_is_cut_to_its_middle() -> None:
    img = np.zeros((100, 1000), np.uint8)
    assert probe_crop(img, (0, 10, 1000, 30)).shape == (20, 200)
    assert probe_crop(img, (5, 0, 25, 80)).shape == (80, 20)


# --- the probe, with a fake reader -------------------------------------------------------------
def arrow_page() -> tuple[np.ndarray, list[Box]]:
    """Wide 'lines' whose left end is heavier: readable only when the heavy end is on the left."""
    img = np.full((400, 600), 255, np.uint8)
    boxes: list[Box] = []
    for i in range(5):
        y = 40 + i * 60
        img[y : y + 20, 50:230] = 160  # 9 line heights: probed whole
        img[y : y + 20, 50:90] = 0
        boxes.append((50, y, 230, y + 20))
    return img, boxes


def fake_reader(crops: list[np.ndarray]) -> list[float]:
    def score(c: np.ndarray) -> float:
        h, w = c.shape[:2]
        if w < 2 * h:
            return 0.1
        return 0.97 if c[:, : w // 4].mean() < c[:, -w // 4 :].mean() else 0.6

    return [score(c) for c in crops]


def boxes_on(img: np.ndarray) -> list[Box]:
    """The lines' boxes, found again on a turned page (what a detector would return)."""
    n, _, stats, _ = cv2.connectedComponentsWithStats((img < 200).astype(np.uint8))
    return [(int(x), int(y), int(x + w), int(y + h)) for x, y, w, h, _ in stats[1:n]]


@pytest.mark.parametrize("turned_by", ROTATIONS)
def test_probe_finds_the_turn_that_undoes_the_scan(turned_by: int) -> None:
    upright, _ = arrow_page()
    scanned = rotate_image(upright, turned_by)  # scanned turned clockwise by `turned_by`
    boxes = boxes_on(scanned)
    as_read = fake_reader([probe_crop(scanned, b) for b in boxes])
    orientation = detect_orientation(scanned, boxes, as_read, fake_reader)
    assert orientation.rotation == (360 - turned_by) % 360
    assert orientation.sideways == (turned_by in (90, 270))


def test_confident_upright_page_is_not_probed_again() -> None:
    img, boxes = arrow_page()

    def no_reader(crops: list[np.ndarray]) -> list[float]:
        raise AssertionError("probed a page that already read well")

    orientation = detect_orientation(img, boxes, [0.98] * len(boxes), no_reader)
    assert (orientation.rotation, orientation.scores) == (0, ((0, 0.98),))


def test_page_without_lines_stays_as_it_is() -> None:
    img = np.full((100, 100), 255, np.uint8)
    assert detect_orientation(img, [], [], fake_reader).rotation == 0
