"""The per-document pipeline: render, OCR page by page (resumable), then Markdown, chunks, index.

Files live under one folder per document: `layout/NNNN.json` (the resume point: a page whose
layout is on disk is never OCR'd again), `markdown/NNNN.md`, `document.md` and `ocr.log` (one line
per OCR call, for audit). Page images are not written here: `pages/NNNN.png` is a cache that the
API fills when a page image is first asked for.
"""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel

from ingest.card import DocumentCard, read_card
from ingest.chunking import Chunk, ChunkingConfig, chunk_document
from ingest.errors import IngestError
from ingest.layout import ModeChoice, PageLayout, Quality
from ingest.markdown import render_document_markdown, render_page_markdown
from ingest.ocr.engine import OcrOptions, PreprocessOptions
from ingest.ocr.reading_order import mark_furniture
from ingest.ocr.textlayer import has_real_text
from ingest.page import PageImage
from ingest.preprocess import preprocess_page
from ingest.sources import SourceConfig, SourceDocument, open_source, with_pixels

log = logging.getLogger(__name__)

DocumentStatus = Literal["done", "partial", "failed"]
STAGES = ("ocr", "markdown", "chunking", "indexing")


class PipelineCancelled(Exception):
    """The job was cancelled between pages; pages already OCR'd stay on disk."""


class Recognizer(Protocol):
    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout: ...


class Indexer(Protocol):
    def replace_document(self, doc_id: str, chunks: list[Chunk]) -> int: ...

    def replace_chunks(
        self, doc_id: str, changed: list[Chunk], count: int, previous: Mapping[str, str] | None = None
    ) -> int: ...


class PageOutcome(BaseModel):
    page: int
    status: Literal["done", "failed"]
    engine: str
    quality: Quality
    reused: bool = False  # the layout was already on disk; no OCR ran
    seconds: float = 0.0
    mode: ModeChoice | None = None  # the DeepSeek resolution mode and why
    output_tokens: int | None = None  # generative engines: tokens the model wrote for the page


class DocumentOutcome(BaseModel):
    status: DocumentStatus
    pages: int
    failed_pages: list[int]
    chunks: int


@dataclass(frozen=True)
class DocumentFiles:
    """The document's folder in the data directory."""

    root: Path

    def page_image(self, n: int) -> Path:
        return self.root / "pages" / f"{n:04d}.png"

    def layout(self, n: int) -> Path:
        return self.root / "layout" / f"{n:04d}.json"

    def page_markdown(self, n: int) -> Path:
        return self.root / "markdown" / f"{n:04d}.md"

    @property
    def markdown(self) -> Path:
        return self.root / "document.md"

    @property
    def ocr_log(self) -> Path:
        return self.root / "ocr.log"

    @property
    def card(self) -> Path:
        return self.root / "card.json"

    def saved_card(self) -> DocumentCard | None:
        path = self.card
        return DocumentCard.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None

    def saved_layouts(self) -> dict[int, PageLayout]:
        folder = self.root / "layout"
        if not folder.is_dir():
            return {}
        layouts = (
            PageLayout.model_validate_json(p.read_text(encoding="utf-8"))
            for p in sorted(folder.glob("*.json"))
        )
        return {layout.page: layout for layout in layouts}

    def saved_layout(self, n: int) -> PageLayout | None:
        path = self.layout(n)
        return PageLayout.model_validate_json(path.read_text(encoding="utf-8")) if path.is_file() else None

    def save_layout(self, layout: PageLayout) -> None:
        """Atomic (write then rename), so a crash never leaves a half-written resume point."""
        path = self.layout(layout.page)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(layout.model_dump_json(), encoding="utf-8")
        tmp.replace(path)

    def save_page_image(self, page: PageImage) -> None:
        path = self.page_image(page.page)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(page.image_png)

    def record_ocr(self, layout: PageLayout) -> None:
        """Save the page's layout (the resume point) and log the OCR call."""
        self.save_layout(layout)
        with self.ocr_log.open("a", encoding="utf-8") as fh:
            fh.write(f"{layout.page}\t{layout.engine}\t{layout.quality.status}\n")

    def wipe_derived(self) -> None:
        """Everything but the original file: page images, layouts, Markdown, log."""
        for name in ("pages", "layout", "markdown"):
            shutil.rmtree(self.root / name, ignore_errors=True)
        for path in (self.markdown, self.ocr_log):
            path.unlink(missing_ok=True)


@dataclass
class Hooks:
    """Progress and cancellation, supplied by whoever runs the pipeline (a job runner, a test)."""

    on_page: Callable[[PageOutcome], Awaitable[None] | None] = lambda _o: None
    on_stage: Callable[[str], Awaitable[None] | None] = lambda _s: None
    cancelled: Callable[[], Awaitable[bool] | bool] = lambda: False


async def _call(result: Awaitable[None] | None) -> None:
    if result is not None:
        await result


async def _ask(result: Awaitable[bool] | bool) -> bool:
    return result if isinstance(result, bool) else await result


def pages_to_ocr(page_count: int, saved: Mapping[int, str], retry_failed: bool = False) -> list[int]:
    """The resume rule: pages without a saved layout, plus failed ones when retrying."""
    return [n for n in range(1, page_count + 1) if n not in saved or (retry_failed and saved[n] == "failed")]


def document_status(layouts: Sequence[PageLayout]) -> DocumentStatus:
    failed = sum(1 for layout in layouts if layout.quality.status == "failed")
    if not layouts or failed == len(layouts):
        return "failed"
    return "partial" if failed else "done"


def failed_layout(page: int, reason: str, engine: str = "none") -> PageLayout:
    """A page that could not be rendered or recognized: recorded, with its reason."""
    return PageLayout(
        page=page,
        width=0,
        height=0,
        image_size=(0, 0),
        engine=engine,
        quality=Quality(status="failed", reason=reason),
    )


def outcome_of(layout: PageLayout, reused: bool = False, seconds: float = 0.0) -> PageOutcome:
    status: Literal["done", "failed"] = "failed" if layout.quality.status == "failed" else "done"
    return PageOutcome(
        page=layout.page,
        status=status,
        engine=layout.engine,
        quality=layout.quality,
        reused=reused,
        seconds=seconds,
        mode=layout.mode,
        output_tokens=(layout.usage or {}).get("completion_tokens"),
    )


class Pipeline:
    """Turns one stored file into saved layouts, Markdown and indexed chunks."""

    def __init__(
        self,
        source_config: SourceConfig,
        router: Recognizer,
        chunking: ChunkingConfig,
        indexer: Indexer | None,
        count_tokens: Callable[[str], int],
        page_concurrency: int = 4,
    ) -> None:
        self.source_config = source_config
        self.router = router
        self.chunking = chunking
        self.indexer = indexer
        self.count_tokens = count_tokens
        self.page_concurrency = page_concurrency

    async def ocr_pages(
        self,
        source: Path,
        files: DocumentFiles,
        options: OcrOptions,
        hooks: Hooks,
        pages: Sequence[int] | None = None,
        retry_failed: bool = False,
        keep_images: bool = False,
    ) -> list[PageOutcome]:
        """OCR `pages` (default: all) that have no saved layout; saved ones are reported as reused.

        `keep_images` renders every page and saves `pages/NNNN.png` (a reply that shows every page,
        as /v1/ocr's); by default only pages an engine reads as pixels are rendered, and none saved."""
        await _call(hooks.on_stage("ocr"))
        saved = await asyncio.to_thread(files.saved_layouts)
        # opening hashes the whole file: a worker thread's job
        with await asyncio.to_thread(open_source, source, self.source_config) as doc:
            wanted = list(pages) if pages is not None else list(range(1, doc.page_count + 1))
            todo = set(
                pages_to_ocr(doc.page_count, {n: s.quality.status for n, s in saved.items()}, retry_failed)
            )
            outcomes = [outcome_of(saved[n], reused=True) for n in wanted if n not in todo and n in saved]
            for outcome in outcomes:
                await _call(hooks.on_page(outcome))
            limit = asyncio.Semaphore(self.page_concurrency)

            async def one(n: int) -> PageOutcome:
                async with limit:
                    if await _ask(hooks.cancelled()):
                        raise PipelineCancelled(f"cancelled before page {n}")
                    # a redelivered duplicate batch may have saved this page since the snapshot above
                    fresh = await asyncio.to_thread(files.saved_layout, n)
                    if fresh is not None and not (retry_failed and fresh.quality.status == "failed"):
                        outcome = outcome_of(fresh, reused=True)
                        await _call(hooks.on_page(outcome))
                        return outcome
                    outcome = await self._ocr_page(doc, n, files, options, keep_images)
                    await _call(hooks.on_page(outcome))
                    return outcome

            outcomes += await asyncio.gather(*(one(n) for n in wanted if n in todo))
        return sorted(outcomes, key=lambda o: o.page)

    async def _ocr_page(
        self, doc: SourceDocument, n: int, files: DocumentFiles, options: OcrOptions, keep_image: bool
    ) -> PageOutcome:
        started = time.monotonic()
        try:
            # without keep_image, no pixels yet: a page read from its text layer is never rendered;
            # the router renders the others, and page images for citations are rendered when asked for
            page = await asyncio.to_thread(doc.render_page, n, False)
            if keep_image:
                page = await asyncio.to_thread(with_pixels, page)
                await asyncio.to_thread(files.save_page_image, page)
            layout = await self._recognize(page, options)
        except IngestError as exc:
            layout = failed_layout(n, f"{exc.code}: {exc.message}")
        except Exception as exc:  # a page is a unit of work: record why and keep the rest
            log.exception("page %s failed", n)
            layout = failed_layout(n, f"internal_error: {type(exc).__name__}: {exc}")
        await asyncio.to_thread(files.record_ocr, layout)
        return outcome_of(layout, seconds=time.monotonic() - started)

    async def _recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        """Preprocessing is for pixels: pages read from their text layer keep the original."""
        if (
            not options.preprocess.any()
            or options.engine == "textlayer"
            or await asyncio.to_thread(has_real_text, page)
        ):
            return await self.router.recognize(page, options)
        pixels = await asyncio.to_thread(with_pixels, page)
        prepared = await asyncio.to_thread(preprocess_page, pixels, options.preprocess)
        plain = options.model_copy(update={"preprocess": PreprocessOptions()})  # engines must not redo it
        layout = await self.router.recognize(prepared.page, plain)
        return prepared.map_layout(layout)

    async def finalize(
        self,
        doc_id: str,
        kb: str,
        filename: str,
        files: DocumentFiles,
        tags: Sequence[str],
        hooks: Hooks,
        page_count: int | None = None,
    ) -> DocumentOutcome:
        """Markdown, chunks and index from the saved layouts; re-running it gives the same result.

        Each stage is CPU and file work, so it runs in a worker thread: the event loop keeps serving."""
        await _call(hooks.on_stage("markdown"))
        layouts = await asyncio.to_thread(self._write_markdown, files, page_count)
        await _call(hooks.on_stage("chunking"))
        chunks = await asyncio.to_thread(self._chunk, doc_id, kb, filename, files, layouts, tags)
        await _call(hooks.on_stage("indexing"))
        if self.indexer is not None:
            await asyncio.to_thread(self._index, doc_id, chunks)
        return DocumentOutcome(
            status=document_status(layouts),
            pages=len(layouts),
            failed_pages=[layout.page for layout in layouts if layout.quality.status == "failed"],
            chunks=len(chunks),
        )

    def _write_markdown(self, files: DocumentFiles, page_count: int | None) -> list[PageLayout]:
        """Every page's layout (a missing one as failed), furniture marked, Markdown written."""
        if page_count is None:
            page_count = max(files.saved_layouts(), default=0)
        layouts = self._saved_with_furniture(files, page_count)
        for layout in layouts:
            path = files.page_markdown(layout.page)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(render_page_markdown(layout), encoding="utf-8")
        files.markdown.write_text(render_document_markdown(layouts), encoding="utf-8")
        return layouts

    def _chunk(
        self,
        doc_id: str,
        kb: str,
        filename: str,
        files: DocumentFiles,
        layouts: list[PageLayout],
        tags: Sequence[str],
        save_card: bool = True,
    ) -> list[Chunk]:
        """The document card (saved) and the chunks of the pages that did not fail."""
        good = [layout for layout in layouts if layout.quality.status != "failed"]
        card = read_card(good)
        if save_card:
            files.card.write_text(card.model_dump_json(), encoding="utf-8")
        return chunk_document(doc_id, kb, filename, good, self.chunking, self.count_tokens, tags, card)

    def _saved_with_furniture(self, files: DocumentFiles, page_count: int) -> list[PageLayout]:
        saved = files.saved_layouts()
        layouts = [
            saved.get(n) or failed_layout(n, "no layout was saved for this page")
            for n in range(1, page_count + 1)
        ]
        return mark_furniture(layouts)

    def reindex_page(
        self,
        doc_id: str,
        kb: str,
        filename: str,
        files: DocumentFiles,
        tags: Sequence[str],
        layout: PageLayout,
        page_count: int,
    ) -> int:
        """Save `layout` as its page's text and re-embed only the chunks that change (a review correction).

        The document is chunked before and after (chunking is pure and cheap); only chunks that differ
        are written, and of those only the ones whose text is new (the page's own) are embedded again:
        chunks that just moved to another ordinal keep their stored vectors. Returns the chunk count."""
        before = self._chunk(
            doc_id, kb, filename, files, self._saved_with_furniture(files, page_count), tags, save_card=False
        )
        files.save_layout(layout)
        layouts = self._write_markdown(files, page_count)
        after = self._chunk(doc_id, kb, filename, files, layouts, tags)
        changed = [c for c in after if c.ordinal >= len(before) or before[c.ordinal] != c]
        if self.indexer is not None:
            previous = {c.embed_text(): c.id for c in before}
            self.indexer.replace_chunks(doc_id, changed, len(after), previous)
        return len(after)

    def _index(self, doc_id: str, chunks: list[Chunk]) -> None:
        assert self.indexer is not None
        self.indexer.replace_document(doc_id, chunks)  # re-runs replace in place, never duplicate

    async def run(
        self,
        doc_id: str,
        kb: str,
        filename: str,
        source: Path,
        files: DocumentFiles,
        options: OcrOptions,
        hooks: Hooks,
        tags: Sequence[str] = (),
        retry_failed: bool = False,
    ) -> DocumentOutcome:
        """The whole document: OCR what is missing, then finalize."""
        outcomes = await self.ocr_pages(source, files, options, hooks, retry_failed=retry_failed)
        if await _ask(hooks.cancelled()):
            raise PipelineCancelled("cancelled after OCR")
        return await self.finalize(doc_id, kb, filename, files, tags, hooks, page_count=len(outcomes))
