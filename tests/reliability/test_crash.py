"""Crash and restart: the API (in-process runner) and a Celery worker SIGKILLed mid-ingest, then
restarted. Every document completes with a clean run's chunk counts, the store holds no extra
points, and no page whose result was saved is OCR'd again. The full 20-document run with random
kill points is bench/reliability.py; this is the reduced one (4 documents, 2 kills).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.jobs import JobSteps
from api.services import Services
from api.settings import load_settings
from tests.fakes.openai_server import EMBED_DIM
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.crash import (
    clean_chunks,
    crash_problems,
    make_corpus,
    run_with_kills,
    service_overrides,
)
from tests.support.documents import make_pdf
from tests.support.processes import ApiProcess, WorkerProcess
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow
DOCS = 4
KILL_DELAYS_S = [0.3, 0.6]
CAPACITY = (1, 0.5)  # one page at a time at the fake vLLM, 0.5 s each: kills land mid-OCR


@pytest.fixture
def slow_vllm() -> Iterator[FakeVllm]:
    """One recorded reply for every page (a clean and a crashed run chunk alike), 2 pages at a time."""
    with FakeVllm(replies=load_recorded_replies()[:1]) as fake:
        fake.capacity(*CAPACITY)
        yield fake


def test_api_killed_twice_mid_ingest_loses_and_repeats_nothing(
    tmp_path: Path, slow_vllm: FakeVllm, embed_url: str
) -> None:
    corpus = make_corpus(tmp_path / "corpus", DOCS, max_pages=3, scanned_every=1)
    overrides = service_overrides(tmp_path / "data", slow_vllm.url, embed_url)
    clean = clean_chunks(tmp_path / "clean", corpus, overrides)
    slow_vllm.reset()
    slow_vllm.capacity(*CAPACITY)
    api = ApiProcess(overrides, tmp_path / "api.log")
    api.start()
    try:
        with api.client() as client:
            run = run_with_kills(api, client, slow_vllm, corpus, KILL_DELAYS_S, timeout_s=180)
    finally:
        api.stop()
    assert len(run.kills) == 2 and api.starts == 3
    assert any(k["pages_done"] < sum(d["pages"] for d in run.documents.values()) for k in run.kills)
    settings = load_settings(**overrides)
    assert crash_problems(run, clean, settings.docs_dir, settings.store_config()) == {}


def test_celery_worker_killed_twice_mid_ingest_loses_and_repeats_nothing(
    tmp_path: Path, slow_vllm: FakeVllm, embed_url: str, redis_url: str
) -> None:
    corpus = make_corpus(tmp_path / "corpus", 3, seed=11, max_pages=3, scanned_every=1)
    queue = f"opticite-rel-{uuid.uuid4().hex[:8]}"
    jobs = {
        "celery_queue": queue,
        # redelivery after a kill waits this long; a live task running longer is redelivered too (Redis
        # transport), which repeated a page on a loaded 2-core machine at 4 s
        "visibility_timeout_s": 10,
        "page_batch_size": 2,
        "allow_embedded_store_with_celery": True,
    }
    overrides = service_overrides(
        tmp_path / "data", slow_vllm.url, embed_url, runner="celery", redis_url=redis_url, jobs=jobs
    )
    clean = clean_chunks(tmp_path / "clean", corpus, overrides)
    slow_vllm.reset()
    slow_vllm.capacity(*CAPACITY)
    worker = WorkerProcess(overrides, tmp_path / "worker.log")
    settings = load_settings(**overrides)
    worker.start()
    try:
        # the API only queues and reports; it never opens the embedded store, which the worker owns
        with LiveServer(settings) as server, server.client() as client:
            run = run_with_kills(worker, client, slow_vllm, corpus, KILL_DELAYS_S, timeout_s=180)
    finally:
        worker.stop()
    assert len(run.kills) == 2 and worker.starts == 3
    assert crash_problems(run, clean, settings.docs_dir, settings.store_config()) == {}


class QueueNothing:
    """A job runner that queues nothing: the test plays the Celery worker's part step by step."""

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def submit(self, job_id: str) -> None:
        return None

    def cancel(self, job_id: str) -> None:
        return None

    async def wait_idle(self, job_id: str, timeout_s: float = 30.0) -> None:
        return None


async def test_a_batch_redelivered_after_a_kill_between_claim_and_queue_still_finalizes(
    tmp_path: Path, embed_url: str
) -> None:
    embedder = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    services = Services(load_settings(data_dir=tmp_path / "data", embedder=embedder), runner=QueueNothing())
    await services.start()
    try:
        sub = await services.ingest(make_pdf(tmp_path / "a.pdf", pages=2), "a.pdf", "kb")
        steps = JobSteps(services.db, services.components, services.settings)
        assert steps.begin(sub.job_id) is not None
        assert await steps.run_batch(sub.job_id, [1, 2])  # claimed; the worker dies before queueing FINALIZE
        if await steps.run_batch(sub.job_id, [1, 2]):  # Celery redelivers the unacked batch after a restart
            await steps.run_finalize(sub.job_id)
        assert services.get_job(sub.job_id).state == "done"
    finally:
        await services.aclose()


async def test_a_cancelled_job_ending_late_leaves_the_newer_jobs_status(
    tmp_path: Path, embed_url: str
) -> None:
    """A hung job is cancelled, a forced re-upload's job runs and finishes; when the cancelled job's task
    finally notices and records its end, the document keeps the newer job's "done"."""
    embedder = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    services = Services(load_settings(data_dir=tmp_path / "data", embedder=embedder), runner=QueueNothing())
    await services.start()
    try:
        pdf = make_pdf(tmp_path / "a.pdf", pages=2).read_bytes()  # ingest moves the file: upload copies
        (tmp_path / "1.pdf").write_bytes(pdf)
        old = await services.ingest(tmp_path / "1.pdf", "a.pdf", "kb")
        steps = JobSteps(services.db, services.components, services.settings)
        assert steps.begin(old.job_id) is not None
        steps.cancel(old.job_id)
        (tmp_path / "2.pdf").write_bytes(pdf)
        new = await services.ingest(tmp_path / "2.pdf", "a.pdf", "kb", force=True)
        assert new.document_id == old.document_id and new.job_id != old.job_id
        await steps.run(new.job_id)
        steps.finish(old.job_id, None)  # the cancelled job's task records its end only now
        assert services.get_job(old.job_id).state == "cancelled"
        assert services.get_document(old.document_id).status == "done"
    finally:
        await services.aclose()
