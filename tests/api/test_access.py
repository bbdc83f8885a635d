"""API keys scoped to kbs, the error shape and codes, the upload limit; over real HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow
KEY_A, KEY_B, ADMIN = "key-for-kb-a-0001", "key-for-kb-b-0002", "admin-key-all-0003"


def test_a_key_never_sees_another_kbs_documents_or_chunks(tmp_path: Path) -> None:
    keys = [{"key": KEY_A, "kbs": ["a"]}, {"key": KEY_B, "kbs": ["b"]}, {"key": ADMIN, "kbs": ["*"]}]
    settings = test_settings(tmp_path / "data", api_keys=keys)
    with LiveServer(settings) as server, server.client(headers={"X-API-Key": ADMIN}) as admin:
        with server.client(headers={"Authorization": f"Bearer {KEY_A}"}) as a:
            doc_a = upload(
                a, make_pdf(tmp_path / "a.pdf", pages=1, seed="alpha")
            ).json()  # kb default: refused
            assert doc_a["error"]["code"] == "forbidden"
            doc_a = upload(a, make_pdf(tmp_path / "a.pdf", pages=1, seed="alpha"), kb="a").json()
            doc_b = upload(admin, make_pdf(tmp_path / "b.pdf", pages=2, seed="bravo"), kb="b").json()
            for sub in (doc_a, doc_b):
                assert read_sse(admin, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"

            assert a.get(f"/v1/documents/{doc_b['document_id']}").status_code == 404
            assert a.get(f"/v1/documents/{doc_b['document_id']}/markdown").status_code == 404
            assert a.get(f"/v1/jobs/{doc_b['job_id']}").status_code == 404
            assert a.delete(f"/v1/documents/{doc_b['document_id']}").status_code == 404
            assert [d["id"] for d in a.get("/v1/documents").json()["documents"]] == [doc_a["document_id"]]
            assert a.get("/v1/documents", params={"kb": "b"}).json()["error"]["code"] == "forbidden"

            query = {"query": "payment terms invoice thirty days termination notice"}
            hits = a.post("/v1/search", json=query).json()["results"]
            assert hits and {h["doc_id"] for h in hits} == {doc_a["document_id"]}
            assert a.post("/v1/search", json=query | {"kb": "b"}).status_code == 403
            answer = a.post(
                "/v1/ask", json={"query": "Either party may terminate with how much notice?"}
            ).json()
            assert {c["doc_id"] for c in answer["citations"]} <= {doc_a["document_id"]}
            chat = a.post(
                "/v1/chat", json={"messages": [{"role": "user", "content": "termination notice days"}]}
            )
            assert {c["doc_id"] for c in chat.json()["citations"]} <= {doc_a["document_id"]}
            assert (
                a.post(
                    "/v1/chat", json={"messages": [{"role": "user", "content": "x"}], "kb": "b"}
                ).status_code
                == 403
            )
            facade = a.post(
                "/v1/chat/completions", json={"model": "kb:b", "messages": [{"role": "user", "content": "x"}]}
            )
            assert facade.status_code == 403 and facade.json()["error"]["code"] == "forbidden"
            ok = a.post(
                "/v1/chat/completions",
                json={"model": "a", "messages": [{"role": "user", "content": "payment"}]},
            )
            assert ok.status_code == 200 and {c["doc_id"] for c in ok.json()["citations"]} <= {
                doc_a["document_id"]
            }

        with server.client() as anonymous:
            reply = anonymous.get("/v1/documents")
            assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthorized"
        with server.client(headers={"X-API-Key": "not-a-real-key-123"}) as wrong:
            assert wrong.get("/v1/documents").status_code == 401
        assert admin.get("/v1/documents").json()["total"] == 2


def test_errors_have_a_stable_shape_and_code(tmp_path: Path) -> None:
    settings = test_settings(tmp_path / "data", max_upload_bytes=4000)
    with LiveServer(settings) as server, server.client() as client:
        cases = [
            (client.get("/v1/documents/nope"), 404, "unknown_document"),
            (client.get("/v1/jobs/nope"), 404, "unknown_job"),
            (client.post("/v1/search", json={"query": "x", "typo": 1}), 422, "invalid_request"),
            (client.post("/v1/search", json={}), 422, "invalid_request"),
            (client.get("/v1/nothing-here"), 404, "not_found"),
        ]
        (tmp_path / "notes.txt").write_text("plain text is not a document")
        cases.append((upload(client, tmp_path / "notes.txt"), 415, "unsupported_file"))
        big = make_pdf(tmp_path / "big.pdf", pages=6)
        assert big.stat().st_size > 4000
        cases.append((upload(client, big), 413, "upload_too_large"))
        cases.append(
            (upload(client, make_pdf(tmp_path / "s.pdf", pages=1), engine="magic"), 422, "invalid_request")
        )
        hook = upload(client, make_pdf(tmp_path / "s.pdf", pages=1), webhook_url="http://127.0.0.1:9/hook")
        cases.append((hook, 422, "bad_webhook_target"))
        for reply, status, code in cases:
            body = reply.json()
            assert (reply.status_code, body["error"]["code"]) == (status, code), body
            assert body["error"]["message"]
        assert client.get("/v1/documents").json()["total"] == 0
        assert list((settings.uploads_dir).iterdir()) == []  # refused uploads leave nothing behind
