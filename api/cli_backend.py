"""Where CLI commands run: services in this process, or the server that holds the data directory.

The embedded vector store opens in one process only; while `opticite serve` announces itself in
`data_dir/server.json`, commands go through its HTTP API instead (`ServerClient`).
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import typer

from api.cli_files import CliError
from api.schemas import (
    AskRequest,
    CalibrationPublic,
    DocumentDetail,
    DocumentPublic,
    JobPublic,
    SearchRequest,
    SubmissionPublic,
)
from api.server_info import ServerClient, finished, read_server_info
from ingest.calibration import CalibrationReport
from ingest.ocr.engine import OcrOptions, PageKind, ResolutionMode

if TYPE_CHECKING:  # both pull in every component (PyMuPDF, the pipeline...): loaded per command
    from api.services import Services
    from api.settings import Settings

# What an embedded store reports when another process holds its folder (Qdrant Edge, qdrant-client local).
LOCK_MARKERS = ("WouldBlock", "already accessed by another instance")


class Backend(Protocol):
    async def find(self, kb: str, sha256: str) -> DocumentDetail | None: ...
    async def submit(self, path: Path, kb: str, options: OcrOptions, tags: list[str]) -> SubmissionPublic: ...
    async def wait_job(self, job_id: str, on_progress: Callable[[JobPublic], None]) -> JobPublic: ...
    async def search(self, request: SearchRequest) -> list[dict[str, Any]]: ...
    async def ask(self, request: AskRequest) -> dict[str, Any]: ...
    async def documents(self, kb: str | None, limit: int) -> list[DocumentPublic]: ...
    async def delete(self, doc_id: str) -> None: ...
    async def reindex_kb(self, kb: str) -> list[str]: ...
    async def extract(
        self,
        kb: str,
        doc_ids: list[str] | None,
        schema: str | dict[str, Any],
        on_step: Callable[[int, int], None] = ...,
    ) -> dict[str, Any]: ...
    async def calibrate_kb(
        self, kb: str, sample: int, tolerance: float, save: bool, on_step: Callable[[int, int], None] = ...
    ) -> CalibrationPublic: ...
    async def save_calibration(
        self, kb: str, modes: Mapping[PageKind, ResolutionMode], report: CalibrationReport | None
    ) -> CalibrationPublic: ...
    async def review(
        self, kb: str, action: str, doc_id: str = "", page: int = 0, body: dict[str, Any] | None = None
    ) -> dict[str, Any]: ...


class LocalBackend:
    """The service operations the routes call, run in this process."""

    def __init__(self, services: Services) -> None:
        self.services = services

    async def find(self, kb: str, sha256: str) -> DocumentDetail | None:
        docs, _total = await asyncio.to_thread(self.services.list_documents, [kb], None, 1, 0, sha256)
        return await asyncio.to_thread(self.services.get_document, docs[0].id) if docs else None

    async def submit(self, path: Path, kb: str, options: OcrOptions, tags: list[str]) -> SubmissionPublic:
        from api.calibration import apply_kb_modes, kb_modes

        # the CLI names no mode: the kb's saved default modes apply, as they do to a server upload
        options = apply_kb_modes(options, await asyncio.to_thread(kb_modes, self.services, kb))
        # ingest moves its file into the data dir, so it gets a copy, staged like an HTTP upload
        with self.services.stage_upload(path.name) as staged:
            await asyncio.to_thread(shutil.copyfile, path, staged)
            return await self.services.ingest(staged, staged.name, kb, options, tags)

    async def wait_job(self, job_id: str, on_progress: Callable[[JobPublic], None]) -> JobPublic:
        return await self.services.wait_job(job_id, on_progress)

    async def search(self, request: SearchRequest) -> list[dict[str, Any]]:
        hits = await self.services.search(request.query, request.filters(), request.mode, request.top_k)
        return [hit.to_public() for hit in hits]

    async def ask(self, request: AskRequest) -> dict[str, Any]:
        answer = await self.services.ask(request.query, request.filters(), request.top_k)
        return answer.to_public()

    async def documents(self, kb: str | None, limit: int) -> list[DocumentPublic]:
        docs, _total = self.services.list_documents([kb] if kb else None, None, limit)
        return list(docs)

    async def delete(self, doc_id: str) -> None:
        await self.services.delete_document(doc_id)

    async def reindex_kb(self, kb: str) -> list[str]:
        return await self.services.reindex_kb(kb)

    async def extract(
        self,
        kb: str,
        doc_ids: list[str] | None,
        schema: str | dict[str, Any],
        on_step: Callable[[int, int], None] = lambda n, total: None,
    ) -> dict[str, Any]:
        from api.extract_jobs import ExtractJobs  # loaded only when used

        async with ExtractJobs(self.services).running() as jobs:
            job = await jobs.start(kb, doc_ids, schema, None)
            job = await jobs.wait(job.id, lambda j: on_step(j.documents_done, j.documents_total))
        return finished(job)

    async def calibrate_kb(
        self,
        kb: str,
        sample: int,
        tolerance: float,
        save: bool,
        on_step: Callable[[int, int], None] = lambda done, total: None,
    ) -> CalibrationPublic:
        from api.calibration import calibrate_kb

        return await calibrate_kb(self.services, kb, sample, tolerance, save, on_step)

    async def save_calibration(
        self, kb: str, modes: Mapping[PageKind, ResolutionMode], report: CalibrationReport | None
    ) -> CalibrationPublic:
        from api.calibration import save_calibration

        return await asyncio.to_thread(save_calibration, self.services, kb, modes, report)
    async def review(
        self, kb: str, action: str, doc_id: str = "", page: int = 0, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """OCR review: `next`, `accept` or `correct` (body: {blocks, reviewer}), as the routes do."""
        from api import ocr_review  # loaded only when used

        body = body or {}
        who = body.get("reviewer") or "cli"
        if action == "next":
            reply: Any = await asyncio.to_thread(ocr_review.next_page, self.services, kb, None)
        elif action == "accept":
            reply = await ocr_review.accept(self.services, kb, doc_id, page, who)
        else:
            fixes = [ocr_review.BlockCorrection.model_validate(b) for b in body["blocks"]]
            reply = await ocr_review.correct(self.services, kb, doc_id, page, fixes, who)
        return dict(reply.model_dump(mode="json"))


def _api_key(settings: Settings) -> str | None:
    keys = sorted(settings.api_keys, key=lambda k: "*" not in k.kbs)  # an all-kbs key first
    return keys[0].key if keys else None


@asynccontextmanager
async def open_backend(settings: Settings, needs_store: bool = True) -> AsyncIterator[Backend]:
    """The announced server when one runs on this data directory, else services in this process."""
    info = read_server_info(settings.data_dir)
    if info is not None:
        typer.echo(f"through the server at {info.url} (it holds {settings.data_dir})", err=True)
        client = ServerClient(info.url, _api_key(settings))
        try:
            yield client
        finally:
            await client.aclose()
        return
    from api.services import open_services

    async with open_services(settings) as services:
        if needs_store and settings.embedded_store():
            await _open_store(services, settings)
        yield LocalBackend(services)


async def _open_store(services: Any, settings: Settings) -> None:
    try:
        await asyncio.to_thread(services.components.knowledge_base)
    except Exception as exc:  # the embedded store's lock error has no type of its own
        if not any(marker in str(exc) for marker in LOCK_MARKERS):
            raise
        raise CliError(
            f"the vector store in {settings.data_dir} is open in another process (an opticite server or "
            "worker not started with `opticite serve`). Stop it, or run the server with `opticite serve`: it "
            "announces itself in server.json and CLI commands then go through it."
        ) from None
