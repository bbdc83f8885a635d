"""One behaviour suite for both job runners: in-process, and Celery with a real `opticite worker` on the
local Redis (with PostgreSQL, which the API and the worker share).

The API side is `Services` in this process; OCR is DeepSeek against the fake vLLM, slowed where a test
needs a page in flight, and embeddings come from the fake OpenAI server, so no process loads a model.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from api.services import Services, open_services
from api.settings import load_settings
from tests.fakes.openai_server import FakeLlmServer
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.documents import make_pdf
from tests.support.processes import WorkerProcess
from tests.support.webhooks import Receiver

pytestmark = [pytest.mark.slow]
PAGES = 4


@pytest.fixture
def vllm() -> Iterator[FakeVllm]:
    with FakeVllm(replies=load_recorded_replies()[:1]) as fake:
        yield fake


@pytest.fixture
def embed_url() -> Iterator[str]:
    with FakeLlmServer() as fake:
        yield fake.url


@pytest.fixture(params=["inprocess", pytest.param("celery", marks=pytest.mark.services)])
async def services(
    request: pytest.FixtureRequest, tmp_path: Path, vllm: FakeVllm, embed_url: str
) -> AsyncIterator[Services]:
    """Started services of each runner; for Celery, one worker process runs beside them."""
    overrides: dict[str, Any] = {
        "data_dir": str(tmp_path / "data"),
        "embedder": {"backend": "http", "url": embed_url},
        "deepseek": {"url": vllm.url, "concurrency": 1},
        "ocr": {"engine": "deepseek"},
        "jobs": {"page_concurrency": 1},
        "webhooks": {"allow_private_targets": True, "backoff_s": 0.05},
    }
    worker = None
    if request.param == "celery":
        overrides |= {
            "runner": "celery",
            "redis_url": request.getfixturevalue("redis_url"),
            "db_url": request.getfixturevalue("postgres_url"),
        }
        overrides["jobs"] |= {
            "celery_queue": f"opticite-test-{uuid.uuid4().hex[:8]}",
            "page_batch_size": 1,
            # the worker alone opens the embedded store; these tests never search from the API side
            "allow_embedded_store_with_celery": True,
        }
        worker = WorkerProcess(overrides, tmp_path / "worker.log")
        worker.start()
    try:
        async with open_services(load_settings(**overrides)) as started:
            yield started
    finally:
        if worker is not None:
            worker.stop()


async def _ingest(services: Services, tmp_path: Path, pages: int = PAGES, **kwargs: Any) -> tuple[str, str]:
    pdf = make_pdf(tmp_path / f"scan-{uuid.uuid4().hex[:6]}.pdf", pages=pages, scanned=True)
    with services.stage_upload(pdf.name) as staged:
        staged.write_bytes(pdf.read_bytes())
        sub = await services.ingest(staged, staged.name, "kb", **kwargs)
    return sub.document_id, sub.job_id


async def _until(condition: Any, what: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_submitted_document_ends_done_and_its_webhook_reports_it(
    services: Services, tmp_path: Path, vllm: FakeVllm
) -> None:
    receiver = Receiver(failures=0)
    try:
        doc_id, job_id = await _ingest(services, tmp_path, webhook_url=receiver.url)
        job = await asyncio.wait_for(services.wait_job(job_id), 180)
        await _until(lambda: receiver.received, "the webhook", 30)
    finally:
        receiver.close()
    assert (job.state, job.stage, job.pages_done, job.pages_total) == ("done", "done", PAGES, PAGES)
    doc = services.get_document(doc_id)
    assert doc.status == "done" and doc.chunks > 0
    assert len(vllm.requests) == PAGES  # every page OCR'd once
    event = json.loads(receiver.received[0][2])
    assert (event["event"], event["job"]["id"], event["document"]["chunks"]) == (
        "job.done",
        job_id,
        doc.chunks,
    )


async def test_a_cancelled_job_stops_between_pages(
    services: Services, tmp_path: Path, vllm: FakeVllm
) -> None:
    vllm.capacity(1, 1.0)
    doc_id, job_id = await _ingest(services, tmp_path)
    await _until(lambda: services.get_job(job_id).pages_done >= 1, "the first page")
    assert services.cancel_job(job_id).state == "cancelled"
    await services.runner.wait_idle(job_id, timeout_s=60)
    requests, done = len(vllm.requests), services.get_job(job_id).pages_done
    # idle means the job writes no more: a page abandoned in flight (the slot is freed at once, H10)
    # saves nothing, and no other page starts
    await asyncio.sleep(2.5)  # longer than a page takes
    assert len(vllm.requests) == requests < PAGES
    job = services.get_job(job_id)
    assert job.pages_done == done
    assert (job.state, services.get_document(doc_id).status) == ("cancelled", "cancelled")
    assert job.pages_done < PAGES


async def test_deleting_a_document_waits_for_its_running_step(
    services: Services, tmp_path: Path, vllm: FakeVllm
) -> None:
    vllm.capacity(1, 1.5)
    doc_id, job_id = await _ingest(services, tmp_path)
    await _until(lambda: vllm.in_flight >= 1, "a page in flight at the OCR server")
    await services.delete_document(doc_id)
    # the page that was in flight is abandoned (its request cancelled) or saved and deleted with the
    # rest: nothing is written after the delete, even once the server has answered
    await asyncio.sleep(2.5)  # longer than the page takes at the server
    assert not services.files(doc_id).root.exists()
    assert services.list_documents()[1] == 0
