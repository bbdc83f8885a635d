"""Security over real HTTP, beyond tests/api/test_access.py: every endpoint needs a key when keys are
configured, another kb's document is 404 on every document and job endpoint, search filters cannot
reach past the key's kbs (streams included), chunked uploads meet the size limit, webhook targets
are vetted through the API, and no secret reaches a log, a reply or a file in the data dir.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.settings import load_settings
from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.bad_input import small_scan
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, upload
from tests.support.webhooks import Receiver

pytestmark = pytest.mark.slow
KEY_A, KEY_B, ADMIN = "rel-key-kb-a-7f3c91", "rel-key-kb-b-2d8e44", "rel-admin-all-9a1b02"
HOOK_SECRET, LLM_KEY, OCR_KEY = "whsec-rel-5e6f7a8b9c", "sk-llm-rel-0c1d2e3f", "ocr-rel-4a5b6c7d8e"
SECRETS = (KEY_A, KEY_B, ADMIN, HOOK_SECRET, LLM_KEY, OCR_KEY)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, embed_url: str) -> Iterator[dict[str, Any]]:
    """A keyed server (kb a, kb b, admin) with an LLM answerer and DeepSeek, both behind API keys."""
    folder = tmp_path_factory.mktemp("security")
    with FakeLlmServer() as llm, FakeVllm(replies=load_recorded_replies()[:1]) as vllm:
        keys = [{"key": KEY_A, "kbs": ["a"]}, {"key": KEY_B, "kbs": ["b"]}, {"key": ADMIN, "kbs": ["*"]}]
        settings = load_settings(
            data_dir=folder / "data",
            api_keys=keys,
            max_upload_bytes=2_000_000,
            http={"failed_keys_per_minute": 1000},  # the tests here try many wrong keys on purpose
            webhooks={"secret": HOOK_SECRET, "allow_private_targets": True, "retries": 1, "backoff_s": 0.05},
            answer={
                "backend": "llm",
                "llm": {"url": llm.url, "model": "m", "api_key": LLM_KEY, "retries": 0},
            },
            deepseek={"url": vllm.url, "api_key": OCR_KEY, "retries": 0},
            embedder={"backend": "http", "url": embed_url, "dim": EMBED_DIM},
        )
        llm.default_reply = "Invoices are paid within thirty days [1]."
        with LiveServer(settings) as server, server.client(headers={"X-API-Key": ADMIN}) as admin:
            docs = {}
            for kb in ("a", "b"):
                pdf = (
                    make_pdf(folder / "a.pdf", pages=2, seed="kb a")
                    if kb == "a"
                    else small_scan(folder / "b.pdf", 2, "kb b")
                )
                sub = upload(admin, pdf, kb=kb).json()
                assert read_sse(admin, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
                docs[kb] = sub
            yield {"server": server, "docs": docs, "llm": llm, "vllm": vllm, "folder": folder}


def _client(stack: dict[str, Any], key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    server: LiveServer = stack["server"]
    return server.client(headers=headers)


def _doc_paths(doc: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    d, j = doc["document_id"], doc["job_id"]
    return [
        ("GET", f"/v1/documents/{d}", {}),
        ("GET", f"/v1/documents/{d}/markdown", {}),
        ("GET", f"/v1/documents/{d}/layout", {}),
        ("GET", f"/v1/documents/{d}/pages/1/image", {}),
        ("GET", f"/v1/documents/{d}/pages/1/image", {"params": {"boxes": "0.1,0.1,0.5,0.5"}}),
        ("GET", f"/v1/documents/{d}/pages/1/crop", {"params": {"bbox": "0.1,0.1,0.5,0.5"}}),
        ("GET", f"/v1/jobs/{j}", {}),
        ("GET", f"/v1/jobs/{j}/events", {}),
    ]


def _mutations(doc: dict[str, str]) -> list[tuple[str, str, dict[str, Any]]]:
    d, j = doc["document_id"], doc["job_id"]
    return [
        ("POST", f"/v1/documents/{d}/reindex", {"json": {}}),
        ("POST", f"/v1/documents/{d}/retry", {}),
        ("POST", f"/v1/jobs/{j}/cancel", {}),
        ("DELETE", f"/v1/documents/{d}", {}),
    ]


def test_every_document_and_job_endpoint_hides_another_kbs_document(stack: dict[str, Any]) -> None:
    doc_b = stack["docs"]["b"]
    with _client(stack, KEY_A) as a, _client(stack, KEY_B) as b:
        for method, path, kwargs in _doc_paths(doc_b):
            assert b.request(method, path, **kwargs).status_code == 200, path  # the owner reads it
            reply = a.request(method, path, **kwargs)
            assert reply.status_code == 404 and reply.json()["error"]["code"].startswith("unknown_"), (
                path,
                reply.text,
            )
        for method, path, kwargs in _mutations(doc_b):
            reply = a.request(method, path, **kwargs)
            assert reply.status_code == 404, (method, path, reply.text)
        after = b.get(f"/v1/documents/{doc_b['document_id']}").json()
        assert after["status"] == "done" and after["job"]["id"] == doc_b["job_id"]  # untouched


def test_search_filters_never_reach_past_the_keys_kbs(stack: dict[str, Any]) -> None:
    doc_a, doc_b = stack["docs"]["a"]["document_id"], stack["docs"]["b"]["document_id"]
    query = {"query": "payment terms invoice thirty days", "top_k": 50}
    with _client(stack, KEY_A) as a:
        for mode in ("hybrid", "dense", "sparse"):
            hits = a.post("/v1/search", json=query | {"mode": mode}).json()["results"]
            assert hits and {h["doc_id"] for h in hits} == {doc_a}, mode
        assert a.post("/v1/search", json=query | {"doc_ids": [doc_b]}).json()["results"] == []
        assert a.post("/v1/search", json=query | {"doc_ids": [doc_a, doc_b]}).json()["results"]
        assert {
            h["doc_id"]
            for h in a.post("/v1/search", json=query | {"doc_ids": [doc_a, doc_b]}).json()["results"]
        } == {doc_a}
        assert a.post("/v1/ask", json=query | {"doc_ids": [doc_b]}).json()["citations"] == []


def _streamed(client: httpx.Client, path: str, body: dict[str, Any]) -> str:
    with client.stream("POST", path, json=body | {"stream": True}, timeout=60) as reply:
        assert reply.status_code == 200, reply.read()
        return "".join(reply.iter_text())


def test_streams_and_the_openai_facade_cite_only_the_keys_kbs(stack: dict[str, Any]) -> None:
    doc_b = stack["docs"]["b"]["document_id"]
    messages = [{"role": "user", "content": "Within how many days are invoices paid?"}]
    with _client(stack, KEY_A) as a:
        assert doc_b not in _streamed(a, "/v1/chat", {"messages": messages})
        assert doc_b not in _streamed(a, "/v1/chat", {"messages": messages, "doc_ids": [doc_b]})
        assert doc_b not in _streamed(a, "/v1/chat/completions", {"model": "kb:a", "messages": messages})
        refused = a.post("/v1/chat/completions", json={"model": "kb:b", "messages": messages, "stream": True})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden"
        assert a.post("/v1/chat", json={"messages": messages, "kb": "b", "stream": True}).status_code == 403
    prompts = " ".join(str(body["messages"]) for body in stack["llm"].chat_requests)
    assert "kb b" not in prompts  # kb b's text (its title carries "kb b") never reached the LLM for key A


def test_every_api_endpoint_needs_a_key(stack: dict[str, Any], tmp_path: Path) -> None:
    doc = stack["docs"]["a"]
    pdf = make_pdf(tmp_path / "anon.pdf", pages=1).read_bytes()
    calls = [
        *_doc_paths(doc),
        *_mutations(doc),
        ("GET", "/v1/documents", {}),
        ("POST", "/v1/documents", {"files": {"file": ("anon.pdf", pdf, "application/pdf")}}),
        ("POST", "/v1/ocr", {"files": {"file": ("anon.pdf", pdf, "application/pdf")}}),
        ("POST", "/v1/samples", {"json": {}}),
        ("POST", "/v1/search", {"json": {"query": "x"}}),
        ("POST", "/v1/ask", {"json": {"query": "x"}}),
        ("POST", "/v1/chat", {"json": {"messages": [{"role": "user", "content": "x"}]}}),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "a", "messages": [{"role": "user", "content": "x"}]}},
        ),
    ]
    for key in (None, "not-a-configured-key", KEY_A[:-1]):
        with _client(stack, key) as anonymous:
            for method, path, kwargs in calls:
                reply = anonymous.request(method, path, **kwargs)
                assert reply.status_code == 401, (key, method, path, reply.status_code)
                assert reply.json()["error"]["code"] == "unauthorized"
    with _client(stack, ADMIN) as admin:
        assert admin.get(f"/v1/documents/{doc['document_id']}").json()["status"] == "done"


def _chunked_multipart(pdf: bytes, boundary: str = "relboundary") -> Iterator[bytes]:
    yield (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kb"\r\n\r\na\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    for i in range(0, len(pdf), 4096):
        yield pdf[i : i + 4096]
    yield f"\r\n--{boundary}--\r\n".encode()


def test_the_upload_limit_holds_without_a_content_length(stack: dict[str, Any], tmp_path: Path) -> None:
    big = make_pdf(tmp_path / "big.pdf", pages=1, scanned=True).read_bytes()
    assert len(big) > 2_000_000
    headers = {"Content-Type": "multipart/form-data; boundary=relboundary"}
    with _client(stack, KEY_A) as a:
        reply = a.post("/v1/documents", content=_chunked_multipart(big), headers=headers)
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "upload_too_large"
        assert a.get("/v1/documents").json()["total"] == 1
    assert list(stack["server"].settings.uploads_dir.iterdir()) == []


def _socket_buffer_bytes() -> int:
    """What loopback TCP can hold in flight (client send + server receive buffers) before a sender
    blocks, whether or not the server reads: the client may get that far past the refusal."""

    def max_of(name: str, default: int) -> int:
        try:
            return int(Path(f"/proc/sys/net/ipv4/{name}").read_text().split()[-1])
        except (OSError, ValueError, IndexError):
            return default

    return max_of("tcp_wmem", 4 << 20) + max_of("tcp_rmem", 32 << 20)


def test_an_oversized_chunked_upload_is_cut_off_early(stack: dict[str, Any]) -> None:
    in_flight = _socket_buffer_bytes()
    body_mib = 2 * (in_flight >> 20) + 64  # reading it all would stand far above what buffers hold
    sent = [0]

    def body() -> Iterator[bytes]:
        yield b'--relboundary\r\nContent-Disposition: form-data; name="kb"\r\n\r\na\r\n'
        yield b'--relboundary\r\nContent-Disposition: form-data; name="file"; filename="x.pdf"\r\n\r\n%PDF-1.7\n'
        for _ in range(body_mib):
            sent[0] += 1 << 20
            yield b"0" * (1 << 20)
        yield b"\r\n--relboundary--\r\n"

    headers = {"Content-Type": "multipart/form-data; boundary=relboundary"}
    with _client(stack, KEY_A) as a:
        try:
            status = a.post("/v1/documents", content=body(), headers=headers).status_code
        except httpx.TransportError:
            status = 413  # the server closed the connection on the body: also a refusal
    assert status == 413
    # 2 MB limit + what the kernel buffers + a few MiB of slack; never the whole body
    assert sent[0] <= in_flight + (8 << 20) < body_mib << 20, f"the client sent {sent[0] >> 20} MiB"


PRIVATE_TARGETS = [
    "http://localhost/hook",
    "http://127.1/hook",
    "http://2130706433/hook",
    "http://0.0.0.0/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://10.0.0.5/hook",
    "http://192.168.1.1/hook",
    "http://user:pw@172.16.0.1/hook",
    "file:///etc/passwd",
    "gopher://127.0.0.1:6379/_INFO",
    "http:///nohost",
]


def test_webhook_targets_are_vetted_at_upload(tmp_path: Path, embed_url: str) -> None:
    embedder = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    settings = load_settings(data_dir=tmp_path / "data", embedder=embedder)
    pdf = make_pdf(tmp_path / "w.pdf", pages=1)
    with LiveServer(settings) as server, server.client() as client:
        for url in PRIVATE_TARGETS:
            reply = upload(client, pdf, webhook_url=url)
            assert reply.status_code == 422 and reply.json()["error"]["code"] == "bad_webhook_target", (
                url,
                reply.text,
            )
        assert client.get("/v1/documents").json()["total"] == 0


def test_no_secret_reaches_logs_replies_or_files(
    stack: dict[str, Any], caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    caplog.set_level(logging.DEBUG)
    receiver = Receiver(failures=1_000_000)  # answers 500 to every delivery
    replies: list[str] = []
    try:
        with _client(stack, KEY_A) as a:
            sub = upload(
                a, small_scan(tmp_path / "s.pdf", 1, "secret"), kb="a", webhook_url=receiver.url
            ).json()
            replies += [str(e) for e in read_sse(a, f"/v1/jobs/{sub['job_id']}/events")]
            replies.append(a.post("/v1/ask", json={"query": "invoice payment days"}).text)
            replies.append(
                a.post("/v1/chat", json={"messages": [{"role": "user", "content": "payment"}]}).text
            )
            replies.append(a.get("/v1/documents", params={"kb": "b"}).text)  # 403 names kbs, not keys
        for wrong in (KEY_A + "x", HOOK_SECRET, LLM_KEY):
            with _client(stack, wrong) as bad:
                replies.append(bad.get("/v1/documents").text)
        with _client(stack, None) as anon:
            replies += [anon.get(p).text for p in ("/healthz", "/readyz", "/metrics", "/")]
        _wait(lambda: len(receiver.received) >= 2)
    finally:
        receiver.close()
    # the secrets were in use: sent as headers to the LLM and OCR servers, and as the signing key
    assert any(r["headers"].get("authorization") == f"Bearer {LLM_KEY}" for r in stack["llm"].requests)
    assert receiver.received and "X-Opticite-Signature" in receiver.received[0][1]
    captured = capfd.readouterr()
    # every file: the metadata DB, layouts, logs, server.json
    files = b"".join(p.read_bytes() for p in stack["server"].settings.data_dir.rglob("*") if p.is_file())
    for where, text in (
        ("logs", caplog.text),
        ("stdout", captured.out),
        ("stderr", captured.err),
        ("replies", "\n".join(replies)),
        ("data dir files", files.decode("latin-1")),
    ):
        leaked = [s for s in SECRETS if s in text]
        assert not leaked, f"{leaked} found in {where}"
    assert "webhook" in caplog.text.lower()  # the failed deliveries were logged, without the secret


def _wait(condition: Any, timeout_s: float = 20) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
