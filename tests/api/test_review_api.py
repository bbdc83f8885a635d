"""/v1/extract over a real loopback server: a job per request with per-document progress as events, its
table saved (JSON and CSV) with located evidence, results stored per document and schema (a second job
reads nothing, a changed document is read again), a bad schema named, and results gone with the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import Database, ExtractJobRow
from api.settings import SettingsError
from retrieval.review import CONTRACT
from tests.fakes.openai_server import FakeLlmServer
from tests.support.documents import contract_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow


def _ingest(client: httpx.Client, pdf: Path, **fields: Any) -> str:
    sub = upload(client, pdf, kb="contracts", **fields).json()
    events = read_sse(client, f"/v1/jobs/{sub['job_id']}/events", timeout_s=300)
    assert events[-1][0] == "done", events
    return str(sub["document_id"])


def _extract(client: httpx.Client, body: dict[str, Any]) -> tuple[list[tuple[str, Any]], dict[str, Any]]:
    """Start a job, follow its events to the end: (events, the finished job with its table)."""
    started = client.post("/v1/extract", json=body)
    assert started.status_code == 202, started.text
    job = started.json()
    assert job["state"] in ("queued", "running", "done") and job["documents"] is None
    events = read_sse(client, f"/v1/extract/jobs/{job['id']}/events", timeout_s=300)
    finished = client.get(f"/v1/extract/jobs/{job['id']}")
    assert finished.status_code == 200
    return events, finished.json()


def test_extract_job_reads_each_term_once_and_forgets_it_with_the_document(tmp_path: Path) -> None:
    pdf = contract_pdf(tmp_path / "supply.pdf")
    with LiveServer(test_settings(tmp_path / "data")) as server, server.client() as client:
        doc_id = _ingest(client, pdf)
        events, job = _extract(client, {"kb": "contracts"})
        assert events[-1][0] == "done" and events[-1][1]["state"] == "done", events
        assert all(name in ("progress", "done") and "documents" not in data for name, data in events)
        assert events[-1][1]["documents_done"] == 1 and events[-1][1]["current"] == "supply.pdf"
        assert (job["state"], job["documents_total"], job["documents_read"]) == ("done", 1, 1)
        [document] = job["documents"]
        assert document["doc_id"] == doc_id and document["filename"] == "supply.pdf"
        fields = {f["name"]: f for f in document["fields"]}
        law = fields["Governing Law"]
        assert law["found"] and law["normalized"] == "New York" and law["regions"][0]["page"] == 2
        assert fields["Agreement Date"]["normalized"] == "2021-03-03"
        assert not fields["Notice Period To Terminate Renewal"]["found"]

        _, again = _extract(client, {"kb": "contracts", "doc_ids": [doc_id]})
        assert again["documents_read"] == 0 and again["documents"] == job["documents"]
        assert client.get("/v1/extract", params={"kb": "contracts"}).json()["documents"] == job["documents"]
        csv_reply = client.get(f"/v1/extract/jobs/{job['id']}", params={"format": "csv"})
        assert csv_reply.headers["content-type"].startswith("text/csv")
        assert "Governing Law,yes,laws of the State of New York,New York" in csv_reply.text

        # a new document is read, the stored one is not
        other = _ingest(client, contract_pdf(tmp_path / "second.pdf"), force="true")
        _, both = _extract(client, {"kb": "contracts"})
        assert both["documents_read"] == 1 and {d["doc_id"] for d in both["documents"]} == {doc_id, other}

        user = {
            "name": "law",
            "fields": [{"name": "Law", "question": "Which law governs?", "type": "jurisdiction"}],
        }
        _, mine = _extract(client, {"kb": "contracts", "schema": user, "doc_ids": [doc_id]})
        assert mine["documents_read"] == 1 and mine["documents"][0]["fields"][0]["normalized"] == "New York"

        bad = {"name": "x", "fields": [{"name": "Term", "question": "How long?", "type": "months"}]}
        error = client.post("/v1/extract", json={"kb": "contracts", "schema": bad})
        assert error.status_code == 422 and "'Term'" in error.json()["error"]["message"]
        unknown = client.post("/v1/extract", json={"kb": "contracts", "doc_ids": ["no-such-doc"]})
        assert unknown.status_code == 404
        assert client.get("/v1/extract/jobs/no-such-job").status_code == 404
        assert client.get("/v1/extract/jobs/no-such-job/events").status_code == 404

        assert client.delete(f"/v1/documents/{doc_id}").status_code in (200, 204)
        assert [
            d["doc_id"] for d in client.get("/v1/extract", params={"kb": "contracts"}).json()["documents"]
        ] == [other]
        assert [d["doc_id"] for d in client.get(f"/v1/extract/jobs/{both['id']}").json()["documents"]] == [
            other
        ]
        assert not (server.settings.docs_dir / doc_id).exists()

    # a job cut off by a stop (left running in the DB) runs again at the next start
    db = Database(server.settings.database_url)
    with db.session() as s:
        s.add(ExtractJobRow(id="cut-off", kb="contracts", spec=CONTRACT.model_dump(mode="json"), doc_ids=[other], state="running"))  # fmt: skip
    db.dispose()
    with LiveServer(server.settings) as again_server, again_server.client() as client:
        events = read_sse(client, "/v1/extract/jobs/cut-off/events", timeout_s=300)
        assert events[-1][1]["state"] == "done", events
        resumed = client.get("/v1/extract/jobs/cut-off").json()
        assert resumed["documents_read"] == 0 and [d["doc_id"] for d in resumed["documents"]] == [other]


def test_extract_job_with_the_llm_backend_keeps_only_values_quoted_from_the_page(
    tmp_path: Path, fake_llm: FakeLlmServer
) -> None:
    llm = {"url": fake_llm.url, "model": "fake-chat", "retries": 0}
    settings = test_settings(tmp_path / "data", extract={"backend": "llm"}, answer={"llm": llm})
    reply = {
        "fields": [
            {"name": "Governing Law", "value": "New York", "quote": "governed by the laws of the State of New York"},
            {"name": "Renewal Term", "value": "two years", "quote": "renews for two years"},  # not on the page
        ]
    }  # fmt: skip
    with LiveServer(settings) as server, server.client() as client:
        _ingest(client, contract_pdf(tmp_path / "supply.pdf"))
        fake_llm.reply(json.dumps(reply))
        events, job = _extract(client, {"kb": "contracts"})
        assert job["state"] == "done", events
        fields = {f["name"]: f for f in job["documents"][0]["fields"]}
        assert fields["Governing Law"]["found"] and fields["Governing Law"]["normalized"] == "New York"
        assert fields["Governing Law"]["regions"][0]["page"] == 2
        assert not fields["Renewal Term"]["found"] and not fields["Parties"]["found"]
        [request] = fake_llm.chat_requests
        assert request["model"] == "fake-chat" and request["max_tokens"] == 2048

    with pytest.raises(SettingsError, match="answer.llm.url"):
        test_settings(tmp_path / "other", extract={"backend": "llm"})
