"""Over real HTTP on embedded defaults: readiness, the OCR preview's page images, and the two
streaming chat routes (SSE events and OpenAI chunks); one server and one ingested contract per module."""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.support.documents import make_pdf
from tests.support.network import free_port
from tests.support.servers import LiveServer, read_sse, sse_lines, test_settings, upload

pytestmark = pytest.mark.slow
KB = "ops"
QUESTION = "How many days does the Customer have to pay an invoice?"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """Embedded defaults with one 3-page contract indexed in kb `ops`."""
    folder = tmp_path_factory.mktemp("ops")
    with LiveServer(test_settings(folder / "data")) as live, live.client() as client:
        sub = upload(client, make_pdf(folder / "contract.pdf", pages=3), kb=KB).json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def test_readyz_is_ready_on_embedded_defaults(client: httpx.Client) -> None:
    reply = client.get("/readyz")
    body = reply.json()
    assert reply.status_code == 200 and body["status"] == "ready", body
    assert body["checks"]["db"] == "ok" and body["checks"]["store"].startswith("ok")
    assert "ocr" not in body["checks"] and "llm" not in body["checks"]  # none configured


def test_readyz_names_an_unreachable_ocr_server(tmp_path: Path) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    settings = test_settings(tmp_path / "data", deepseek={"url": closed})
    with LiveServer(settings) as live, live.client() as client:
        reply = client.get("/readyz")
        body = reply.json()
        assert reply.status_code == 503 and body["status"] == "not_ready", body
        assert body["checks"]["ocr"].startswith("unreachable") and body["checks"]["db"] == "ok"
        assert client.get("/healthz").status_code == 200  # alive, only not ready


def test_ocr_reply_carries_each_rendered_page_as_a_png_data_uri(
    server: LiveServer, client: httpx.Client, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "preview.pdf", pages=2, seed="preview")
    with pdf.open("rb") as fh:
        reply = client.post("/v1/ocr", files={"file": (pdf.name, fh, "application/pdf")})
    assert reply.status_code == 200, reply.text
    pages = reply.json()["pages"]
    assert [p["page"] for p in pages] == [1, 2]
    for page in pages:
        prefix = "data:image/png;base64,"
        assert page["image"].startswith(prefix)
        with Image.open(io.BytesIO(base64.b64decode(page["image"][len(prefix) :]))) as img:
            assert img.format == "PNG" and img.size == tuple(page["image_size"])
        assert tuple(page["image_size"]) == (round(595 * 144 / 72), round(842 * 144 / 72))  # 144 dpi
    assert list(server.settings.uploads_dir.iterdir()) == []  # scratch pages and the upload are gone


def test_streamed_chat_sends_tokens_then_citations_then_done(client: httpx.Client) -> None:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": QUESTION}], "kb": KB}
    whole = client.post("/v1/chat", json=body).json()
    events = read_sse(client, "/v1/chat", body=body | {"stream": True})
    kinds = [kind for kind, _ in events]
    assert kinds[-2:] == ["citations", "done"] and set(kinds[:-2]) == {"token"}, kinds
    assert "".join(data["text"] for _, data in events[:-2]) == whole["answer"] != ""
    citations = events[-2][1]["citations"]
    assert citations and citations == whole["citations"]
    assert citations[0]["regions"] and len(citations[0]["regions"][0]["bbox"]) == 4


def test_chat_top_k_bounds_the_chunks_an_answer_cites(client: httpx.Client) -> None:
    question = "What does the agreement say about termination and payment?"  # two chunks answer it
    body: dict[str, Any] = {"messages": [{"role": "user", "content": question}], "kb": KB}
    cited = {c["chunk_id"] for c in client.post("/v1/chat", json=body).json()["citations"]}
    one = {c["chunk_id"] for c in client.post("/v1/chat", json=body | {"top_k": 1}).json()["citations"]}
    assert len(cited) > 1 and len(one) <= 1
    assert client.post("/v1/chat", json=body | {"top_k": 0}).status_code == 422


def test_streamed_chat_completions_are_openai_chunks_ending_in_done(client: httpx.Client) -> None:
    body: dict[str, Any] = {"model": f"kb:{KB}", "messages": [{"role": "user", "content": QUESTION}]}
    whole = client.post("/v1/chat/completions", json=body).json()
    lines = sse_lines(client, "/v1/chat/completions", body | {"stream": True})
    assert all(line.startswith("data: ") for line in lines) and lines[-1] == "data: [DONE]"
    chunks = [json.loads(line[6:]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert text == whole["choices"][0]["message"]["content"] != ""
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] == "stop"
    assert last["citations"] and last["citations"] == whole["citations"]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks[:-1])
