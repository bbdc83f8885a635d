"""The per-document pipeline with a counting fake recognizer: resume, failed pages, cancel, bound."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import pytest

from ingest.chunking import Chunk, ChunkingConfig
from ingest.layout import BBox, Block, PageLayout, Quality
from ingest.ocr.engine import OcrOptions
from ingest.page import PageImage
from ingest.pipeline import DocumentFiles, Hooks, Pipeline, PipelineCancelled, document_status, pages_to_ocr
from ingest.sources import SourceConfig
from tests.support.documents import make_pdf


class CountingRecognizer:
    def __init__(self, fail: set[int] = frozenset(), delay_s: float = 0.0, hold_until: int = 0) -> None:  # type: ignore[assignment]
        self.calls: list[int] = []
        self.fail = fail
        self.delay_s = delay_s
        self.in_flight = self.max_in_flight = 0
        # hold each page until this many are in flight at once (or 60 s): concurrency without timing luck
        self.hold_until = hold_until
        self.crowded = asyncio.Event()

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        self.calls.append(page.page)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        if self.hold_until and self.in_flight >= self.hold_until:
            self.crowded.set()
        if self.hold_until:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.crowded.wait(), 60)
        await asyncio.sleep(self.delay_s)
        self.in_flight -= 1
        quality = Quality(status="failed", reason="boom") if page.page in self.fail else Quality()
        blocks = (
            []
            if page.page in self.fail
            else [
                Block(
                    kind="text",
                    markdown=f"Text of page {page.page} about payment terms.",
                    bbox=BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.2),
                )
            ]
        )
        return PageLayout(
            page=page.page,
            width=page.width,
            height=page.height,
            image_size=page.image_size,
            engine="fake",
            blocks=blocks,
            quality=quality,
        )


class ListIndexer:
    def __init__(self) -> None:
        self.chunks: dict[str, list[Chunk]] = {}

    def replace_document(self, doc_id: str, chunks: list[Chunk]) -> int:
        self.chunks[doc_id] = list(chunks)
        return len(chunks)


def _pipeline(rec: CountingRecognizer, indexer: ListIndexer | None = None, concurrency: int = 4) -> Pipeline:
    return Pipeline(SourceConfig(), rec, ChunkingConfig(), indexer, lambda t: len(t.split()), concurrency)


async def _run(pipeline: Pipeline, pdf: Path, files: DocumentFiles, hooks: Hooks | None = None):  # type: ignore[no-untyped-def]
    return await pipeline.run("doc1", "kb", pdf.name, pdf, files, OcrOptions(), hooks or Hooks())


def test_resume_rule_skips_saved_pages_and_retries_failed_only_on_request() -> None:
    saved = {1: "ok", 2: "failed"}
    assert pages_to_ocr(4, saved) == [3, 4]
    assert pages_to_ocr(4, saved, retry_failed=True) == [2, 3, 4]


def test_document_status_from_page_qualities() -> None:
    ok = PageLayout(page=1, width=1, height=1, image_size=(1, 1), engine="x")
    bad = ok.model_copy(update={"quality": Quality(status="failed")})
    assert (document_status([ok, ok]), document_status([ok, bad]), document_status([bad])) == (
        "done",
        "partial",
        "failed",
    )


async def test_pages_are_saved_and_never_ocrd_again(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", pages=4)
    files = DocumentFiles(tmp_path / "doc1")
    rec, indexer = CountingRecognizer(), ListIndexer()
    outcome = await _run(_pipeline(rec, indexer), pdf, files)
    assert outcome.status == "done" and outcome.pages == 4 and outcome.chunks >= 1
    assert sorted(rec.calls) == [1, 2, 3, 4]
    assert all(files.layout(n).is_file() for n in range(1, 5))
    assert not any(files.page_image(n).exists() for n in range(1, 5))  # page images: on demand only
    assert "<!-- page 2 -->" in files.markdown.read_text() or "page 2" in files.markdown.read_text()
    files.layout(3).unlink()  # as if the process died before page 3 was saved
    again = await _run(_pipeline(rec, indexer), pdf, files)
    assert sorted(rec.calls) == [1, 2, 3, 3, 4]  # only page 3 ran again
    assert (
        again.chunks == outcome.chunks == len(indexer.chunks["doc1"])
    )  # re-index replaces, never duplicates


async def test_failed_page_is_recorded_and_the_rest_kept(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", pages=3)
    files = DocumentFiles(tmp_path / "doc1")
    seen: list[int] = []
    hooks = Hooks(on_page=lambda o: seen.append(o.page) if o.status == "failed" else None)
    outcome = await _run(_pipeline(CountingRecognizer(fail={2})), pdf, files, hooks)
    assert outcome.status == "partial" and outcome.failed_pages == [2] and seen == [2]
    assert PageLayout.model_validate_json(files.layout(2).read_text()).quality.reason == "boom"


async def test_cancel_stops_between_pages(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", pages=6)
    rec = CountingRecognizer(delay_s=0.01)
    hooks = Hooks(cancelled=lambda: len(rec.calls) >= 2)
    with pytest.raises(PipelineCancelled):
        await _run(_pipeline(rec, concurrency=1), pdf, DocumentFiles(tmp_path / "d"), hooks)
    assert len(rec.calls) == 2


async def test_pages_run_concurrently_within_the_bound(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", pages=8)
    rec = CountingRecognizer(delay_s=0.05, hold_until=3)
    await _run(_pipeline(rec, concurrency=3), pdf, DocumentFiles(tmp_path / "d"))
    assert rec.max_in_flight == 3  # three pages were held together, never a fourth


async def test_a_page_saved_by_a_duplicate_batch_meanwhile_is_not_ocrd_again(tmp_path: Path) -> None:
    """A redelivered batch runs beside the original: each page is re-checked on disk just before OCR."""
    pdf = make_pdf(tmp_path / "a.pdf", pages=3)
    files = DocumentFiles(tmp_path / "doc1")
    rec = CountingRecognizer()
    original = rec.recognize

    async def recognize_and_race(page: PageImage, options: OcrOptions) -> PageLayout:
        layout = await original(page, options)
        if page.page == 1:  # meanwhile the other copy of the batch finished page 2
            files.save_layout((await original(page, options)).model_copy(update={"page": 2}))
        return layout

    rec.recognize = recognize_and_race  # type: ignore[method-assign]
    outcomes = await _pipeline(rec, concurrency=1).ocr_pages(pdf, files, OcrOptions(), Hooks())
    assert [(o.page, o.reused) for o in outcomes] == [(1, False), (2, True), (3, False)]
    assert sorted(rec.calls) == [1, 1, 3]  # page 2 never reached our recognizer
