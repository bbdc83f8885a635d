"""Calibration for the API and CLI: a kb's (or the user's files') pages read in each DeepSeek mode, and the
recommended mode per page kind saved as the kb's default (`kb_settings`), which uploads naming no mode use.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import select

from api.calibration_chart import render_chart
from api.db import DocumentRow, KbSettingsRow, utcnow
from api.errors import ApiError, NotFound
from api.schemas import CalibrationPublic
from api.services import Services
from ingest.calibration import DEFAULT_TOLERANCE, Calibration, CalibrationReport, SamplePage, sample_pages
from ingest.ocr.engine import KindRoute, OcrOptions, PageKind, ResolutionMode
from ingest.ocr.textlayer import TextLayerEngine

MAX_SAMPLE = 200


class NoDeepSeek(ApiError):
    code = "no_deepseek"
    status = 409


def with_chart(
    kb: str, report: CalibrationReport, modes: Mapping[PageKind, ResolutionMode]
) -> CalibrationPublic:
    return CalibrationPublic(kb=kb, modes=dict(modes), report=report, chart_svg=render_chart(report))


def calibration(services: Services) -> Calibration:
    """The calibration over the configured DeepSeek server; NoDeepSeek when none is configured."""
    settings = services.settings
    engine = services.components.router().engines.get("deepseek")
    if settings.deepseek is None or engine is None:
        raise NoDeepSeek(
            "calibration compares DeepSeek-OCR modes and no DeepSeek server is configured: set deepseek.url "
            "(or pass --ocr-url to `opticite calibrate`)"
        )
    layer = TextLayerEngine(settings.textlayer)
    return Calibration(engine, layer.recognize_sync, settings.source)


def kb_sample(services: Services, kb: str, n: int) -> list[SamplePage]:
    """`n` pages spread over the kb's documents (those read, fully or partly)."""
    with services.db.session() as s:
        rows = s.execute(
            select(DocumentRow)
            .where(DocumentRow.kb == kb, DocumentRow.status.in_(("done", "partial")))
            .order_by(DocumentRow.created)
        ).scalars()
        docs = [(Path(r.source_path), r.filename, r.pages) for r in rows if Path(r.source_path).is_file()]
    if not docs:
        raise NotFound(f"kb {kb!r} has no ingested documents to calibrate on")
    return sample_pages(docs, n)


async def calibrate_kb(
    services: Services,
    kb: str,
    sample: int,
    tolerance: float = DEFAULT_TOLERANCE,
    save: bool = False,
    on_step: Callable[[int, int], None] = lambda done, total: None,
) -> CalibrationPublic:
    """Calibrate on a sample of the kb's own pages; `save` makes the recommendation its default."""
    runner = calibration(services)
    pages = kb_sample(services, kb, sample)
    report = await runner.run(pages, tolerance=tolerance, on_step=on_step)
    if save:
        return save_calibration(services, kb, report.recommended, report)
    return with_chart(kb, report, report.recommended)


def save_calibration(
    services: Services,
    kb: str,
    modes: Mapping[PageKind, ResolutionMode],
    report: CalibrationReport | None = None,
) -> CalibrationPublic:
    values: dict[str, Any] = {
        "kb": kb,
        "modes": dict(modes),
        "calibration": report.model_dump(mode="json") if report is not None else None,
        "updated": utcnow(),
    }
    with services.db.session() as s:
        services.db.upsert(s, KbSettingsRow, values)
    return read_calibration(services, kb)


def read_calibration(services: Services, kb: str) -> CalibrationPublic:
    """The kb's saved modes and report; no modes when it was never calibrated."""
    with services.db.session() as s:
        row = s.get(KbSettingsRow, kb)
        if row is None:
            return CalibrationPublic(kb=kb, modes={})
        saved = {"kb": kb, "modes": row.modes, "report": row.calibration, "updated": row.updated}
    public = CalibrationPublic.model_validate(saved)
    if public.report is None:
        return public
    return public.model_copy(update={"chart_svg": render_chart(public.report)})


def kb_modes(services: Services, kb: str) -> dict[PageKind, ResolutionMode]:
    with services.db.session() as s:
        row = s.get(KbSettingsRow, kb)
        modes = dict(row.modes) if row is not None else {}
    return CalibrationPublic.model_validate({"kb": kb, "modes": modes}).modes


def apply_kb_modes(options: OcrOptions, modes: Mapping[PageKind, ResolutionMode]) -> OcrOptions:
    """`options` for an upload that names no mode: each kind with a saved mode is read in it (pure).

    A kind routed to another engine keeps its route; one routed to DeepSeek or auto with no mode of its
    own gets the saved one; an unrouted kind goes the usual auto way in the saved mode. Routing by kind
    happens under `engine: auto` only, so another engine leaves the options as they are.
    """
    if options.engine != "auto" or not modes:
        return options
    kinds = dict(options.kinds)
    for kind, mode in modes.items():
        route = kinds.get(kind)
        if route is None:
            kinds[kind] = KindRoute(engine="auto", mode=mode)
        elif route.engine in ("auto", "deepseek") and route.mode is None:
            kinds[kind] = route.model_copy(update={"mode": mode})
    return options.model_copy(update={"kinds": kinds})
