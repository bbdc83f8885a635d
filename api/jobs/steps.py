"""The steps of a document job against the metadata DB, shared by both runners.

Job state lives in the DB and page results on disk, so a job resumed after a crash (in-process
start-up, Celery redelivery) only OCRs the pages that have no saved layout.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api import metrics
from api.components import Components
from api.db import Database, DocumentRow, JobRow, PageRow, count_finished_pages, latest_job, utcnow
from api.review_queue import enqueue, review_reason
from api.schemas import TERMINAL_JOB_STATES, DocumentPublic, JobPublic
from api.settings import Settings
from api.webhooks import WebhookSender
from ingest.errors import OpticiteError
from ingest.ocr.engine import OcrOptions
from ingest.pipeline import STAGES, DocumentFiles, DocumentOutcome, Hooks, PageOutcome, PipelineCancelled

log = logging.getLogger(__name__)
STAGE_ORDER = ("queued", *STAGES, "finalizing", "done")
CANCEL_POLL_S = 1.0  # how often a job in OCR looks for a cancel while pages are in flight


@dataclass(frozen=True)
class JobContext:
    job_id: str
    kind: str  # ingest, reindex, retry
    doc_id: str
    kb: str
    filename: str
    source: Path
    options: OcrOptions
    tags: list[str] = field(default_factory=list)
    pages_total: int = 0


def later_stage(current: str, new: str) -> bool:
    """Stages only move forward, so a late duplicate batch never rewinds the job."""
    order = {name: i for i, name in enumerate(STAGE_ORDER)}
    return order.get(new, 0) > order.get(current, 0)


class JobSteps:
    """The steps of a job, shared by both runners; every step reads and writes the DB."""

    def __init__(self, db: Database, components: Components, settings: Settings) -> None:
        self.db = db
        self.components = components
        self.settings = settings
        # webhooks go out in the background once a job ends, never inside its runner slot
        self.webhooks = WebhookSender(lambda: components.http_client("webhooks"), settings.webhooks)

    def files(self, doc_id: str) -> DocumentFiles:
        return DocumentFiles(self.settings.docs_dir / doc_id)

    def begin(self, job_id: str) -> JobContext | None:
        """Mark the job running (one more attempt); None when it is finished or cancelled."""
        with self.db.session() as s:
            rows = _live(s, job_id)
            if rows is None:
                return None
            job, doc = rows
            job.state, job.attempts = "running", job.attempts + 1
            doc.status = "processing"
            if job.kind == "retry":
                self._reset_failed_pages(s, doc.id)
            job.pages_done = count_finished_pages(s, doc.id)
            return _context(job, doc)

    def context(self, job_id: str) -> JobContext | None:
        """What a step needs to know about its job; None once the job has ended."""
        with self.db.session() as s:
            rows = _live(s, job_id)
            return _context(*rows) if rows is not None else None

    def unfinished_pages(self, doc_id: str) -> list[int]:
        with self.db.session() as s:
            stmt = (
                select(PageRow.n)
                .where(PageRow.doc_id == doc_id, PageRow.status == "pending")
                .order_by(PageRow.n)
            )
            return list(s.execute(stmt).scalars())

    def _reset_failed_pages(self, s: Session, doc_id: str) -> None:
        files = self.files(doc_id)
        for row in s.execute(
            select(PageRow).where(PageRow.doc_id == doc_id, PageRow.status == "failed")
        ).scalars():
            files.layout(row.n).unlink(missing_ok=True)
            row.status, row.engine, row.quality_status, row.quality_reason = "pending", None, None, None
            row.mode, row.mode_reason = None, None

    def hooks(self, job_id: str) -> Hooks:
        """Each hook reads or writes the DB, so each runs in a worker thread, off the event loop."""
        return Hooks(
            on_page=lambda outcome: asyncio.to_thread(self.record_page, job_id, outcome),
            on_stage=lambda stage: asyncio.to_thread(self.record_stage, job_id, stage),
            cancelled=lambda: asyncio.to_thread(self.is_cancelled, job_id),
        )

    def record_page(self, job_id: str, outcome: PageOutcome) -> None:
        with self.db.session() as s:
            # the job's row locked first: workers recording pages of one document at once would otherwise
            # each count the finished pages without the other's, and the last to commit would lose one
            job = s.get_one(JobRow, job_id, with_for_update=True)
            page = s.get(PageRow, (job.doc_id, outcome.page)) or PageRow(doc_id=job.doc_id, n=outcome.page)
            page.status, page.engine = outcome.status, outcome.engine
            page.quality_status, page.quality_reason = outcome.quality.status, outcome.quality.reason
            page.mode = outcome.mode.mode if outcome.mode else None
            page.mode_reason = outcome.mode.reason if outcome.mode else None
            if not outcome.reused:
                page.ocr_at, page.output_tokens = utcnow(), outcome.output_tokens
                self._sample(s, job.doc_id, page)
            s.add(page)
            s.flush()
            job.pages_done = count_finished_pages(s, job.doc_id)
        if not outcome.reused:
            metrics.record_page(outcome)

    def _sample(self, s: Session, doc_id: str, page: PageRow) -> None:
        kb = s.get_one(DocumentRow, doc_id).kb
        rate = self.settings.review.rate_for(kb)
        reason = review_reason(doc_id, page.n, page.quality_status or "ok", rate)
        if reason is not None and page.ocr_at is not None:
            enqueue(s, doc_id, page.n, kb, reason, page.engine or "none", page.mode, page.ocr_at)

    def record_stage(self, job_id: str, stage: str) -> None:
        with self.db.session() as s:
            job = s.get_one(JobRow, job_id)
            if later_stage(job.stage, stage):
                job.stage = stage

    def is_cancelled(self, job_id: str) -> bool:
        with self.db.session() as s:
            job = s.get(JobRow, job_id)
            return job is None or job.state == "cancelled"

    def cancel(self, job_id: str) -> None:
        with self.db.session() as s:
            job = s.get(JobRow, job_id)
            if job is None or job.state in TERMINAL_JOB_STATES:
                return
            job.state, job.error = "cancelled", "cancelled by request"
            s.execute(update(DocumentRow).where(DocumentRow.id == job.doc_id).values(status="cancelled"))

    def claim_finalize(self, job_id: str, replay: bool = False) -> bool:
        """True for exactly one caller once every page is finished (Celery fan-in).

        A `replay` (a redelivered step that finds its work already done) also gets True while the
        job runs at stage `finalizing`: the claimer may have died before queueing finalize, and a
        second finalize is harmless (it rewrites the same result; `finish` records once)."""
        with self.db.session() as s:
            job = s.get_one(JobRow, job_id)
            if job.state != "running" or count_finished_pages(s, job.doc_id) < job.pages_total:
                return False
            if replay and job.stage == "finalizing":
                return True
            stmt = update(JobRow).where(
                JobRow.id == job_id, JobRow.stage != "finalizing", JobRow.stage != "done"
            )
            return s.execute(stmt.values(stage="finalizing")).rowcount == 1  # type: ignore[attr-defined]

    async def ocr(self, ctx: JobContext, pages: list[int] | None = None) -> None:
        """OCR pages without a saved layout (all, or `pages`: a Celery batch); progress goes to the DB."""
        pipeline = self.components.pipeline(self.settings.page_concurrency(), with_index=False)
        files = self.files(ctx.doc_id)
        work = pipeline.ocr_pages(ctx.source, files, ctx.options, self.hooks(ctx.job_id), pages=pages)
        await self._unless_cancelled(ctx.job_id, asyncio.ensure_future(work))

    async def _unless_cancelled(self, job_id: str, work: asyncio.Future[Any]) -> None:
        """Await `work`, abandoning it once the job is cancelled: a page that hangs on the OCR server
        must not hold the runner slot (its layout is never saved, so the page stays pending)."""
        try:
            while not (await asyncio.wait({work}, timeout=CANCEL_POLL_S))[0]:
                if await asyncio.to_thread(self.is_cancelled, job_id):
                    raise PipelineCancelled("cancelled during OCR")
            work.result()
        finally:
            work.cancel()  # a no-op once done; else cancelled here, or the whole job task was (shutdown)

    async def finalize(self, ctx: JobContext) -> DocumentOutcome:
        """Markdown, chunks and index from the saved layouts (a reindex, or Celery's last step)."""
        pipeline = await asyncio.to_thread(self.components.pipeline, self.settings.page_concurrency())
        files = self.files(ctx.doc_id)
        hooks = self.hooks(ctx.job_id)
        return await pipeline.finalize(
            ctx.doc_id, ctx.kb, ctx.filename, files, ctx.tags, hooks, page_count=ctx.pages_total
        )

    async def whole(self, ctx: JobContext) -> DocumentOutcome:
        """The whole document in this process, as `Pipeline.run`: OCR what is missing (a cancel is
        seen while pages are in flight), then finalize; a reindex is the finalize alone."""
        if ctx.kind != "reindex":
            await self.ocr(ctx)
            if await asyncio.to_thread(self.is_cancelled, ctx.job_id):
                raise PipelineCancelled("cancelled after OCR")
        return await self.finalize(ctx)

    def finish(
        self, job_id: str, outcome: DocumentOutcome | None, error: str | None = None
    ) -> tuple[JobPublic, DocumentPublic] | None:
        """Record the end state; returns what the webhook reports (None when already ended). The
        document's status follows its latest job only: a cancelled job that ends after a forced
        re-upload's job has finished must not write "cancelled" over that job's result."""
        with self.db.session() as s:
            job = s.get_one(JobRow, job_id)
            doc = s.get_one(DocumentRow, job.doc_id)
            latest = latest_job(s, doc.id)
            current = latest is None or latest.id == job.id
            if job.state == "running":
                state = outcome.status if outcome else "failed"
                job.state, job.stage = state, "done" if outcome else job.stage
                job.error = error or (
                    f"pages failed: {outcome.failed_pages}" if outcome and outcome.failed_pages else None
                )
                if current:
                    doc.status, doc.error = state, job.error
                    if outcome is not None:
                        doc.chunks = outcome.chunks
            elif job.state != "cancelled":
                return None
            if current:
                doc.status = job.state
            if job.state in ("failed", "cancelled"):
                metrics.JOB_ERRORS.labels(state=job.state).inc()
            return JobPublic.from_row(job), DocumentPublic.from_row(doc)

    async def notify(self, job_id: str, ended: tuple[JobPublic, DocumentPublic] | None) -> None:
        """Queue the webhook: it is delivered in the background, never inside the runner slot."""
        url = await asyncio.to_thread(self.webhook_url, job_id)
        if ended is not None and url:
            self.webhooks.send(url, *ended)

    def webhook_url(self, job_id: str) -> str | None:
        with self.db.session() as s:
            job = s.get(JobRow, job_id)
            return job.webhook_url if job else None

    async def run(self, job_id: str) -> None:
        """The whole job in this process: OCR what is missing, finalize, record, notify."""
        ctx = await asyncio.to_thread(self.begin, job_id)
        if ctx is not None:
            await self._guarded(job_id, self.whole(ctx))

    async def run_batch(self, job_id: str, pages: list[int]) -> bool:
        """OCR some pages of a running job; True when this call must queue the finalize step."""
        ctx = await asyncio.to_thread(self.context, job_id)
        if ctx is None:
            return False
        files = self.files(ctx.doc_id)
        replay = all(files.layout(n).exists() for n in pages)  # a redelivery: nothing left to OCR
        goes_on = await self._guarded(job_id, self.ocr(ctx, pages))
        return goes_on and await asyncio.to_thread(self.claim_finalize, job_id, replay)

    async def run_finalize(self, job_id: str) -> None:
        ctx = await asyncio.to_thread(self.context, job_id)
        if ctx is not None:
            await self._guarded(job_id, self.finalize(ctx))

    async def _guarded(self, job_id: str, work: Awaitable[DocumentOutcome | None]) -> bool:
        """Run one step; record how the job ended if it did. True when the job goes on."""
        try:
            outcome = await work
        except PipelineCancelled:
            ended = await asyncio.to_thread(self.finish, job_id, None)
        except OpticiteError as exc:
            ended = await asyncio.to_thread(self.finish, job_id, None, f"{exc.code}: {exc.message}")
        except Exception as exc:  # a job is a unit of work: record why it failed
            log.exception("job %s failed", job_id)
            ended = await asyncio.to_thread(
                self.finish, job_id, None, f"internal_error: {type(exc).__name__}: {exc}"
            )
        else:
            if outcome is None:
                return True
            ended = await asyncio.to_thread(self.finish, job_id, outcome)
        await self.notify(job_id, ended)
        return False


def _live(s: Session, job_id: str) -> tuple[JobRow, DocumentRow] | None:
    """The job and its document while the job has not ended."""
    job = s.get(JobRow, job_id)
    doc = s.get(DocumentRow, job.doc_id) if job else None
    if job is None or doc is None or job.state in TERMINAL_JOB_STATES:
        return None
    return job, doc


def _context(job: JobRow, doc: DocumentRow) -> JobContext:
    return JobContext(
        job_id=job.id,
        kind=job.kind,
        doc_id=doc.id,
        kb=doc.kb,
        filename=doc.filename,
        source=Path(doc.source_path),
        options=OcrOptions.model_validate(doc.options or {}),
        tags=list(doc.tags or []),
        pages_total=doc.pages,
    )
