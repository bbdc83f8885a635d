"""Calibration: a sample of the user's pages read in each DeepSeek mode, scored, and the cheapest good mode per kind.

Each page is read once per mode, one request at a time (so `seconds` is a page's latency on the
server, comparable between modes). Its reference text is, in order: the PDF text layer where the page
has a real one; else text the user corrected, when given; else the Gundam output (whose own score is
then 0 by construction). Scores are character error rates (`ingest.ocr.text_score`). A mode is
recommended for a kind when it is the cheapest (fewest vision tokens, then the cheaper mode) whose mean
CER is within `tolerance` of the best mode's.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal, Protocol, get_args

from pydantic import BaseModel, ConfigDict

from ingest.configs import SourceConfig
from ingest.errors import OpticiteError
from ingest.layout import PageLayout
from ingest.ocr.engine import OcrOptions, PageKind, ResolutionMode
from ingest.ocr.text_score import cer, layout_text
from ingest.page import PageImage

MODES: tuple[ResolutionMode, ...] = get_args(ResolutionMode)  # cheapest first
REFERENCE_MODE: ResolutionMode = "gundam"
DEFAULT_TOLERANCE = 0.02  # CER points above the best mode's that still count as as good
Reference = Literal["text_layer", "corrected", "gundam"]


class SamplePage(BaseModel):
    path: Path
    page: int  # 1-based
    name: str  # what the user calls the file (an upload's filename)


class PageScore(BaseModel):
    model_config = ConfigDict(strict=True)  # also what a client sends back with PUT /v1/kbs/{kb}/calibration

    name: str
    page: int
    kind: PageKind
    reference: Reference | None  # None: no reference (the Gundam read failed)
    mode: ResolutionMode
    cer: float | None  # None: the read failed or nothing to compare with
    vision_tokens: int | None  # the prompt as the server counts it: the image's tokens and ~10 of text
    output_tokens: int | None
    seconds: float
    error: str | None = None


class ModeStats(BaseModel):
    model_config = ConfigDict(strict=True)

    kind: PageKind
    mode: ResolutionMode
    pages: int
    failed: int
    cer: float | None  # mean over the pages read
    vision_tokens: float | None
    output_tokens: float | None
    seconds: float


class CalibrationReport(BaseModel):
    model_config = ConfigDict(strict=True)

    modes: list[ResolutionMode]
    tolerance: float
    pages: list[PageScore]
    stats: list[ModeStats]
    recommended: dict[PageKind, ResolutionMode]
    seconds: float  # the whole run


class ModeReader(Protocol):
    """The DeepSeek engine's one method (ingest.ocr.deepseek.DeepSeekEngine)."""

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout: ...


def sample_pages(docs: Sequence[tuple[Path, str, int]], n: int) -> list[SamplePage]:
    """At most `n` pages from `docs` (path, name, page count): every document gets a turn before any
    gets a second page, and a document's pages are spread over its length."""
    shares = [0] * len(docs)
    left = n
    while left > 0 and any(shares[i] < docs[i][2] for i in range(len(docs))):
        for i, (_, _, count) in enumerate(docs):
            if left > 0 and shares[i] < count:
                shares[i] += 1
                left -= 1
    picked: list[SamplePage] = []
    for (path, name, count), k in zip(docs, shares, strict=True):
        pages = sorted({1 + (j * count) // k for j in range(k)}) if k else []
        picked.extend(SamplePage(path=path, page=p, name=name) for p in pages)
    return picked


def recommend(
    stats: Sequence[ModeStats], tolerance: float = DEFAULT_TOLERANCE
) -> dict[PageKind, ResolutionMode]:
    """Per kind, the cheapest mode whose mean CER is within `tolerance` of the best (pure)."""
    chosen: dict[PageKind, ResolutionMode] = {}
    for kind in dict.fromkeys(s.kind for s in stats):
        scored = [s for s in stats if s.kind == kind and s.cer is not None]
        if not scored:
            continue
        best = min(s.cer for s in scored if s.cer is not None)
        good = [s for s in scored if s.cer is not None and s.cer <= best + tolerance]
        cheapest = min(good, key=lambda s: (s.vision_tokens or 0.0, MODES.index(s.mode)))
        chosen[kind] = cheapest.mode
    return chosen


def summarize(scores: Sequence[PageScore]) -> list[ModeStats]:
    """Means per kind and mode, kinds in the order met, modes cheapest first."""
    stats = []
    for kind in dict.fromkeys(s.kind for s in scores):
        for mode in MODES:
            group = [s for s in scores if s.kind == kind and s.mode == mode]
            if not group:
                continue
            read = [s for s in group if s.cer is not None]
            stats.append(
                ModeStats(
                    kind=kind,
                    mode=mode,
                    pages=len(group),
                    failed=len(group) - len(read),
                    cer=_mean([s.cer for s in read]),
                    vision_tokens=_mean([s.vision_tokens for s in read]),
                    output_tokens=_mean([s.output_tokens for s in read]),
                    seconds=statistics.fmean(s.seconds for s in group),
                )
            )
    return stats


def _mean(values: Sequence[float | int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return statistics.fmean(known) if known else None


class Calibration:
    """Reads sample pages in every mode; `text_layer` reads a page's PDF text layer (or None: it has none)."""

    def __init__(
        self,
        reader: ModeReader,
        text_layer: Callable[[PageImage], PageLayout | None],
        source: SourceConfig,
        modes: Sequence[ResolutionMode] = MODES,
    ) -> None:
        self.reader = reader
        self.text_layer = text_layer
        self.source = source
        self.modes = sorted(set(modes) | {REFERENCE_MODE}, key=MODES.index)

    async def run(
        self,
        pages: Sequence[SamplePage],
        corrected: Mapping[tuple[str, int], str] | None = None,
        tolerance: float = DEFAULT_TOLERANCE,
        on_step: Callable[[int, int], None] = lambda done, total: None,
    ) -> CalibrationReport:
        started = time.perf_counter()
        total = len(pages) * len(self.modes)
        scores: list[PageScore] = []
        for sample in pages:
            scores += await self._page(sample, (corrected or {}).get((sample.name, sample.page)))
            on_step(len(scores), total)
        stats = summarize(scores)
        return CalibrationReport(
            modes=list(self.modes),
            tolerance=tolerance,
            pages=scores,
            stats=stats,
            recommended=recommend(stats, tolerance),
            seconds=time.perf_counter() - started,
        )

    async def _page(self, sample: SamplePage, corrected: str | None) -> list[PageScore]:
        page, kind, layer = await asyncio.to_thread(self._open, sample)
        reads = {mode: await self._read(page, mode) for mode in self.modes}
        reference: Reference | None
        truth: str | None
        if layer is not None:
            reference, truth = "text_layer", layer
        elif corrected is not None:
            reference, truth = "corrected", corrected
        else:
            gundam = reads[REFERENCE_MODE][0]
            reference, truth = ("gundam", gundam) if gundam is not None else (None, None)
        scores = []
        for mode, (text, layout, seconds, error) in reads.items():
            score = await asyncio.to_thread(cer, text, truth) if text is not None and truth else None
            usage = (layout.usage if layout is not None else None) or {}
            scores.append(
                PageScore(
                    name=sample.name,
                    page=sample.page,
                    kind=kind,
                    reference=reference,
                    mode=mode,
                    cer=score,
                    vision_tokens=usage.get("prompt_tokens"),
                    output_tokens=usage.get("completion_tokens"),
                    seconds=seconds,
                    error=error or (None if truth else "no reference text"),
                )
            )
        return scores

    def _open(self, sample: SamplePage) -> tuple[PageImage, PageKind, str | None]:
        """The page with pixels, its kind and its text-layer text (None: no real text layer)."""
        from ingest.ocr.page_kind import page_kind  # OpenCV: loaded only to calibrate
        from ingest.ocr.textlayer import has_real_text
        from ingest.sources import open_source, with_pixels

        with open_source(sample.path, self.source) as src:
            page = src.render_page(sample.page, pixels=False)
        has_text = has_real_text(page)
        page = with_pixels(page)
        kind, _ = page_kind(page, has_text)
        layer = self.text_layer(page) if has_text else None
        return page, kind, layout_text(layer) if layer is not None else None

    async def _read(
        self, page: PageImage, mode: ResolutionMode
    ) -> tuple[str | None, PageLayout | None, float, str | None]:
        """(text, layout, seconds, error) of one read; a failed read is recorded, never raised."""
        options = OcrOptions(engine="deepseek", mode=mode, prompt="document")
        started = time.perf_counter()
        try:
            layout = await self.reader.recognize(page, options)
        except OpticiteError as exc:
            return None, None, time.perf_counter() - started, f"{exc.code}: {exc.message}"
        return layout_text(layout), layout, time.perf_counter() - started, None
