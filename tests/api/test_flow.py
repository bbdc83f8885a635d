"""The main flow over real HTTP with the in-process runner on SQLite: upload → SSE → done →
search/ask/chat → pages and crops → delete (everything gone); resume at start-up."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import httpx
import pymupdf
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.db import DocumentRow, JobRow
from api.services import Services
from tests.support.documents import contract_pdf, make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow


def _wait_done(client: httpx.Client, job_id: str) -> list[tuple[str, dict]]:  # type: ignore[type-arg]
    events = read_sse(client, f"/v1/jobs/{job_id}/events")
    assert events[-1][0] == "done", events
    return events


def test_upload_progress_search_ask_and_delete_over_http(tmp_path: Path, pdf: Path) -> None:
    settings = test_settings(tmp_path / "data")
    with LiveServer(settings) as server, server.client() as client:
        reply = upload(client, pdf, kb="contracts", tags="msa,2024")
        assert reply.status_code == 202, reply.text
        doc_id, job_id = reply.json()["document_id"], reply.json()["job_id"]
        events = _wait_done(client, job_id)
        final = events[-1][1]
        assert final["state"] == "done" and final["pages_done"] == final["pages_total"] == 3
        assert all(e[0] == "progress" for e in events[:-1])

        doc = client.get(f"/v1/documents/{doc_id}").json()
        assert doc["status"] == "done" and doc["chunks"] >= 1 and doc["tags"] == ["msa", "2024"]
        assert [p["engine"] for p in doc["page_details"]] == ["textlayer"] * 3
        assert doc["page_details"][0]["quality"]["status"] == "ok"

        again = upload(client, pdf, kb="contracts").json()
        assert again["document_id"] == doc_id and again["existing"] is True

        hits = client.post("/v1/search", json={"query": "notice to terminate", "kb": "contracts"}).json()[
            "results"
        ]
        assert hits and hits[0]["doc_id"] == doc_id and "terminate" in hits[0]["markdown"]
        assert hits[0]["regions"] and len(hits[0]["regions"][0]["bbox"]) == 4
        # results show each page once before any page twice: page 1 of the supply agreement holds its
        # card and its preamble, both naming the parties
        _wait_done(
            client, upload(client, contract_pdf(tmp_path / "supply.pdf"), kb="supply").json()["job_id"]
        )
        query = {"query": "Supply Agreement between Acme Widgets and Beta Robotics", "kb": "supply"}
        shown = client.post("/v1/search", json=query | {"top_k": 2}).json()["results"]
        assert [h["pages"] for h in shown] == [[1], [2]], shown
        shown = client.post("/v1/search", json=query | {"top_k": 10}).json()["results"]
        assert [h["pages"] for h in shown[:2]] == [[1], [2]] and len(shown) > 2, shown
        answer = client.post(
            "/v1/ask",
            json={"query": "How many days does the Customer have to pay an invoice?", "kb": "contracts"},
        ).json()
        assert answer["citations"] and answer["citations"][0]["doc_id"] == doc_id, answer
        assert "thirty days" in answer["answer"]
        # a name the knowledge base never writes: a refusal that says so, not the nearest clause
        answer = client.post(
            "/v1/ask",
            json={
                "query": "How many days does the Customer have to pay an invoice in Japan?",
                "kb": "contracts",
            },
        ).json()
        assert answer["refused"] and answer["flags"] == ["unmentioned"] and not answer["citations"], answer
        assert "never mention “Japan”" in answer["answer"]

        md = client.get(f"/v1/documents/{doc_id}/markdown")
        assert md.status_code == 200 and "Payment terms" in md.text
        layout = client.get(f"/v1/documents/{doc_id}/layout").json()
        assert [p["page"] for p in layout["pages"]] == [1, 2, 3]
        cached = settings.docs_dir / doc_id / "pages" / "0001.png"
        assert not cached.exists()  # read from its text layer: never rendered at ingest
        plain = client.get(f"/v1/documents/{doc_id}/pages/1/image")
        assert cached.read_bytes() == plain.content  # rendered on demand, then served from the cache
        marked = client.get(f"/v1/documents/{doc_id}/pages/1/image", params={"boxes": "0.1,0.1,0.5,0.2"})
        crop = client.get(f"/v1/documents/{doc_id}/pages/1/crop", params={"bbox": "0.1,0.1,0.5,0.2"})
        assert plain.content[:8] == marked.content[:8] == crop.content[:8] == b"\x89PNG\r\n\x1a\n"
        assert plain.content != marked.content and len(crop.content) < len(plain.content)

        listed = client.get("/v1/documents", params={"kb": "contracts"}).json()
        assert listed["total"] == 1 and listed["documents"][0]["id"] == doc_id
        digest = hashlib.sha256(pdf.read_bytes()).hexdigest()  # found by content before any upload
        for kb, sha256, found in [
            ("contracts", digest, [doc_id]),
            ("contracts", "0" * 64, []),
            ("x", digest, []),
        ]:
            by_hash = client.get("/v1/documents", params={"kb": kb, "sha256": sha256.upper()}).json()
            assert [d["id"] for d in by_hash["documents"]] == found
        bad = client.get("/v1/documents", params={"sha256": "abc"})
        assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"

        reindex = client.post(f"/v1/documents/{doc_id}/reindex").json()
        assert _wait_done(client, reindex["id"])[-1][1]["state"] == "done"
        assert client.get(f"/v1/documents/{doc_id}").json()["chunks"] == doc["chunks"]

        assert client.delete(f"/v1/documents/{doc_id}").status_code == 204
        assert client.get(f"/v1/documents/{doc_id}").json()["error"]["code"] == "unknown_document"
        assert client.post("/v1/search", json={"query": "notice to terminate", "kb": "contracts"}).json() == {
            "results": []
        }
        assert not (settings.docs_dir / doc_id).exists()
        metrics = client.get("/metrics").text
        assert 'opticite_pages_total{engine="textlayer",status="ok"}' in metrics


def test_ocr_endpoint_returns_blocks_and_markdown_without_storing(tmp_path: Path, pdf: Path) -> None:
    settings = test_settings(tmp_path / "data")
    with LiveServer(settings) as server, server.client() as client:
        with pdf.open("rb") as fh:
            reply = client.post("/v1/ocr", files={"file": ("c.pdf", fh, "application/pdf")})
        body = reply.json()
        assert reply.status_code == 200, body
        page = body["pages"][0]
        assert page["page"] == 1 and page["engine"] == "textlayer" and page["width"] == 595
        assert any("Payment terms" in b["markdown"] for b in page["blocks"])
        assert all(len(b["bbox"]) == 4 for b in page["blocks"])
        assert "Termination" in body["markdown"]
        assert client.get("/v1/documents").json()["total"] == 0


async def test_unfinished_job_resumes_at_start_up_without_redoing_saved_pages(tmp_path: Path) -> None:
    settings = test_settings(tmp_path / "data")
    pdf = make_pdf(tmp_path / "r.pdf", pages=3)

    class Idle:  # a runner that accepts jobs and never runs them, like a process that died
        async def start(self) -> None: ...
        async def stop(self) -> None: ...
        def submit(self, job_id: str) -> None: ...
        def cancel(self, job_id: str) -> None: ...
        async def wait_idle(self, job_id: str, timeout_s: float = 30.0) -> None: ...

    first = Services(settings, runner=Idle())
    await first.start()
    sub = await first.ingest(pdf, "r.pdf", "kb1")
    pipeline = first.components.pipeline(2, with_index=False)
    from ingest.pipeline import Hooks

    files = first.files(sub.document_id)
    source = Path(first.get_document(sub.document_id).model_dump()["id"] and files.root / "original.pdf")
    await pipeline.ocr_pages(
        source, files, settings.ocr, Hooks(), pages=[1]
    )  # page 1 done before the "crash"
    await first.aclose()

    second = Services(settings)
    await second.start()  # resumes the queued job
    job = await asyncio.wait_for(second.wait_job(sub.job_id), 60)
    assert job.state == "done" and job.pages_done == 3
    assert sorted(line.split("\t")[0] for line in files.ocr_log.read_text().splitlines()) == ["1", "2", "3"]
    with second.db.session() as s:
        assert s.get_one(DocumentRow, sub.document_id).status == "done"
        assert s.get_one(JobRow, sub.job_id).attempts == 1
    await second.aclose()


def test_document_detail_carries_its_card_and_search_finds_it(tmp_path: Path) -> None:
    pdf = tmp_path / "msa.pdf"
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_text((72, 90), "MASTER SERVICES AGREEMENT", fontsize=16)
    preamble = [
        "This Master Services Agreement is entered into as of March 3, 2021 by and between",
        'Acme Widgets Inc. ("Customer") and Beta Robotics LLC ("Supplier").',
    ]
    for i, line in enumerate(preamble):
        page.insert_text((72, 130 + 16 * i), line, fontsize=11)
    page.insert_text((72, 200), "1. Term. This Agreement lasts two years from the date above.", fontsize=11)
    doc.save(pdf)
    doc.close()
    with TestClient(create_app(test_settings(tmp_path / "data")), base_url="http://127.0.0.1") as client:
        with pdf.open("rb") as f:
            sub = client.post("/v1/documents", files={"file": f}, data={"kb": "cards"}).json()
        client.portal.call(client.app.state.services.wait_job, sub["job_id"])  # type: ignore[attr-defined]
        card = client.get(f"/v1/documents/{sub['document_id']}").json()["card"]
        assert card["title"]["value"] == "MASTER SERVICES AGREEMENT"
        assert [(p["value"], p["role"]) for p in card["parties"]] == [
            ("Acme Widgets Inc.", "Customer"),
            ("Beta Robotics LLC", "Supplier"),
        ]
        assert [d["value"] for d in card["dates"]] == ["March 3, 2021"]
        [region] = card["dates"][0]["regions"]
        assert region["page"] == 1 and region["bbox"][2] - region["bbox"][0] < 0.2  # the date, not the line
        reply = client.post("/v1/ask", json={"query": "Who are the parties?", "kb": "cards"}).json()
        assert "Acme Widgets Inc." in reply["answer"] and "Beta Robotics LLC" in reply["answer"]
