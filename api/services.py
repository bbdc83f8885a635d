"""The operations behind the HTTP routes and the CLI: one `Services` object per process.

Routes and CLI commands parse input, call one method here and shape the reply. Heavy
components (embedder, vector store, OCR engines, HTTP clients) are built on first use.
"""

from __future__ import annotations

import asyncio
import io
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from contextlib import AbstractContextManager, asynccontextmanager
from pathlib import Path

from PIL import Image
from sqlalchemy import delete, func, select

from api.components import Components
from api.db import Database, DocumentRow, JobRow, KbRow, PageRow, ReviewPageRow, latest_job, utcnow
from api.errors import (
    Conflict,
    EmbedderMismatch,
    Forbidden,
    JobNotFound,
    NotFound,
    OcrBusy,
    OcrRequestTooLarge,
    PageNotFound,
    UnknownDocument,
)
from api.jobs import JobRunner, JobSteps, build_runner
from api.locate import locate_citations, to_locate
from api.page_cache import PageImageCache
from api.progress import JobWatch, StreamSlots
from api.review_queue import release_interrupted
from api.schemas import (
    TERMINAL_JOB_STATES,
    DocumentDetail,
    DocumentPublic,
    Embedding,
    JobPublic,
    KbPublic,
    OcrPagePublic,
    OcrResult,
    SubmissionPublic,
)
from api.settings import Settings
from api.uploads import safe_filename, staged_upload
from ingest.layout import BBox, PageLayout
from ingest.markdown import render_document_markdown
from ingest.ocr.engine import OcrOptions
from ingest.page import PageImage
from ingest.pipeline import DocumentFiles, Hooks, PageOutcome
from ingest.sources import open_source
from retrieval.answer import Answer, unmentioned_refusal
from retrieval.chat import ChatService
from retrieval.embed import embedder_name
from retrieval.hits import SearchFilters, SearchHit, SearchMode, pages_first
from retrieval.regions import render_crop, render_highlight

Kbs = Sequence[str] | None  # the kbs a caller may see; None = all


def new_id() -> str:
    return str(uuid.uuid4())


def _visible(row: DocumentRow | None, kbs: Kbs) -> bool:
    return row is not None and (kbs is None or row.kb in kbs)


def _ocr_result(files: DocumentFiles) -> OcrResult:
    """The saved layouts as a reply, with each saved page PNG (a page that failed to render has none)."""
    layouts = [layout for _, layout in sorted(files.saved_layouts().items())]
    pages = []
    for layout in layouts:
        path = files.page_image(layout.page)
        pages.append(OcrPagePublic.from_layout(layout, path.read_bytes() if path.is_file() else None))
    return OcrResult(pages=pages, markdown=render_document_markdown(layouts))


class Services:
    """Settings, the metadata DB, lazily built components and the job runner of one process."""

    def __init__(self, settings: Settings, *, runner: JobRunner | None = None) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.components = Components(settings)
        self.steps = JobSteps(self.db, self.components, settings)
        self.runner: JobRunner = runner or build_runner(settings, self.steps)
        self._ocr_slots = asyncio.Semaphore(settings.ocr_request.concurrency)
        self.job_watch = JobWatch(self.read_jobs)
        self.page_images = PageImageCache(settings.docs_dir, settings.source, settings.page_image_cache_bytes)
        http = settings.http
        self.stream_slots = StreamSlots(http.event_streams, http.event_streams_per_client)
        self.review_lock = asyncio.Lock()  # OCR review corrections re-index one page at a time

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> None:
        """Create tables and folders; the in-process runner resumes unfinished jobs."""
        self.settings.docs_dir.mkdir(parents=True, exist_ok=True)
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self.db.create_all)
        await asyncio.to_thread(self._mark_unrecorded_kbs)
        await asyncio.to_thread(self._release_interrupted_reviews)
        await self.runner.start()

    async def aclose(self) -> None:
        await self.runner.stop()
        await self.steps.webhooks.aclose()
        await self.job_watch.aclose()
        await self.components.aclose()
        self.db.dispose()

    def _release_interrupted_reviews(self) -> None:
        with self.db.session() as s:
            release_interrupted(s)

    def files(self, doc_id: str) -> DocumentFiles:
        return DocumentFiles(self.settings.docs_dir / doc_id)

    def stage_upload(self, filename: str | None) -> AbstractContextManager[Path]:
        """`data_dir/uploads/<random>/<safe filename>` for one upload, removed with its folder at exit.

        The name and extension are the client's (sanitized), so errors quote the user's file and a
        known extension that contradicts the content is refused at upload (unsupported_file).
        """
        return staged_upload(self.settings.uploads_dir, filename)

    # --- documents ----------------------------------------------------------------------
    async def ingest(
        self,
        path: Path,
        filename: str,
        kb: str = "default",
        options: OcrOptions | None = None,
        tags: Sequence[str] = (),
        force: bool = False,
        webhook_url: str | None = None,
    ) -> SubmissionPublic:
        """Queue a file for OCR + indexing; the file at `path` is moved into the data dir.

        Raises the ingest errors (unsupported, damaged, encrypted, too large) before queueing.
        The same file (sha256) in the same kb returns the existing document unless `force`,
        which re-processes that document from scratch.
        """
        options = options or self.settings.ocr
        submission, job_id = await asyncio.to_thread(
            self._record_upload, path, safe_filename(filename), kb, options, tags, force, webhook_url
        )
        if job_id is not None:
            self.runner.submit(job_id)
        return submission

    def _record_upload(
        self,
        path: Path,
        filename: str,
        kb: str,
        options: OcrOptions,
        tags: Sequence[str],
        force: bool,
        webhook_url: str | None,
    ) -> tuple[SubmissionPublic, str | None]:
        """`ingest`'s file and DB work (hashing, moving, rows); the job id to submit, if any."""
        self.check_embedder([kb])
        with self.db.session() as s:
            new_kb = s.get(KbRow, kb) is None
        if new_kb:
            self.record_embedder(kb)
        with open_source(path, self.settings.source) as src:
            sha256, page_count = src.sha256, src.page_count
        with self.db.session() as s:
            stmt = select(DocumentRow).where(DocumentRow.kb == kb, DocumentRow.sha256 == sha256).limit(1)
            # the row stays locked to the end of this session (PostgreSQL): two forced uploads of
            # one file cannot both find the document idle and start a job each
            existing = s.execute(stmt.with_for_update()).scalar_one_or_none()
            job = latest_job(s, existing.id) if existing is not None else None
            if existing is not None and not force:
                path.unlink(missing_ok=True)
                reply = SubmissionPublic(document_id=existing.id, job_id=job.id if job else "", existing=True)
                return reply, None
            if job is not None and job.state not in TERMINAL_JOB_STATES:
                path.unlink(missing_ok=True)
                raise Conflict(
                    f"document {job.doc_id} is being processed (job {job.id}); wait for it to end or "
                    f"cancel it (POST /v1/jobs/{job.id}/cancel), then upload again with force"
                )
            doc = existing or DocumentRow(id=new_id(), kb=kb, sha256=sha256)
            doc.filename, doc.tags, doc.options = filename, list(tags), options.model_dump()
            doc.status, doc.pages, doc.chunks, doc.error = "queued", page_count, 0, None
            files = self.files(doc.id)
            if existing is not None:
                files.wipe_derived()
                Path(existing.source_path).unlink(missing_ok=True)
            files.root.mkdir(parents=True, exist_ok=True)
            target = files.root / f"original{Path(filename).suffix.lower()}"
            shutil.move(path, target)
            doc.source_path = str(target)
            s.add(doc)
            s.flush()
            s.execute(delete(PageRow).where(PageRow.doc_id == doc.id))
            pending = (ReviewPageRow.doc_id == doc.id) & (ReviewPageRow.state == "pending")
            s.execute(delete(ReviewPageRow).where(pending))  # its pages are OCR'd and sampled again
            s.add_all(PageRow(doc_id=doc.id, n=n) for n in range(1, page_count + 1))
            job = JobRow(
                id=new_id(), doc_id=doc.id, kind="ingest", pages_total=page_count, webhook_url=webhook_url
            )
            s.add(job)
        return SubmissionPublic(document_id=doc.id, job_id=job.id), job.id

    def list_documents(
        self,
        kbs: Kbs = None,
        status: str | None = None,
        limit: int = 50,
        offset: int = 0,
        sha256: str | None = None,
    ) -> tuple[list[DocumentPublic], int]:
        """Documents newest first, filtered by kbs, status and content hash, with the total count."""
        stmt = select(DocumentRow)
        if kbs is not None:
            stmt = stmt.where(DocumentRow.kb.in_(list(kbs)))
        if status:
            stmt = stmt.where(DocumentRow.status == status)
        if sha256:
            stmt = stmt.where(DocumentRow.sha256 == sha256.lower())
        with self.db.session() as s:
            total = s.execute(select(func.count()).select_from(stmt.subquery())).scalar_one()
            rows = s.execute(stmt.order_by(DocumentRow.created.desc()).limit(limit).offset(offset)).scalars()
            return [DocumentPublic.from_row(r) for r in rows], int(total)

    def get_document(self, doc_id: str, kbs: Kbs = None) -> DocumentDetail:
        """Raises UnknownDocument when missing or outside `kbs` (never reveals another kb's)."""
        with self.db.session() as s:
            row = s.get(DocumentRow, doc_id)
            if row is None or not _visible(row, kbs):
                raise UnknownDocument(doc_id)
            pages = s.execute(select(PageRow).where(PageRow.doc_id == doc_id).order_by(PageRow.n)).scalars()
            card = self.files(doc_id).saved_card()
            return DocumentDetail.from_rows(row, list(pages), latest_job(s, doc_id), card)

    async def delete_document(self, doc_id: str, kbs: Kbs = None) -> None:
        """Vectors, files, layouts and rows gone; a running job is cancelled first."""
        detail = self.get_document(doc_id, kbs)
        if detail.job is not None and not detail.job.terminal:
            self.runner.cancel(detail.job.id)
            await self.runner.wait_idle(detail.job.id)
        if detail.chunks or detail.status in ("done", "partial"):
            kb = await asyncio.to_thread(self.components.knowledge_base)
            await asyncio.to_thread(kb.delete_document, doc_id)
        with self.db.session() as s:
            row = s.get(DocumentRow, doc_id)
            if row is not None:
                s.execute(delete(JobRow).where(JobRow.doc_id == doc_id))
                s.execute(delete(PageRow).where(PageRow.doc_id == doc_id))
                s.delete(row)
        await asyncio.to_thread(shutil.rmtree, self.files(doc_id).root, True)

    # --- the embedder a kb was built with --------------------------------------------------
    def _mark_unrecorded_kbs(self) -> None:
        """Kbs filled before embedders were recorded: which one built them is unknown, so they are
        searched only after a reindex (the default embedder changed from MiniLM to e5 then)."""
        with self.db.session() as s:
            known = select(KbRow.kb)
            kbs = s.execute(select(DocumentRow.kb).where(DocumentRow.kb.not_in(known)).distinct()).scalars()
            s.add_all(
                KbRow(kb=kb, embedder="unknown (built before embedders were recorded)", dim=0) for kb in kbs
            )

    def check_embedder(self, kbs: Sequence[str] | None) -> None:
        """Refuse a kb (None: any kb) whose vectors another embedder made: its scores would be noise."""
        current = embedder_name(self.settings.embedder)
        with self.db.session() as s:
            stmt = select(KbRow).where(KbRow.embedder != current)
            if kbs is not None:
                stmt = stmt.where(KbRow.kb.in_(list(kbs)))
            stale = s.execute(stmt.order_by(KbRow.kb)).scalars().first()
        if stale is not None:
            raise EmbedderMismatch(
                f"kb {stale.kb!r} was built with the embedder {stale.embedder} ({stale.dim}-d), but this "
                f"server embeds with {current}; re-embed it from its saved layouts (no OCR) with "
                f"`opticite reindex --kb {stale.kb}` or POST /v1/kbs/{stale.kb}/reindex, or set the "
                "embedder back"
            )

    def record_embedder(self, kb: str) -> None:
        """Note the current embedder as the one that builds `kb` (first document, or a whole-kb reindex)."""
        dim = self.components.embedder().dim
        values = {
            "kb": kb,
            "embedder": embedder_name(self.settings.embedder),
            "dim": dim,
            "updated": utcnow(),
        }
        with self.db.session() as s:
            self.db.upsert(s, KbRow, values)

    async def reindex_kb(self, kb: str, kbs: Kbs = None) -> list[str]:
        """Re-chunk and re-embed every document of `kb` from its saved layouts with the current embedder."""
        if kbs is not None and kb not in kbs:
            raise Forbidden(f"this API key may not write kb {kb!r}")
        with self.db.session() as s:
            doc_ids = list(s.execute(select(DocumentRow.id).where(DocumentRow.kb == kb)).scalars())
        if not doc_ids:
            raise NotFound(f"kb {kb!r} has no documents")
        jobs = [await self.reindex(doc_id, kbs) for doc_id in doc_ids]
        await asyncio.to_thread(self.record_embedder, kb)
        return jobs

    async def reindex(self, doc_id: str, kbs: Kbs = None, retry_failed: bool = False) -> str:
        """Re-chunk + re-embed from stored layouts (no OCR), or re-OCR failed pages; a job id."""
        detail = self.get_document(doc_id, kbs)
        if detail.job is not None and not detail.job.terminal:
            raise Conflict(
                f"document {doc_id} is being processed (job {detail.job.id}); wait or cancel it first"
            )
        with self.db.session() as s:
            kind = "retry" if retry_failed else "reindex"
            job = JobRow(id=new_id(), doc_id=doc_id, kind=kind, pages_total=detail.pages)
            s.add(job)
            s.get_one(DocumentRow, doc_id).status = "queued"
        self.runner.submit(job.id)
        return job.id

    def markdown(self, doc_id: str, kbs: Kbs = None) -> str:
        self.get_document(doc_id, kbs)
        path = self.files(doc_id).markdown
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def layouts(self, doc_id: str, kbs: Kbs = None) -> list[PageLayout]:
        self.get_document(doc_id, kbs)
        return [layout for _, layout in sorted(self.files(doc_id).saved_layouts().items())]

    def page_png(self, doc_id: str, page: int, kbs: Kbs = None) -> bytes:
        """The page's image: from the cache, else rendered from the original now (and cached)."""
        detail = self.get_document(doc_id, kbs)
        png = self.page_images.png(self.files(doc_id), page) if 1 <= page <= detail.pages else None
        if png is None:
            raise PageNotFound(f"document {doc_id} has no rendered page {page} (it has {detail.pages} pages)")
        return png

    def page_image(self, doc_id: str, page: int, boxes: Sequence[BBox] = (), kbs: Kbs = None) -> bytes:
        """The rendered page PNG, with `boxes` highlighted when given."""
        png = self.page_png(doc_id, page, kbs)
        return render_highlight(png, list(boxes)) if boxes else png

    def page_crop(self, doc_id: str, page: int, bbox: BBox, margin: float = 0.01, kbs: Kbs = None) -> bytes:
        return render_crop(self.page_png(doc_id, page, kbs), bbox, margin)

    async def ocr_file(
        self,
        path: Path,
        options: OcrOptions | None = None,
        with_images: bool = False,
        on_page: Callable[[PageOutcome], None] | None = None,
    ) -> OcrResult:
        """OCR an image or PDF without storing or indexing anything.

        `with_images` puts each rendered page PNG in the reply as a data URI (the web UI's preview);
        `on_page` sees each page as it finishes, in completion order (the CLI's progress bar).
        """
        options = options or self.settings.ocr
        self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        scratch = DocumentFiles(Path(tempfile.mkdtemp(dir=self.settings.uploads_dir, prefix="ocr-")))
        hooks = Hooks(on_page=on_page) if on_page is not None else Hooks()
        try:
            pipeline = self.components.pipeline(self.settings.page_concurrency(), with_index=False)
            await pipeline.ocr_pages(path, scratch, options, hooks, keep_images=with_images)
            return await asyncio.to_thread(_ocr_result, scratch)  # base64 and Markdown are CPU work
        finally:
            await asyncio.to_thread(shutil.rmtree, scratch.root, True)

    async def ocr_request(self, path: Path, options: OcrOptions) -> OcrResult:
        """`/v1/ocr`: `ocr_file` with page images, within `ocr_request` limits (pages, pixels, requests
        at once), so the work a request causes stays in proportion (a small file can ask for a lot)."""
        limits = self.settings.ocr_request
        if self._ocr_slots.locked():
            raise OcrBusy(f"{limits.concurrency} OCR requests are running; try again shortly")
        async with self._ocr_slots:
            pages, pixels = await asyncio.to_thread(self._rendered_size, path)
            if pages > limits.max_pages or pixels > limits.max_pixels:
                raise OcrRequestTooLarge(
                    f"the file has {pages} pages rendering to {pixels:,} pixels; one /v1/ocr request takes at "
                    f"most {limits.max_pages} pages and {limits.max_pixels:,} pixels: upload it as a document "
                    "(POST /v1/documents) or split it"
                )
            return await self.ocr_file(path, options, with_images=True)

    def _rendered_size(self, path: Path) -> tuple[int, int]:
        with open_source(path, self.settings.source) as doc:
            return doc.page_count, doc.render_pixels()

    # --- jobs ---------------------------------------------------------------------------
    def get_job(self, job_id: str, kbs: Kbs = None) -> JobPublic:
        with self.db.session() as s:
            job = s.get(JobRow, job_id)
            if job is None or not _visible(s.get(DocumentRow, job.doc_id), kbs):
                raise JobNotFound(job_id)
            return JobPublic.from_row(job)

    def cancel_job(self, job_id: str, kbs: Kbs = None) -> JobPublic:
        self.get_job(job_id, kbs)
        self.runner.cancel(job_id)
        return self.get_job(job_id, kbs)

    def read_jobs(self, job_ids: Collection[str]) -> dict[str, JobPublic]:
        """Jobs by id in one query (the progress poller's read; visibility is checked before)."""
        with self.db.session() as s:
            rows = s.scalars(select(JobRow).where(JobRow.id.in_(list(job_ids))))
            return {row.id: JobPublic.from_row(row) for row in rows}

    async def watch_job(self, job_id: str, kbs: Kbs = None) -> AsyncIterator[JobPublic]:
        """Yields the job whenever its progress changes, ending with the terminal state."""
        await asyncio.to_thread(self.get_job, job_id, kbs)  # JobNotFound before the first event
        async for job in self.job_watch.watch(job_id):
            yield job

    async def wait_job(
        self, job_id: str, on_progress: Callable[[JobPublic], None] | None = None
    ) -> JobPublic:
        """Blocks until the job ends; `on_progress` sees every change (the CLI's progress bar)."""
        last = self.get_job(job_id)
        async for job in self.watch_job(job_id):
            last = job
            if on_progress is not None:
                on_progress(job)
        return last

    # --- retrieval ----------------------------------------------------------------------
    def search_sync(
        self,
        query: str,
        filters: SearchFilters,
        mode: SearchMode = "hybrid",
        top_k: int = 10,
        kbs: Kbs = None,
        distinct_pages: bool = True,
    ) -> list[SearchHit]:
        """Hybrid search within the kbs the caller may see; asking for another kb is Forbidden.
        Search results show each page once before any page twice; answers read the hits in rank order
        (`distinct_pages=False`, see `KnowledgeBase.search`)."""
        scoped = scope_filters(filters, kbs)
        self.check_embedder(None if any(f.kb is None for f in scoped) else [str(f.kb) for f in scoped])
        kb = self.components.knowledge_base()
        hits = [hit for f in scoped for hit in kb.search(query, f, mode, top_k, distinct_pages)]
        if len(scoped) == 1:  # one kb's hits keep their own order (cards and statements first)
            return hits
        hits = sorted(hits, key=lambda h: h.score, reverse=True)
        return pages_first(hits, top_k) if distinct_pages else hits[:top_k]

    async def search(
        self,
        query: str,
        filters: SearchFilters,
        mode: SearchMode = "hybrid",
        top_k: int = 10,
        kbs: Kbs = None,
        distinct_pages: bool = True,
    ) -> list[SearchHit]:
        return await asyncio.to_thread(self.search_sync, query, filters, mode, top_k, kbs, distinct_pages)

    async def ask(self, question: str, filters: SearchFilters, top_k: int = 8, kbs: Kbs = None) -> Answer:
        """Search, then answer with citations (LLM when configured, else extractive)."""
        hits = await self.search(question, filters, top_k=top_k, kbs=kbs, distinct_pages=False)
        answerer = await asyncio.to_thread(self.components.answerer)
        if missing := await asyncio.to_thread(self.unmentioned, question, hits):
            return unmentioned_refusal(answerer.config, missing)
        return await self.locate(await answerer.answer(question, hits))

    def unmentioned(self, question: str, hits: Sequence[SearchHit]) -> list[str]:
        """The names and years `question` asks about that the hits' documents never write."""
        return self.components.knowledge_base().unmentioned(question, hits)

    async def locate(self, answer: Answer) -> Answer:
        """Short citations on DeepSeek pages cut to the box the model locates them at (`api.locate`)."""
        engine = self.components.router().engines.get("deepseek") if self.settings.deepseek else None
        wanted = to_locate(answer)
        if engine is None or not wanted:
            return answer
        with self.db.session() as s:
            rows = s.execute(
                select(PageRow).where(
                    PageRow.doc_id.in_({d for d, _ in wanted}), PageRow.engine == "deepseek"
                )
            )
            on_deepseek = {(r.doc_id, r.n) for r in rows.scalars()} & set(wanted)
        pages = {key: await asyncio.to_thread(self._page_for_ocr, *key) for key in on_deepseek}
        return await locate_citations(answer, pages, engine)

    def _page_for_ocr(self, doc_id: str, page: int) -> PageImage:
        png = self.page_png(doc_id, page)
        with Image.open(io.BytesIO(png)) as image:
            size = image.size
        return PageImage(
            page=page,
            width=size[0],
            height=size[1],
            unit="px",
            image_png=png,
            image_size=size,
            dpi=self.settings.source.dpi,
        )

    def list_kbs(self, kbs: Kbs = None) -> list[KbPublic]:
        """The kbs a caller may read: every recorded kb, or the key's own kbs (filled or not yet)."""
        with self.db.session() as s:
            rows = {row.kb: row for row in s.execute(select(KbRow)).scalars()}
        names = sorted(rows) if kbs is None else sorted(set(kbs))
        return [KbPublic.from_row(name, rows.get(name)) for name in names]

    async def embed(
        self, kb: str, texts: Sequence[str], as_queries: bool = True, kbs: Kbs = None
    ) -> Embedding:
        """`texts` embedded by the embedder that built `kb` (as search queries, or as passages)."""
        scope_filters(SearchFilters(kb=kb), kbs)  # 403 for another kb
        if kb not in {k.kb for k in self.list_kbs(kbs)}:
            raise NotFound(f"no kb {kb!r}; list the kbs this key may read with GET /v1/models")
        self.check_embedder([kb])
        embedder = await asyncio.to_thread(self.components.embedder)

        def run() -> Embedding:
            if as_queries:
                vectors = [embedder.embed_query(text) for text in texts]
            else:
                vectors = embedder.embed_passages(texts)
            return Embedding(vectors=vectors, tokens=sum(embedder.count_tokens(t) for t in texts))

        return await asyncio.to_thread(run)

    async def chat_service(self, kbs: Kbs = None) -> ChatService:
        """Multi-turn chat whose every search stays inside `kbs`."""
        answerer = await asyncio.to_thread(self.components.answerer)
        return ChatService(ScopedSearcher(self, kbs), answerer, self.settings.chat, self.components.llm())


class ScopedSearcher:
    """`Services.search` bound to the caller's kbs: what chat and the OpenAI facade search with."""

    def __init__(self, services: Services, kbs: Kbs) -> None:
        self.services = services
        self.kbs = kbs

    def search(
        self, query: str, filters: SearchFilters, mode: SearchMode = "hybrid", top_k: int = 10
    ) -> list[SearchHit]:
        return self.services.search_sync(query, filters, mode, top_k, self.kbs, distinct_pages=False)

    def unmentioned(self, question: str, hits: Sequence[SearchHit]) -> list[str]:
        return self.services.unmentioned(question, hits)


def scope_filters(filters: SearchFilters, kbs: Kbs) -> list[SearchFilters]:
    """One filter per kb to search: the asked kb if allowed, else every allowed kb."""
    if kbs is None:
        return [filters]
    if filters.kb is not None:
        if filters.kb not in kbs:
            raise Forbidden(f"this API key may not read kb {filters.kb!r}; it may read: {', '.join(kbs)}")
        return [filters]
    return [filters.model_copy(update={"kb": kb}) for kb in kbs]


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Services started for the duration of the block (the app lifespan, CLI commands)."""
    services = Services(settings)
    await services.start()
    try:
        yield services
    finally:
        await services.aclose()
