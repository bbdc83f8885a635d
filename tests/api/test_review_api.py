"""/v1/extract over a real loopback server: the contract table with located evidence, stored per
document and schema (a second run reads nothing), a progress stream, a bad schema named, and results gone
with the document."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.documents import contract_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow


def _ingest(client: httpx.Client, pdf: Path) -> str:
    sub = upload(client, pdf, kb="contracts").json()
    events = read_sse(client, f"/v1/jobs/{sub['job_id']}/events")
    assert events[-1][0] == "done", events
    return str(sub["document_id"])


def test_extract_reads_each_term_once_and_forgets_it_with_the_document(tmp_path: Path) -> None:
    pdf = contract_pdf(tmp_path / "supply.pdf")
    with LiveServer(test_settings(tmp_path / "data")) as server, server.client() as client:
        doc_id = _ingest(client, pdf)
        reply = client.post("/v1/extract", json={"kb": "contracts"})
        assert reply.status_code == 200, reply.text
        table = reply.json()
        assert table["read"] == 1
        [document] = table["documents"]
        assert document["doc_id"] == doc_id and document["filename"] == "supply.pdf"
        fields = {f["name"]: f for f in document["fields"]}
        law = fields["Governing Law"]
        assert law["found"] and law["normalized"] == "New York" and law["regions"][0]["page"] == 2
        assert fields["Agreement Date"]["normalized"] == "2021-03-03"
        assert not fields["Notice Period To Terminate Renewal"]["found"]

        again = client.post("/v1/extract", json={"kb": "contracts", "doc_ids": [doc_id]}).json()
        assert again["read"] == 0 and again["documents"] == table["documents"]
        assert client.get("/v1/extract", params={"kb": "contracts"}).json()["documents"] == table["documents"]
        csv_reply = client.get("/v1/extract", params={"kb": "contracts", "format": "csv"})
        assert csv_reply.headers["content-type"].startswith("text/csv")
        assert "Governing Law,yes,laws of the State of New York,New York" in csv_reply.text

        user = {
            "name": "law",
            "fields": [{"name": "Law", "question": "Which law governs?", "type": "jurisdiction"}],
        }
        mine = client.post("/v1/extract", json={"kb": "contracts", "schema": user}).json()
        assert mine["read"] == 1 and mine["documents"][0]["fields"][0]["normalized"] == "New York"

        streamed = read_sse(client, "/v1/extract", body={"kb": "contracts", "stream": True})
        assert [e for e, _ in streamed] == ["document", "done"], streamed
        step, done = streamed[0][1], streamed[1][1]
        assert (step["n"], step["total"], step["read"]) == (1, 1, False)  # stored by the first run
        assert step["document"] == table["documents"][0] and done["documents"] == table["documents"]

        bad = {"name": "x", "fields": [{"name": "Term", "question": "How long?", "type": "months"}]}
        error = client.post("/v1/extract", json={"kb": "contracts", "schema": bad})
        assert error.status_code == 422 and "'Term'" in error.json()["error"]["message"]

        assert client.delete(f"/v1/documents/{doc_id}").status_code in (200, 204)
        assert client.get("/v1/extract", params={"kb": "contracts"}).json()["documents"] == []
        assert not (server.settings.docs_dir / doc_id).exists()
