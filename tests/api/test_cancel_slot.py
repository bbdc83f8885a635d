"""Cancelling or deleting a document mid-OCR frees its runner slot at once (issue 14, H10), and a
forced re-upload never starts a second job on a document whose job runs; over real HTTP, with
DeepSeek on a fake vLLM that never answers the page in flight."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.fakes.vllm_server import FakeVllm
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow


def _hang_on_a_page(client: httpx.Client, fake: FakeVllm, path: Path) -> dict[str, str]:
    before = len(fake.requests)
    sub = upload(client, make_pdf(path, pages=3, seed=path.stem), kb="slow", engine="deepseek").json()
    deadline = time.monotonic() + 60
    while len(fake.requests) == before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake.requests) == before + 1, "the first page never reached the OCR server"
    return sub


def _runs_now(client: httpx.Client, path: Path) -> None:
    """Another kb's text-layer upload gets the only slot and finishes (the hung page would keep it 300 s)."""
    sub = upload(client, make_pdf(path, pages=1, seed=path.stem), kb="other", engine="textlayer").json()
    assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events", timeout_s=90)[-1][1]["state"] == "done"


def test_cancel_and_delete_mid_ocr_free_the_runner_slot(tmp_path: Path, fake_vllm: FakeVllm) -> None:
    fake_vllm.script(*["hang"] * 4)
    deepseek = {"url": fake_vllm.url, "concurrency": 1, "retries": 0, "read_timeout_s": 300}
    jobs = {"concurrency": 1, "page_concurrency": 1}
    settings = test_settings(tmp_path / "data", deepseek=deepseek, jobs=jobs)
    with LiveServer(settings) as server, server.client() as client:
        hung = _hang_on_a_page(client, fake_vllm, tmp_path / "cancelled.pdf")
        assert client.post(f"/v1/jobs/{hung['job_id']}/cancel").json()["state"] == "cancelled"
        _runs_now(client, tmp_path / "after-cancel.pdf")
        doc = client.get(f"/v1/documents/{hung['document_id']}").json()
        assert doc["status"] == "cancelled" and [p["status"] for p in doc["page_details"]] == ["pending"] * 3

        hung = _hang_on_a_page(client, fake_vllm, tmp_path / "deleted.pdf")
        started = time.monotonic()
        assert client.delete(f"/v1/documents/{hung['document_id']}").status_code == 204
        assert time.monotonic() - started < 25  # no wait for the hung page (wait_idle gives up at 30 s)
        _runs_now(client, tmp_path / "after-delete.pdf")
        assert client.get(f"/v1/documents/{hung['document_id']}").status_code == 404


def test_a_forced_reupload_during_a_running_job_is_refused_until_it_ends(
    tmp_path: Path, fake_vllm: FakeVllm
) -> None:
    """One document, one job at a time: a forced re-upload of a document whose job runs answers 409
    naming the job (before: a second job ran on the same document and wiped its files mid-OCR)."""
    fake_vllm.script(*["hang"] * 4)
    deepseek = {"url": fake_vllm.url, "concurrency": 1, "retries": 0, "read_timeout_s": 300}
    settings = test_settings(tmp_path / "data", deepseek=deepseek, jobs={"concurrency": 2})
    path = tmp_path / "busy.pdf"
    with LiveServer(settings) as server, server.client() as client:
        hung = _hang_on_a_page(client, fake_vllm, path)
        forced = upload(client, path, kb="slow", engine="textlayer", force="true")
        assert forced.status_code == 409, forced.text
        assert (
            forced.json()["error"]["code"] == "conflict"
            and hung["job_id"] in forced.json()["error"]["message"]
        )
        same = upload(client, path, kb="slow").json()  # unforced: the running job, as before
        assert same == {"document_id": hung["document_id"], "job_id": hung["job_id"], "existing": True}
        doc = client.get(f"/v1/documents/{hung['document_id']}").json()
        assert doc["job"]["id"] == hung["job_id"] and doc["job"]["state"] == "running"
        assert len(fake_vllm.requests) == 1  # nothing else started OCR on it

        assert client.post(f"/v1/jobs/{hung['job_id']}/cancel").status_code == 200
        again = upload(client, path, kb="slow", engine="textlayer", force="true").json()
        assert again["document_id"] == hung["document_id"] and again["job_id"] != hung["job_id"]
        assert read_sse(client, f"/v1/jobs/{again['job_id']}/events")[-1][1]["state"] == "done"
        assert client.get(f"/v1/documents/{hung['document_id']}").json()["status"] == "done"
