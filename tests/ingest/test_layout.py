"""The shared box model: conversions between DeepSeek's 0..999 grid, points, pixels and 0..1."""

from __future__ import annotations

import pytest

from ingest.layout import BBox, Block, PageLayout, Region


def test_box_from_999_divides_by_999_per_axis() -> None:
    box = BBox.from_999([0, 0, 999, 999])
    assert box.as_list() == [0.0, 0.0, 1.0, 1.0]
    box = BBox.from_999([217, 209, 520, 225])
    assert box.x0 == pytest.approx(217 / 999)
    assert box.y1 == pytest.approx(225 / 999)
    assert [round(v * 999) for v in box.as_list()] == [217, 209, 520, 225]


def test_box_orders_corners_and_clamps_to_page() -> None:
    box = BBox(x0=0.8, y0=1.3, x1=-0.2, y1=0.4)
    assert box.as_list() == [0.0, 0.4, 0.8, 1.0]


def test_box_from_list_validates_like_fields() -> None:
    assert BBox.model_validate([0.3, 0.4, 0.1, 0.2]).as_list() == [0.1, 0.2, 0.3, 0.4]


def test_bottom_left_points_flip_to_top_left() -> None:
    # docling JSON uses PDF points with a bottom-left origin
    box = BBox.from_points([72, 720, 540, 700], [612, 792], origin="bottom")
    assert box.y0 == pytest.approx(72 / 792)
    assert box.y1 == pytest.approx(92 / 792)
    assert box.to_pixels([612, 792]) == pytest.approx([72, 72, 540, 92])


def test_pixel_round_trip() -> None:
    box = BBox.from_pixels([100, 50, 300, 150], (1000, 500))
    assert box.to_pixels((1000, 500)) == pytest.approx([100, 50, 300, 150])


def test_iou_union_and_contains() -> None:
    a = BBox(x0=0, y0=0, x1=0.5, y1=0.5)
    b = BBox(x0=0.25, y0=0.25, x1=0.75, y1=0.75)
    assert a.iou(a) == pytest.approx(1.0)
    assert a.iou(b) == pytest.approx(0.0625 / (0.25 + 0.25 - 0.0625))
    assert BBox.union([a, b]).as_list() == [0, 0, 0.75, 0.75]
    assert BBox.union([a, b]).contains(b)
    assert not a.contains(b)
    with pytest.raises(ValueError):
        BBox.union([])


def test_content_blocks_drop_furniture_and_keep_reading_order() -> None:
    box = BBox(x0=0, y0=0, x1=1, y1=0.1)
    layout = PageLayout(
        page=1,
        width=612,
        height=792,
        image_size=(1224, 1584),
        engine="textlayer",
        blocks=[
            Block(kind="text", markdown="second", bbox=box, order=2),
            Block(kind="header", markdown="ACME confidential", bbox=box, order=0),
            Block(kind="heading", markdown="first", bbox=box, order=1, level=1),
            Block(kind="page_number", markdown="1", bbox=box, order=3),
        ],
    )
    assert [b.markdown for b in layout.content_blocks()] == ["first", "second"]
    # the layout survives a JSON round trip (it is the resume point on disk)
    assert PageLayout.model_validate_json(layout.model_dump_json()) == layout


def test_region_public_shape() -> None:
    region = Region(page=2, bbox=BBox(x0=0.1, y0=0.2, x1=0.3, y1=0.4))
    assert region.to_public() == {"page": 2, "bbox": [0.1, 0.2, 0.3, 0.4]}
