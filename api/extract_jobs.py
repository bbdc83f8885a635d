"""Extraction jobs: a schema read from a kb's documents in the background, with progress and a saved table.

`POST /v1/extract` and `opticite extract` start one (`ExtractJobs.start`). It runs as an asyncio task in the
process that took it, one job at a time, reading each document only when no result is stored for its
current version (`api.review.read_document`), and ends with its table saved in its `extract_jobs` row.
Progress reaches clients through a `JobWatch` (one query per tick for every open stream), as ingestion's
does. A job left queued or running when the process stopped runs again at its next start; the documents
it had read are stored, so they are not read again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import select

from api.db import DocumentRow, ExtractJobRow
from api.errors import JobNotFound
from api.progress import JobWatch
from api.review import plan, read_document
from api.schemas import DocumentPublic, ExtractJobPublic
from api.services import Kbs, Services, new_id
from ingest.errors import OpticiteError
from retrieval.review import parse_schema

log = logging.getLogger(__name__)


class ExtractJobs:
    """Starts, runs, resumes and reports the extraction jobs of one process (`running()` around its life)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.db = services.db
        self.watch = JobWatch(self.read)
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._one = asyncio.Semaphore(1)  # jobs read one after another: reading is CPU-bound

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ExtractJobs]:
        """Resumes unfinished jobs; at exit, stops the running ones (they resume at the next start)."""
        for job_id in await asyncio.to_thread(self._unfinished):
            self._submit(job_id)
        try:
            yield self
        finally:
            tasks = list(self._tasks.values())
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.watch.aclose()

    async def start(
        self, kb: str, doc_ids: list[str] | None, spec: str | dict[str, Any], scope: list[str] | None
    ) -> ExtractJobPublic:
        """A queued job over the asked documents; a bad schema or an unknown document raise before it."""
        schema, docs = await asyncio.to_thread(plan, self.services, kb, doc_ids, spec, scope)
        row = ExtractJobRow(
            id=new_id(), kb=kb, spec=schema.model_dump(mode="json"), doc_ids=[d.id for d in docs]
        )
        with self.db.session() as s:
            s.add(row)
        self._submit(row.id)
        return ExtractJobPublic.from_row(row)

    def get(self, job_id: str, scope: Kbs = None) -> ExtractJobPublic:
        """The job with its table once done (documents deleted since are left out)."""
        with self.db.session() as s:
            row = s.get(ExtractJobRow, job_id)
            if row is None or (scope is not None and row.kb not in scope):
                raise JobNotFound(job_id)
            job = ExtractJobPublic.from_row(row, with_documents=True)
            if job.documents:
                ids = [d["doc_id"] for d in job.documents]
                kept = set(s.scalars(select(DocumentRow.id).where(DocumentRow.id.in_(ids))))
                job.documents = [d for d in job.documents if d["doc_id"] in kept]
            return job

    def read(self, job_ids: Collection[str]) -> dict[str, ExtractJobPublic]:
        """Jobs by id in one query, without their tables (the progress poller's read)."""
        with self.db.session() as s:
            rows = s.scalars(select(ExtractJobRow).where(ExtractJobRow.id.in_(list(job_ids))))
            return {row.id: ExtractJobPublic.from_row(row) for row in rows}

    async def events(self, job_id: str, scope: Kbs = None) -> AsyncIterator[ExtractJobPublic]:
        """The job whenever its progress changes, ending with its terminal state."""
        await asyncio.to_thread(self.get, job_id, scope)  # JobNotFound before the first event
        async for job in self.watch.watch(job_id):
            yield job

    async def wait(
        self, job_id: str, on_progress: Callable[[ExtractJobPublic], None] = lambda job: None
    ) -> ExtractJobPublic:
        """Blocks until the job ends; the job with its table."""
        async for job in self.events(job_id):
            on_progress(job)
        return await asyncio.to_thread(self.get, job_id)

    # --- running ----------------------------------------------------------------------------
    def _unfinished(self) -> list[str]:
        with self.db.session() as s:
            stmt = select(ExtractJobRow.id).where(ExtractJobRow.state.in_(("queued", "running")))
            return list(s.scalars(stmt.order_by(ExtractJobRow.created)))

    def _submit(self, job_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job_id), name=f"extract-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._tasks.pop(job_id, None))

    async def _run(self, job_id: str) -> None:
        async with self._one:
            try:
                documents = await self._read_all(job_id)
            except asyncio.CancelledError:
                raise  # the process stops: the job stays running and resumes at the next start
            except OpticiteError as exc:
                log.warning("extraction job %s failed: %s: %s", job_id, exc.code, exc.message)
                await asyncio.to_thread(
                    self._update, job_id, state="failed", error=f"{exc.code}: {exc.message}"
                )
            except Exception as exc:
                log.exception("extraction job %s failed", job_id)
                await asyncio.to_thread(self._update, job_id, state="failed", error=f"internal_error: {exc}")
            else:
                await asyncio.to_thread(self._update, job_id, state="done", documents=documents)

    async def _read_all(self, job_id: str) -> list[dict[str, Any]]:
        with self.db.session() as s:
            row = s.get(ExtractJobRow, job_id)
            assert row is not None, job_id
            schema, doc_ids = parse_schema(row.spec), list(row.doc_ids)
        await asyncio.to_thread(self._update, job_id, state="running", docs_done=0, docs_read=0)
        documents: list[dict[str, Any]] = []
        read = 0
        for n, doc in enumerate(await asyncio.to_thread(self._documents, doc_ids), start=1):
            if doc is not None:  # deleted since the job started: nothing to read
                result, fresh = await read_document(self.services, doc, schema)
                documents.append(result)
                read += fresh
            name = doc.filename if doc is not None else None
            await asyncio.to_thread(self._update, job_id, docs_done=n, docs_read=read, current=name)
        return documents

    def _documents(self, doc_ids: list[str]) -> list[DocumentPublic | None]:
        with self.db.session() as s:
            rows = {r.id: r for r in s.scalars(select(DocumentRow).where(DocumentRow.id.in_(doc_ids)))}
            return [DocumentPublic.from_row(rows[i]) if i in rows else None for i in doc_ids]

    def _update(self, job_id: str, **values: Any) -> None:
        with self.db.session() as s:
            row = s.get(ExtractJobRow, job_id)
            if row is not None:
                for name, value in values.items():
                    setattr(row, name, value)
