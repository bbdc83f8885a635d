"""Page kinds from cheap image measurements: rendered screenshots, drawings and camera photos, a
scanned text page, and a page with a text layer; the per-upload `kinds` routes."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from ingest.ocr.engine import KindRoute, OcrOptions
from ingest.ocr.page_kind import KindMeasures, classify_page, page_kind
from ingest.ocr.rapidocr import RapidOcrEngine
from ingest.ocr.router import OcrRouter
from ingest.sources import SourceConfig, open_source
from tests.support import page_kinds
from tests.support.documents import print_size_pdf
from tests.support.page_kinds import settings_window


@pytest.mark.parametrize("seed", [100, 101, 102])  # desktop light, desktop dark, phone
def test_screenshots(seed: int) -> None:
    assert page_kind(page_kinds.screenshot(seed), has_text=False)[0] == "screenshot"


@pytest.mark.parametrize("seed", [100, 101])
def test_drawings(seed: int) -> None:
    kind, reason = page_kind(page_kinds.drawing(seed), has_text=False)
    assert kind == "drawing" and "strokes" in reason


@pytest.mark.parametrize("seed", [100, 101])
def test_photos_of_a_page(seed: int) -> None:
    assert page_kind(page_kinds.photo(seed), has_text=False)[0] == "photo"


@pytest.mark.parametrize("table", [False, True])
def test_scanned_text_with_or_without_a_ruled_table(tmp_path: Path, table: bool) -> None:
    pdf = print_size_pdf(tmp_path / "scan.pdf", [(11, table)])
    with open_source(pdf, SourceConfig()) as doc:
        page = doc.render_page(1)
    assert page_kind(page, has_text=False)[0] == "scanned_text"
    assert page_kind(page, has_text=True) == ("born_digital", "text layer")  # the text layer decides first


def test_rules_in_order_photo_before_screen_before_drawing() -> None:
    colourful_photo = KindMeasures(flat=0.7, colour=0.3, background=60, graphic=0.4, glyphs=50)
    assert classify_page(colourful_photo, has_text=False)[0] == "photo"
    logo_receipt = colourful_photo.model_copy(
        update={"flat": 0.9, "colour": 0.03, "background": 252, "glyphs": 440}
    )
    assert classify_page(logo_receipt, has_text=False)[0] == "scanned_text"
    dark_screen = logo_receipt.model_copy(update={"colour": 0.0, "background": 31})
    assert classify_page(dark_screen, has_text=False)[0] == "screenshot"


def test_upload_routes_parse_and_refuse_unknown_kinds_and_engines() -> None:
    routes = KindRoute.parse_map("screenshot=vlm, drawing=vlm:gundam,")
    assert routes == {
        "screenshot": KindRoute(engine="vlm"),
        "drawing": KindRoute(engine="vlm", mode="gundam"),
    }
    for bad in ("selfie=vlm", "photo=tesseract", "photo=deepseek:huge"):
        with pytest.raises(ValidationError):
            KindRoute.parse_map(bad)


async def test_a_route_to_an_engine_not_configured_reads_the_page_the_usual_way() -> None:
    rapidocr = RapidOcrEngine()
    options = OcrOptions(kinds={"screenshot": KindRoute(engine="vlm")})
    layout = await OcrRouter({"rapidocr": rapidocr}).recognize(settings_window(), options)
    assert layout.engine == "rapidocr" and layout.quality.status == "ok"
    assert layout.page_kind is not None and layout.page_kind.kind == "screenshot"
    assert "vlm is not configured here" in layout.page_kind.reason
    explicit = await OcrRouter({"rapidocr": rapidocr}).recognize(
        settings_window(), OcrOptions(engine="rapidocr", kinds=options.kinds)
    )
    assert explicit.page_kind is None  # an explicit engine is not routed by kind
