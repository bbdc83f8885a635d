"""Rendered pages of the kinds the shared test data lacks: UI screenshots, line drawings and camera
photos of a page, each varied by a seed (tests of ingest.ocr.page_kind and bench/page_kinds.py)."""

from __future__ import annotations

import random

import cv2
import numpy as np
import pymupdf

from ingest.page import PageImage
from tests.support.documents import SECTIONS

WORDS = " ".join(body for _, body in SECTIONS).split()


def _phrase(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _image_page(img: np.ndarray) -> PageImage:
    ok, png = cv2.imencode(".png", img)
    assert ok
    height, width = img.shape[:2]
    return PageImage(
        page=1,
        width=width,
        height=height,
        unit="px",
        image_png=png.tobytes(),
        image_size=(width, height),
        dpi=72,
    )


def _pixmap_page(page: pymupdf.Page) -> PageImage:
    pix = page.get_pixmap(dpi=72)
    img = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[..., :3][..., ::-1]
    return _image_page(np.ascontiguousarray(img))


def screenshot(seed: int) -> PageImage:
    """A desktop or phone window: a coloured bar, a side menu or cards, buttons, text; some dark."""
    rng = random.Random(seed)
    phone = seed % 3 == 2
    width, height = (390, 844) if phone else rng.choice([(1280, 800), (1440, 900), (1920, 1080)])
    dark = seed % 4 == 1
    bg, fg = ((0.12, 0.12, 0.14), (0.9, 0.9, 0.9)) if dark else ((1, 1, 1), (0.1, 0.1, 0.1))
    accent = (rng.uniform(0, 0.4), rng.uniform(0.3, 0.7), rng.uniform(0.6, 1.0))
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.draw_rect(page.rect, color=None, fill=bg)
    page.draw_rect(pymupdf.Rect(0, 0, width, 56), color=None, fill=accent)
    page.insert_text((20, 36), _phrase(rng, 3).title(), fontsize=20, color=(1, 1, 1))
    left = 20 if phone else 240
    if not phone:
        page.draw_rect(
            pymupdf.Rect(0, 56, 220, height),
            color=None,
            fill=(0.2, 0.2, 0.24) if dark else (0.94, 0.95, 0.97),
        )
        for i in range(8):
            page.insert_text((20, 100 + 36 * i), _phrase(rng, 2), fontsize=14, color=fg)
    y = 100
    while y < height - 80:
        page.insert_text(
            (left, y), _phrase(rng, rng.randint(3, 7)), fontsize=rng.choice([14, 16, 18]), color=fg
        )
        y += rng.randint(30, 50)
        if rng.random() < 0.25:
            button = pymupdf.Rect(left, y, left + 140, y + 36)
            page.draw_rect(button, color=None, fill=accent, radius=0.2)
            page.insert_text((left + 16, y + 24), _phrase(rng, 1).title(), fontsize=14, color=(1, 1, 1))
            y += 56
    return _pixmap_page(page)


def drawing(seed: int) -> PageImage:
    """A line drawing: a part outline with holes, arcs, hatching, dimension lines, a few labels."""
    rng = random.Random(seed)
    width, height = rng.choice([(1684, 1191), (1191, 842), (842, 1191)])
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.draw_rect(pymupdf.Rect(20, 20, width - 20, height - 20), width=2)  # frame
    page.draw_rect(pymupdf.Rect(width - 320, height - 120, width - 20, height - 20), width=1.5)  # title block
    page.insert_text((width - 300, height - 80), f"PART {seed:03d} {_phrase(rng, 2).upper()}", fontsize=12)
    page.insert_text((width - 300, height - 50), "SCALE 1:2  MATERIAL AL 6061", fontsize=10)
    for _ in range(rng.randint(2, 4)):
        x0, y0 = rng.uniform(80, width * 0.5), rng.uniform(80, height * 0.5)
        x1, y1 = x0 + rng.uniform(150, width * 0.4), y0 + rng.uniform(120, height * 0.35)
        shape = page.new_shape()
        shape.draw_polyline([(x0, y0), (x1, y0), (x1, y1 - 40), (x1 - 40, y1), (x0, y1), (x0, y0)])
        for _ in range(rng.randint(1, 3)):
            cx, cy = rng.uniform(x0 + 30, x1 - 30), rng.uniform(y0 + 30, y1 - 30)
            shape.draw_circle((cx, cy), rng.uniform(10, 35))
        for k in range(rng.randint(4, 10)):  # hatching
            shape.draw_line((x0 + 10 * k, y1 - 5), (x0 + 10 * k + 30, y1 - 35))
        shape.finish(width=1.2)
        dim = page.new_shape()
        dim.draw_line((x0, y0 - 25), (x1, y0 - 25))
        dim.draw_line((x0, y0 - 35), (x0, y0 - 5))
        dim.draw_line((x1, y0 - 35), (x1, y0 - 5))
        dim.finish(width=0.6)
        page.insert_text(((x0 + x1) / 2 - 15, y0 - 30), f"{(x1 - x0) / 2:.1f}", fontsize=9)
    return _pixmap_page(page)


def photo(seed: int) -> PageImage:
    """A phone photo of a printed page: a desk around it, a tilt, uneven light, blur and noise."""
    rng = random.Random(seed)
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    y = 70
    while y < 780:
        page.insert_text((60, y), _phrase(rng, rng.randint(6, 11)), fontsize=11)
        y += 18
    pix = page.get_pixmap(dpi=100)
    sheet = (
        np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, pix.n)[..., :3].astype(np.float32)
    )
    out_w, out_h = 1200, 1600
    desk = np.zeros((out_h, out_w, 3), np.float32) + np.array(
        [rng.uniform(60, 140), rng.uniform(50, 110), rng.uniform(30, 90)]
    )
    desk += np.random.default_rng(seed).normal(0, 18, desk.shape)  # wood grain, roughly
    src = np.float32([[0, 0], [pix.width, 0], [pix.width, pix.height], [0, pix.height]])
    jitter = [rng.uniform(-60, 60) for _ in range(8)]
    dst = np.float32(
        [
            [150 + jitter[0], 150 + jitter[1]],
            [1050 + jitter[2], 120 + jitter[3]],
            [1080 + jitter[4], 1480 + jitter[5]],
            [120 + jitter[6], 1450 + jitter[7]],
        ]
    )
    matrix = cv2.getPerspectiveTransform(src, dst)
    warped = cv2.warpPerspective(
        sheet, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderValue=(-1, -1, -1)
    )
    mask = warped[..., 0] >= 0
    img = np.where(mask[..., None], warped, desk)
    light = np.linspace(rng.uniform(0.55, 0.8), rng.uniform(1.0, 1.15), out_w, dtype=np.float32)[
        None, :, None
    ]
    img = img * light * np.array([rng.uniform(0.85, 1.0), rng.uniform(0.9, 1.0), 1.0], np.float32)
    img = cv2.GaussianBlur(img, (3, 3), 0) + np.random.default_rng(seed + 1).normal(0, 6, img.shape)
    return _image_page(np.clip(img, 0, 255).astype(np.uint8))


SCREEN_SIZE = (1280, 800)  # a desktop screenshot, in pixels
# (text, top-left corner in px, font size): a settings window
SCREEN = [
    ("Account settings", (60, 90), 30),
    ("Display name: Ada Lovelace", (60, 200), 22),
    ("Storage used: 42.5 GB of 100 GB", (60, 260), 22),
    ("Two-factor sign-in is turned on", (60, 320), 22),
]


def settings_window() -> PageImage:
    """A settings window with the text of SCREEN where it says (tests of the vlm engine)."""
    doc = pymupdf.open()
    page = doc.new_page(width=SCREEN_SIZE[0], height=SCREEN_SIZE[1])
    page.draw_rect(pymupdf.Rect(0, 0, SCREEN_SIZE[0], 64), color=None, fill=(0.2, 0.3, 0.6))  # title bar
    for text, (x, y), size in SCREEN:
        page.insert_text((x, y), text, fontsize=size)
    pix = page.get_pixmap(dpi=72)
    return PageImage(
        page=1,
        width=SCREEN_SIZE[0],
        height=SCREEN_SIZE[1],
        unit="px",
        image_png=pix.tobytes("png"),
        image_size=SCREEN_SIZE,
        dpi=72,
    )
