"""Region rendering: highlights are drawn where the box is, crops cut exactly the box plus margin."""

from __future__ import annotations

import io

from PIL import Image, ImageDraw

from ingest.layout import BBox
from retrieval.regions import render_crop, render_highlight

WHITE = (255, 255, 255)
RED = (220, 0, 0)


def page_png(
    size: tuple[int, int] = (400, 200), red_box_px: tuple[int, int, int, int] | None = None
) -> bytes:
    image = Image.new("RGB", size, WHITE)
    if red_box_px:
        ImageDraw.Draw(image).rectangle(red_box_px, fill=RED)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def rgb(image: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    r, g, b = image.getpixel(xy)  # type: ignore[misc]
    return (r, g, b)


def open_png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG"
    return image.convert("RGB")


def test_highlight_tints_inside_the_box_and_leaves_the_rest_untouched() -> None:
    box = BBox(x0=0.25, y0=0.25, x1=0.5, y1=0.75)  # pixels 100..200 x 50..150
    image = open_png(render_highlight(page_png(), [box], colour=(255, 200, 0)))
    assert image.size == (400, 200)
    r, g, b = rgb(image, (150, 100))  # centre of the box: tinted, still light
    assert r > 240 and b < 200 and g > b
    assert image.getpixel((50, 100)) == WHITE  # left of the box
    assert image.getpixel((300, 100)) == WHITE  # right of the box
    assert image.getpixel((150, 20)) == WHITE  # above the box
    assert image.getpixel((100, 100)) == (255, 200, 0)  # the outline is opaque


def test_highlight_draws_every_box_and_keeps_text_under_it_visible() -> None:
    boxes = [BBox(x0=0.0, y0=0.0, x1=0.2, y1=0.2), BBox(x0=0.7, y0=0.7, x1=0.9, y1=0.9)]
    image = open_png(render_highlight(page_png(red_box_px=(300, 150, 340, 170)), boxes, colour=(0, 0, 255)))
    assert rgb(image, (40, 20))[2] > rgb(image, (40, 20))[0]  # first box tinted blue
    r, g, b = rgb(image, (320, 160))  # red text under the second box shows through
    assert r > 100 and b > 0
    assert image.getpixel((200, 100)) == WHITE


def test_crop_without_margin_is_exactly_the_box() -> None:
    png = page_png(red_box_px=(100, 50, 199, 149))
    image = open_png(render_crop(png, BBox(x0=0.25, y0=0.25, x1=0.5, y1=0.75), margin=0.0))
    assert image.size == (100, 100)
    colours = image.getcolors()
    assert colours is not None
    assert {c for _, c in colours} == {RED}


def test_crop_margin_adds_page_around_the_box_and_stops_at_the_edge() -> None:
    png = page_png(red_box_px=(100, 50, 199, 149))
    image = open_png(render_crop(png, BBox(x0=0.25, y0=0.25, x1=0.5, y1=0.75), margin=0.1))
    assert image.size == (180, 140)  # 40 px and 20 px each side
    assert image.getpixel((0, 0)) == WHITE and image.getpixel((90, 70)) == RED
    edge = open_png(render_crop(png, BBox(x0=0.0, y0=0.0, x1=0.1, y1=0.1), margin=0.05))
    assert edge.size == (60, 30)  # clipped at the top-left corner
