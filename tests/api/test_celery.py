"""Celery workers on the real Redis with PostgreSQL: the main flow, and a worker SIGKILLed in the
middle of a document — the job finishes after a restart, no page is OCR'd twice, and the chunk
count equals a clean run's. OCR is the DeepSeek engine against the fake vLLM (slowed to one page
at a time), so the kill lands mid-document. The embedded store is opened by the worker alone
while it runs (the API opens it only after the worker has stopped)."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.services import open_services
from api.settings import load_settings
from tests.fakes.openai_server import FakeLlmServer
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.documents import make_pdf
from tests.support.processes import WorkerProcess
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = [pytest.mark.services, pytest.mark.slow]
PAGES = 6


@pytest.fixture
def embed_url() -> Iterator[str]:
    """An OpenAI-compatible embeddings server, so worker processes load no model."""
    with FakeLlmServer() as fake:
        yield fake.url


@pytest.fixture
def one_reply_vllm() -> Iterator[FakeVllm]:
    """Every page gets the same recorded reply, so a clean run and a crashed run chunk alike."""
    with FakeVllm(replies=load_recorded_replies()[:1]) as fake:
        fake.capacity(1, 0.35)
        yield fake


def _overrides(data_dir: Path, db_url: str, redis_url: str, vllm_url: str, embed_url: str) -> dict[str, Any]:
    """The settings of the API (in this process) and of the worker (`opticite worker`) alike."""
    return {
        "data_dir": str(data_dir),
        "db_url": db_url,
        "runner": "celery",
        "redis_url": redis_url,
        "embedder": {"backend": "http", "url": embed_url},
        "deepseek": {"url": vllm_url, "concurrency": 1},
        "jobs": {
            "celery_queue": f"opticite-test-{uuid.uuid4().hex[:8]}",
            "visibility_timeout_s": 6,
            "page_batch_size": 2,
            "page_concurrency": 1,
            "allow_embedded_store_with_celery": True,
        },
    }


def _wait_pages(client: httpx.Client, job_id: str, at_least: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if client.get(f"/v1/jobs/{job_id}").json()["pages_done"] >= at_least:
            return
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} never reached {at_least} pages")


async def _clean_run_chunks(tmp_path: Path, pdf: Path, vllm_url: str, embedder: dict[str, str]) -> int:
    settings = test_settings(
        tmp_path / "clean", deepseek={"url": vllm_url, "concurrency": 1}, embedder=embedder
    )
    async with open_services(settings) as services:
        sub = await services.ingest(
            pdf, pdf.name, "kb", settings.ocr.model_copy(update={"engine": "deepseek"})
        )
        assert (await services.wait_job(sub.job_id)).state == "done"
        return services.get_document(sub.document_id).chunks


async def test_killed_worker_resumes_without_redoing_pages(
    tmp_path: Path, postgres_url: str, redis_url: str, one_reply_vllm: FakeVllm, embed_url: str
) -> None:
    embedder = {"backend": "http", "url": embed_url}
    pdf = make_pdf(tmp_path / "long.pdf", pages=PAGES, scanned=True)
    copy = make_pdf(tmp_path / "copy.pdf", pages=PAGES, scanned=True)
    overrides = _overrides(tmp_path / "data", postgres_url, redis_url, one_reply_vllm.url, embed_url)
    settings = load_settings(**overrides)
    worker = WorkerProcess(overrides, tmp_path / "worker.log")
    with LiveServer(settings) as server, server.client() as client:
        try:
            clean_chunks = await _clean_run_chunks(tmp_path, copy, one_reply_vllm.url, embedder)
            worker.start()
            sub = upload(client, pdf, kb="scans", engine="deepseek").json()
            _wait_pages(client, sub["job_id"], 2)
            worker.kill()
            killed_at = client.get(f"/v1/jobs/{sub['job_id']}").json()
            assert killed_at["state"] == "running" and killed_at["pages_done"] < PAGES
            worker.start()
            events = read_sse(client, f"/v1/jobs/{sub['job_id']}/events", timeout_s=120)
        finally:
            worker.stop()
        final = events[-1][1]
        assert (final["state"], final["pages_done"], final["pages_total"]) == ("done", PAGES, PAGES), (
            final,
            (tmp_path / "worker.log").read_text()[-3000:],
        )
        log = (settings.docs_dir / sub["document_id"] / "ocr.log").read_text().splitlines()
        ocr_calls = Counter(line.split("\t")[0] for line in log)
        assert ocr_calls == Counter({str(n): 1 for n in range(1, PAGES + 1)})  # no page OCR'd twice
        doc = client.get(f"/v1/documents/{sub['document_id']}").json()
        assert doc["chunks"] == clean_chunks > 0
        assert {p["engine"] for p in doc["page_details"]} == {"deepseek"}

        # the worker has stopped: the API may open the embedded store now
        hits = client.post(
            "/v1/search", json={"query": "the", "kb": "scans", "top_k": 100, "mode": "sparse"}
        ).json()
        assert {h["doc_id"] for h in hits["results"]} == {sub["document_id"]}
        assert client.delete(f"/v1/documents/{sub['document_id']}").status_code == 204
        assert client.get("/v1/documents").json()["total"] == 0


def test_cancel_mid_ocr_frees_the_worker(
    tmp_path: Path, postgres_url: str, redis_url: str, embed_url: str
) -> None:
    """Issue 14, H10 on Celery: a page hangs on the OCR server in the only worker thread; after the
    cancel the thread is free within a second or so, and another kb's document runs."""
    with FakeVllm(replies=load_recorded_replies()[:1]) as vllm:
        vllm.script("hang")
        overrides = _overrides(tmp_path / "data", postgres_url, redis_url, vllm.url, embed_url)
        overrides["deepseek"]["retries"] = 0
        settings = load_settings(**overrides)
        worker = WorkerProcess(overrides, tmp_path / "worker.log", concurrency=1)
        with LiveServer(settings) as server, server.client() as client:
            try:
                worker.start()
                pdf = make_pdf(tmp_path / "hung.pdf", pages=2, scanned=True)
                hung = upload(client, pdf, kb="slow", engine="deepseek").json()
                deadline = time.monotonic() + 120  # the worker boots first
                while not vllm.requests and time.monotonic() < deadline:
                    time.sleep(0.1)
                assert vllm.requests, worker.tail()
                assert client.post(f"/v1/jobs/{hung['job_id']}/cancel").json()["state"] == "cancelled"
                pdf = make_pdf(tmp_path / "plain.pdf", pages=1, seed="plain")
                plain = upload(client, pdf, kb="other", engine="textlayer").json()
                events = read_sse(client, f"/v1/jobs/{plain['job_id']}/events", timeout_s=90)
            finally:
                worker.stop()
            assert events[-1][1]["state"] == "done"
            doc = client.get(f"/v1/documents/{hung['document_id']}").json()
            assert (
                doc["status"] == "cancelled" and [p["status"] for p in doc["page_details"]] == ["pending"] * 2
            )
