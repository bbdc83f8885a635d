"""Route each page to an OCR engine, gate DeepSeek output, retry and fall back.

DeepSeek chain: the requested prompt → the same with a stronger n-gram blocker → `Free OCR.` (one
page-level block; grounding prompt only) → the CPU engine (after a DeepSeek service error only when
`cpu_fallback_on_error`). A page never raises: when every attempt fails it comes back as a PageLayout
with `quality.status == "failed"`, the reason and the raw output.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Protocol, cast

from ingest.errors import BadOcrOption, IngestError, ServiceError
from ingest.layout import KindChoice, PageLayout, Quality, QualityStatus
from ingest.ocr.deepseek import resolve_prompt
from ingest.ocr.engine import Engine, OcrOptions
from ingest.ocr.grounding import parse_grounding
from ingest.ocr.page_kind import page_kind
from ingest.ocr.quality import QualityVerdict, assess_quality
from ingest.ocr.textlayer import has_real_text
from ingest.page import PageImage
from ingest.render_pool import ImageFormat
from ingest.sources import with_pixels

log = logging.getLogger(__name__)

CPU_ENGINE = "rapidocr"
VLM_ENGINES = frozenset({"deepseek", "vlm"})  # their output goes through the quality gate
# and they are sent the page over HTTP: as JPEG, 10x cheaper to encode than PNG (docs/ingest-sources.md)


def choose_engine(
    page: PageImage,
    options: OcrOptions,
    available: Collection[str],
    has_text: Callable[[PageImage], bool] = has_real_text,
) -> str:
    """auto: the text layer when it holds real text, else DeepSeek when configured, else the CPU engine."""
    if options.engine != "auto":
        if options.engine not in available:
            raise BadOcrOption(
                f"OCR engine {options.engine!r} is not configured here; choose one of {sorted(available)} or auto"
            )
        return options.engine
    if "textlayer" in available and has_text(page):
        return "textlayer"
    if "deepseek" in available:
        return "deepseek"
    if CPU_ENGINE not in available:
        raise BadOcrOption(
            f"no OCR engine can read this page (no text layer); configured: {sorted(available)}"
        )
    return CPU_ENGINE


@dataclass(frozen=True)
class Attempt:
    engine: str
    options: OcrOptions
    label: str
    strict: bool = False
    status: QualityStatus = "ok"  # the page's status when this attempt passes


def plan_attempts(first: str, options: OcrOptions, available: Collection[str]) -> list[Attempt]:
    """Every attempt the router may make for a page, in order."""
    plan = [Attempt(first, options, first)]
    if first == "deepseek":
        plan.append(Attempt("deepseek", options, "deepseek(strict)", strict=True, status="retried"))
        if options.prompt == "document":
            free = options.model_copy(update={"prompt": "free"})
            plan.append(Attempt("deepseek", free, "deepseek(free)", strict=True, status="fallback"))
    elif first == "textlayer" and "deepseek" in available:
        plan.append(Attempt("deepseek", options, "deepseek", status="fallback"))
    if first != CPU_ENGINE and CPU_ENGINE in available:
        plan.append(Attempt(CPU_ENGINE, options, CPU_ENGINE, status="fallback"))
    return plan


def gate(attempt: Attempt, layout: PageLayout) -> QualityVerdict:
    """Vision-model output must pass the quality gate; other engines only their own verdict."""
    if layout.quality.status == "failed":
        return QualityVerdict(ok=False, reason=layout.quality.reason or "engine reported failure")
    if attempt.engine not in VLM_ENGINES:
        return QualityVerdict(ok=True)
    if attempt.engine != "deepseek":  # a general vision model: plain text, checked for loops and length
        return assess_quality(layout.raw, layout.blocks, layout.finish_reason, structured=False)
    structured = resolve_prompt(attempt.options)[0] == "document"
    truncated = structured and parse_grounding(layout.raw).truncated
    return assess_quality(
        layout.raw, layout.blocks, layout.finish_reason, structured=structured, truncated=truncated
    )


class _StrictEngine(Protocol):
    async def recognize(
        self, page: PageImage, options: OcrOptions, *, strict: bool = False
    ) -> PageLayout: ...


def ends_page(attempt: Attempt, exc: Exception, cpu_fallback_on_error: bool) -> bool:
    """Whether an attempt that raised leaves the page failed instead of trying the next engine.

    With `cpu_fallback_on_error` off, a DeepSeek service error (unreachable, timeout, 5xx after its
    retries) fails the page, so `retry` reads it with DeepSeek once the server is back rather than
    the page keeping CPU text for good.
    """
    return not cpu_fallback_on_error and attempt.engine == "deepseek" and isinstance(exc, ServiceError)


class OcrRouter:
    def __init__(
        self,
        engines: Mapping[str, Engine],
        has_text: Callable[[PageImage], bool] = has_real_text,
        *,
        cpu_fallback_on_error: bool = True,
    ):
        self.engines = dict(engines)
        self._has_text = has_text
        self.cpu_fallback_on_error = cpu_fallback_on_error

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        """One page, routed by its kind first when `options.kinds` says how."""
        page, options, kind = await self._route_by_kind(page, options)
        layout = await self._recognize(page, options)
        layout.page_kind = kind
        return layout

    async def _route_by_kind(
        self, page: PageImage, options: OcrOptions
    ) -> tuple[PageImage, OcrOptions, KindChoice | None]:
        if options.engine != "auto" or not options.kinds:
            return page, options, None
        has_text = await asyncio.to_thread(self._has_text, page)
        if not has_text:  # the kind of a page without text is told from its pixels
            page = await asyncio.to_thread(with_pixels, page)
        kind, reason = await asyncio.to_thread(page_kind, page, has_text)
        route = options.kinds.get(kind)
        if route is None:
            return page, options, KindChoice(kind=kind, reason=reason)
        if route.engine != "auto" and route.engine not in self.engines:
            note = f"{reason}; {route.engine} is not configured here, read the usual way"
            return page, options, KindChoice(kind=kind, reason=note)
        update: dict[str, object] = {"engine": route.engine, "mode": route.mode or options.mode, "kinds": {}}
        return (
            page,
            options.model_copy(update=update),
            KindChoice(kind=kind, reason=f"{reason}: {route.engine}"),
        )

    async def _recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        try:  # the text layer check reads the PDF: a worker thread's job
            first = await asyncio.to_thread(choose_engine, page, options, self.engines, self._has_text)
        except BadOcrOption as exc:
            return failed_layout(page, options.engine, exc.message, [f"{options.engine}: {exc.code}"], "")
        notes: list[str] = []
        reason: str | None = None
        raw = ""
        skip: set[str] = set()
        for attempt in plan_attempts(first, options, self.engines):
            if attempt.engine in skip:
                continue
            try:
                if attempt.engine != "textlayer":  # rendered once, for the first engine that reads pixels
                    fmt: ImageFormat = "jpeg" if attempt.engine in VLM_ENGINES else "png"
                    page = await asyncio.to_thread(with_pixels, page, fmt)
                layout = await self._run(attempt, page)
            except Exception as exc:  # a page is the unit of work: record why and try the next engine
                note = f"{attempt.label}: {_describe(exc)}"
                if not isinstance(exc, IngestError):
                    log.exception("OCR engine %s crashed on page %d", attempt.engine, page.page)
                skip.add(attempt.engine)  # its other attempts would meet the same fault
                notes.append(note)
                reason = reason or note
                if ends_page(attempt, exc, self.cpu_fallback_on_error):
                    return failed_layout(page, first, note, notes, raw)
                continue
            verdict = gate(attempt, layout)
            notes.append(f"{attempt.label}: {verdict.reason or 'ok'}")
            if verdict.ok:
                layout.quality = Quality(status=attempt.status, reason=reason, attempts=notes)
                return layout
            reason = reason or f"{attempt.label}: {verdict.reason}"
            raw = layout.raw or raw
        return failed_layout(page, first, reason or "no OCR engine could read the page", notes, raw)

    async def _run(self, attempt: Attempt, page: PageImage) -> PageLayout:
        engine = self.engines[attempt.engine]
        if attempt.strict:
            return await cast(_StrictEngine, engine).recognize(page, attempt.options, strict=True)
        return await engine.recognize(page, attempt.options)


def failed_layout(page: PageImage, engine: str, reason: str, attempts: list[str], raw: str) -> PageLayout:
    """A page no engine could read: no blocks, the reason, every attempt, the last raw output."""
    return page.layout(
        engine,
        quality=Quality(status="failed", reason=reason, attempts=attempts),
        raw=raw,
    )


def _describe(exc: Exception) -> str:
    if isinstance(exc, IngestError):
        return f"{exc.code}: {exc.message}"
    return f"{type(exc).__name__}: {exc}"
