"""Each kb records the embedder that built it: another one is refused, and a kb reindex re-embeds it
from its saved layouts without OCR."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.db import DocumentRow, KbRow
from api.errors import EmbedderMismatch
from api.services import Services
from retrieval.hits import SearchFilters
from tests.support.documents import make_pdf
from tests.support.servers import test_settings

MINILM = {"backend": "local", "device": "cpu"}


async def _ingest(services: Services, pdf: Path, kb: str) -> str:
    sub = await services.ingest(pdf, pdf.name, kb)
    job = await asyncio.wait_for(services.wait_job(sub.job_id), 120)
    assert job.state == "done"
    return sub.document_id


async def test_a_kb_built_with_another_embedder_is_refused_until_reindexed(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = Services(test_settings(data, embedder=MINILM))
    await first.start()
    doc_id = await _ingest(first, make_pdf(tmp_path / "a.pdf", pages=3), "alpha")
    with first.db.session() as s:
        assert s.get_one(KbRow, "alpha").embedder == "local:all-MiniLM-L6-v2"
    await first.aclose()

    second = Services(test_settings(data))  # the default embedder: e5
    await second.start()
    with pytest.raises(EmbedderMismatch, match=r"opticite reindex --kb alpha"):
        await second.search("termination notice", SearchFilters(kb="alpha"))
    with pytest.raises(EmbedderMismatch):
        await second.search("termination notice", SearchFilters())  # every kb: alpha among them
    with pytest.raises(EmbedderMismatch):
        await second.ingest(make_pdf(tmp_path / "b.pdf", pages=1, seed="b"), "b.pdf", "alpha")
    ocr_log = second.files(doc_id).ocr_log.read_text()

    jobs = await second.reindex_kb("alpha")
    assert len(jobs) == 1
    assert (await asyncio.wait_for(second.wait_job(jobs[0]), 120)).state == "done"
    hits = await second.search("ninety days written notice", SearchFilters(kb="alpha"))
    assert hits and hits[0].doc_id == doc_id
    assert second.files(doc_id).ocr_log.read_text() == ocr_log  # no page was read again
    with second.db.session() as s:
        assert s.get_one(KbRow, "alpha").embedder == "e5:multilingual-e5-small+language-shift-v1"
    await second.aclose()


async def test_kbs_from_before_the_record_must_be_reindexed(tmp_path: Path) -> None:
    settings = test_settings(tmp_path / "data")
    services = Services(settings)
    await services.start()
    with services.db.session() as s:  # a document row as an older release left it: no kb record
        s.add(DocumentRow(id="old", kb="legacy", filename="x.pdf", sha256="0" * 64, status="done"))
    await services.aclose()
    again = Services(settings)
    await again.start()
    with pytest.raises(EmbedderMismatch, match="unknown"):
        again.check_embedder(["legacy"])
    again.check_embedder(["fresh"])  # a kb with no documents yet is free to take any embedder
    await again.aclose()


def test_reindex_route_answers_with_the_jobs_and_scopes_by_key(tmp_path: Path) -> None:
    settings = test_settings(
        tmp_path / "data",
        api_keys=[
            {"key": "key-beta-0001-kb-b", "kbs": ["beta"]},
            {"key": "key-all-00001-admin", "kbs": ["*"]},
        ],
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1") as client:
        pdf = make_pdf(tmp_path / "c.pdf", pages=1)
        with pdf.open("rb") as f:
            reply = client.post(
                "/v1/documents",
                files={"file": f},
                data={"kb": "beta"},
                headers={"x-api-key": "key-all-00001-admin"},
            )
        assert reply.status_code == 202
        denied = client.post("/v1/kbs/alpha/reindex", headers={"x-api-key": "key-beta-0001-kb-b"})
        assert denied.status_code == 403 and denied.json()["error"]["code"] == "forbidden"
        client.portal.call(client.app.state.services.wait_job, reply.json()["job_id"])  # type: ignore[attr-defined]
        ok = client.post("/v1/kbs/beta/reindex", headers={"x-api-key": "key-beta-0001-kb-b"})
        assert ok.status_code == 202 and ok.json()["kb"] == "beta" and len(ok.json()["jobs"]) == 1
