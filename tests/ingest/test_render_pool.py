"""Rendering for the pool: grey pages rendered straight to one channel, with the pixels and JPEG bytes
the RGB render gave before."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pymupdf
import pytest
from PIL import Image

from ingest.render_pool import draws_in_grey, encode_pixmap, render_image, render_pixmap


def _scan_pdf(path: Path, mode: str) -> Path:
    """One page holding a noisy scan image in `mode` ("L" grey, "RGB" colour)."""
    rng = np.random.default_rng(7)
    pixels = rng.integers(0, 256, size=(300, 240), dtype=np.uint8)
    img = Image.fromarray(pixels).convert(mode)
    if mode == "RGB":  # a red stamp on the scan
        img.paste((200, 30, 30), (20, 20, 80, 60))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=90)
    doc = pymupdf.open()
    page = doc.new_page(width=240, height=300)
    page.insert_image(page.rect, stream=buf.getvalue())
    doc.save(path)
    return path


def test_grey_scan_renders_one_channel_with_the_pixels_of_the_rgb_render(tmp_path: Path) -> None:
    path = _scan_pdf(tmp_path / "grey.pdf", "L")
    page = pymupdf.open(path)[0]
    pix = render_pixmap(page, 144)
    rgb = page.get_pixmap(dpi=144, alpha=False)
    assert pix.n == 1 and (pix.width, pix.height) == (rgb.width, rgb.height)
    assert pix.samples == np.frombuffer(rgb.samples, np.uint8)[0::3].tobytes()
    # what the server receives is unchanged: the same JPEG as encoding the RGB render
    assert render_image(str(path), 1, 144, "jpeg")[0] == encode_pixmap(rgb, "jpeg")


def test_colour_scan_renders_in_rgb(tmp_path: Path) -> None:
    path = _scan_pdf(tmp_path / "colour.pdf", "RGB")
    page = pymupdf.open(path)[0]
    assert not draws_in_grey(page.get_displaylist())
    assert render_pixmap(page, 144).n == 3
    data, size = render_image(str(path), 1, 144, "jpeg")
    assert Image.open(io.BytesIO(data)).mode == "RGB" and size == (480, 600)


@pytest.mark.parametrize(
    ("color", "grey"), [((0.0, 0.0, 0.0), False), ((0.9, 0.1, 0.3), False)], ids=["rgb-black", "red"]
)
def test_text_in_an_rgb_colour_counts_as_colour(tmp_path: Path, color: tuple[float, ...], grey: bool) -> None:
    """RGB text, even black, goes the RGB way; the encoder still sends it grey where every pixel is."""
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    page.insert_text((30, 80), "Grey or colour", fontsize=24, color=color)
    assert draws_in_grey(page.get_displaylist()) is grey


def test_grey_text_and_rules_count_as_grey(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    page.insert_text((30, 80), "Grey", fontsize=24, color=(0.3,))
    page.draw_rect(pymupdf.Rect(30, 120, 200, 160), color=(0.0,), fill=(0.5,))
    assert draws_in_grey(page.get_displaylist())
    assert render_pixmap(page, 144).n == 1


def test_a_pdf_rewritten_in_place_is_rendered_anew(tmp_path: Path) -> None:
    """The worker keeps the last PDF open between pages, but not past a change to the file."""
    path = tmp_path / "doc.pdf"
    for width in (200, 300):
        doc = pymupdf.open()
        doc.new_page(width=width, height=100).insert_text((20, 50), f"{width} wide", color=(0.0,))
        doc.save(path)
        assert render_image(str(path), 1, 72, "png")[1] == (width, 100)
    assert render_image(str(path), 1, 144, "png")[1] == (600, 200)  # the same file again, another dpi
