"""OCR and LLM server faults over real HTTP: 500/429, dropped connections, hangs, malformed JSON,
truncated and looping output, refused connections, and the server recovering afterwards.

Pages retry within `deepseek.retries`, then fall back to the CPU engine as the router specifies,
with the reason recorded on the page; documents always end, the service stays up. The LLM
answerer turns server faults into a typed error within its timeout, never a hang.
"""

from __future__ import annotations

import time
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
from tests.support.network import free_port
from tests.support.servers import LiveServer, read_sse, upload

pytestmark = pytest.mark.slow
READ_TIMEOUT_S = 2.0
RETRIES = 2
DEADLINE_S = 90  # a page's worst case here: READ_TIMEOUT_S, then the CPU engine on a loaded machine


@pytest.fixture(scope="module")
def vllm() -> Iterator[FakeVllm]:
    """One recorded reply for every page that is answered normally."""
    with FakeVllm(replies=load_recorded_replies()[:1]) as fake:
        yield fake


def deepseek_settings(data_dir: Path, url: str, embed_url: str, fallback: bool = True, **extra: Any) -> Any:
    deepseek = {
        "url": url,
        "concurrency": 1,
        "retries": RETRIES,
        "backoff_s": 0.05,
        "read_timeout_s": READ_TIMEOUT_S,
        "connect_timeout_s": 1.0,
        "cpu_fallback_on_error": fallback,
    }
    embedder = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    return load_settings(
        data_dir=data_dir, deepseek=deepseek, embedder=embedder, jobs={"page_concurrency": 1}, **extra
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, vllm: FakeVllm, embed_url: str) -> Iterator[LiveServer]:
    settings = deepseek_settings(tmp_path_factory.mktemp("faults") / "data", vllm.url, embed_url)
    with LiveServer(settings) as live:
        yield live


def ingest_scan(
    client: httpx.Client, folder: Path, name: str, pages: int = 1
) -> tuple[dict[str, Any], float]:
    """Upload a scanned PDF and wait for its job to end; (document detail, seconds taken)."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    sub = upload(client, small_scan(folder / f"{name}.pdf", pages, seed=name)).json()
    final = read_sse(client, f"/v1/jobs/{sub['job_id']}/events", timeout_s=DEADLINE_S)[-1]
    assert final[0] == "done", final
    return client.get(f"/v1/documents/{sub['document_id']}").json(), time.monotonic() - started


# steps scripted at the fake → (engine, page quality status, OCR requests, words in the recorded reason)
RECOVERED = {
    "500 then ok": (("500", "ok"), "deepseek", "ok", 2, None),
    "429 twice then ok": (("429", "429", "ok"), "deepseek", "ok", 3, None),
    "dropped connection then ok": (("drop", "ok"), "deepseek", "ok", 2, None),
    "truncated (length) then ok": (("length", "ok"), "deepseek", "retried", 2, "length"),
    "looping output then ok": (("loop", "ok"), "deepseek", "retried", 2, None),
}
FELL_BACK = {
    "500 past the retries": (("500",) * (RETRIES + 1), "rapidocr", "fallback", RETRIES + 1, "500"),
    "hang past the read timeout": (("hang",), "rapidocr", "fallback", 1, "engine_timeout"),
    "malformed JSON": (("malformed",), "rapidocr", "fallback", 1, "engine_bad_response"),
    "truncated every time": (("length",) * 3, "rapidocr", "fallback", 3, "length"),
}


@pytest.mark.parametrize("case", [*RECOVERED, *FELL_BACK])
def test_ocr_server_fault_is_retried_within_bounds_or_falls_back(
    case: str, server: LiveServer, vllm: FakeVllm, tmp_path: Path
) -> None:
    steps, engine, status, requests, reason = (RECOVERED | FELL_BACK)[case]
    vllm.reset()
    vllm.script(*steps)
    with server.client() as client:
        doc, seconds = ingest_scan(client, tmp_path, case.replace(" ", "-"))
        page = doc["page_details"][0]
        assert (doc["status"], page["engine"], page["quality"]["status"]) == ("done", engine, status), doc
        assert len(vllm.requests) == requests
        if reason:
            assert reason in (page["quality"]["reason"] or ""), page
        assert doc["chunks"] >= 1
        assert client.get("/healthz").status_code == 200
    vllm.reset()  # releases a hang still held
    if case in RECOVERED:
        return
    with server.client() as client:  # the server has recovered: the next scan is read by DeepSeek
        after, _ = ingest_scan(client, tmp_path, case.replace(" ", "-") + "-after")
        assert after["page_details"][0]["engine"] == "deepseek" and len(vllm.requests) == 1


def test_a_hung_ocr_server_never_blocks_the_api(server: LiveServer, vllm: FakeVllm, tmp_path: Path) -> None:
    vllm.reset()
    vllm.script("hang")
    with server.client() as client:
        sub = upload(client, small_scan(tmp_path / "hung.pdf", 1, seed="hung")).json()
        deadline = time.monotonic() + 10
        while not vllm.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        assert client.get("/healthz", timeout=2).status_code == 200
        assert client.get("/v1/documents", timeout=2).status_code == 200
        assert time.monotonic() - started < 2  # the hang holds one page, not the event loop
        text = upload(client, make_pdf(tmp_path / "text.pdf", pages=1, seed="text-while-hung")).json()
        assert (
            read_sse(client, f"/v1/jobs/{text['job_id']}/events", timeout_s=DEADLINE_S)[-1][1]["state"]
            == "done"
        )
        assert (
            read_sse(client, f"/v1/jobs/{sub['job_id']}/events", timeout_s=DEADLINE_S)[-1][1]["state"]
            == "done"
        )
    vllm.reset()


def test_one_failing_page_falls_back_alone(server: LiveServer, vllm: FakeVllm, tmp_path: Path) -> None:
    vllm.reset()
    vllm.script("ok", *("503",) * (RETRIES + 1), "ok")  # pages run one at a time, in order
    with server.client() as client:
        doc, _ = ingest_scan(client, tmp_path, "three-pages", pages=3)
    engines = [(p["engine"], p["quality"]["status"]) for p in doc["page_details"]]
    assert engines == [("deepseek", "ok"), ("rapidocr", "fallback"), ("deepseek", "ok")]
    assert "503" in doc["page_details"][1]["quality"]["reason"]
    assert doc["status"] == "done" and len(vllm.requests) == RETRIES + 3


def test_refused_connections_fall_back_and_the_service_stays_up(tmp_path: Path, embed_url: str) -> None:
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    with (
        LiveServer(deepseek_settings(tmp_path / "data", closed, embed_url)) as server,
        server.client() as client,
    ):
        doc, _ = ingest_scan(client, tmp_path, "refused")
        page = doc["page_details"][0]
        assert (doc["status"], page["engine"], page["quality"]["status"]) == ("done", "rapidocr", "fallback")
        assert "engine_unavailable" in page["quality"]["reason"]
        ready = client.get("/readyz")
        assert ready.status_code == 503 and ready.json()["checks"]["ocr"].startswith("unreachable")
        assert client.get("/healthz").status_code == 200


def test_without_cpu_fallback_a_failing_page_fails_alone_and_retry_recovers_it(
    vllm: FakeVllm, tmp_path: Path, embed_url: str
) -> None:
    settings = deepseek_settings(tmp_path / "data", vllm.url, embed_url, fallback=False)
    vllm.reset()
    vllm.script("ok", *("500",) * (RETRIES + 1), "ok", "hang")
    with LiveServer(settings) as server, server.client() as client:
        doc, _ = ingest_scan(client, tmp_path, "partial", pages=3)
        pages = [(p["engine"], p["status"]) for p in doc["page_details"]]
        assert (
            doc["status"] == "partial"
            and pages[1][1] == "failed"
            and pages[0] == pages[2] == ("deepseek", "done")
        )
        assert "500" in doc["page_details"][1]["quality"]["reason"] and "2" in (doc["error"] or ""), doc
        hung, seconds = ingest_scan(client, tmp_path, "hung-alone")  # the last scripted step: a hang
        assert hung["status"] == "failed" and "engine_timeout" in hung["page_details"][0]["quality"]["reason"]
        assert seconds < READ_TIMEOUT_S + 30 and client.get("/healthz").status_code == 200
        vllm.reset()  # the server is back: retry OCRs the failed page only
        job = client.post(f"/v1/documents/{doc['id']}/retry").json()
        assert (
            read_sse(client, f"/v1/jobs/{job['id']}/events", timeout_s=DEADLINE_S)[-1][1]["state"] == "done"
        )
        after = client.get(f"/v1/documents/{doc['id']}").json()
        assert after["status"] == "done" and len(vllm.requests) == 1
        assert [p["engine"] for p in after["page_details"]] == ["deepseek"] * 3


# --- the LLM answerer -------------------------------------------------------------------------

LLM_TIMEOUT_S = 1.0


@pytest.fixture(scope="module")
def llm() -> Iterator[FakeLlmServer]:
    with FakeLlmServer() as fake:
        yield fake


@pytest.fixture(scope="module")
def llm_server(
    tmp_path_factory: pytest.TempPathFactory, llm: FakeLlmServer, embed_url: str
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp("llm")
    answer = {
        "backend": "llm",
        "llm": {
            "url": llm.url,
            "model": "fake-chat",
            "read_timeout_s": LLM_TIMEOUT_S,
            "retries": 1,
            "backoff_s": 0.05,
        },
    }
    embedder = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    settings = load_settings(data_dir=folder / "data", answer=answer, embedder=embedder)
    with LiveServer(settings) as live, live.client() as client:
        sub = upload(client, make_pdf(folder / "contract.pdf", pages=3)).json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        yield live


QUESTION = {"query": "Within how many days must the Customer pay an invoice?"}
CHAT = {"messages": [{"role": "user", "content": QUESTION["query"]}]}


def _post_timed(client: httpx.Client, path: str, body: dict[str, Any]) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    reply = client.post(path, json=body, timeout=30)
    return reply, time.monotonic() - started


LLM_FAULTS = [("/v1/ask", "500"), ("/v1/ask", "hang"), ("/v1/chat", "hang"), ("/v1/chat/completions", "500")]
LLM_ERRORS = {"500": (502, "llm_bad_response"), "hang": (504, "llm_timeout")}


@pytest.mark.parametrize(("path", "fault"), LLM_FAULTS)
def test_llm_fault_is_a_clear_error_within_the_timeout(
    llm_server: LiveServer, llm: FakeLlmServer, path: str, fault: str
) -> None:
    status, code = LLM_ERRORS[fault]
    llm.reset()
    if fault == "hang":
        llm.hang(seconds=5 * LLM_TIMEOUT_S, times=2)
    else:
        llm.fail(500, times=2)
    body = (
        {"model": "default", **CHAT}
        if path == "/v1/chat/completions"
        else CHAT
        if path == "/v1/chat"
        else QUESTION
    )
    with llm_server.client() as client:
        reply, seconds = _post_timed(client, path, body)
        assert (reply.status_code, reply.json()["error"]["code"]) == (status, code), reply.text
        assert reply.json()["error"]["message"]
        assert seconds < 2 * LLM_TIMEOUT_S + 3  # two tries at most, never the hang's length
        assert len(llm.chat_requests) == 2
        llm.reset()  # recovered: the same question now gets an answer
        again, _ = _post_timed(client, path, body)
        assert again.status_code == 200, again.text


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
def test_llm_fault_during_a_stream_ends_it_with_an_error_event(
    llm_server: LiveServer, llm: FakeLlmServer, path: str
) -> None:
    llm.reset()
    llm.fail(500, times=2)
    body = {**CHAT, "stream": True} | ({"model": "default"} if path.endswith("completions") else {})
    with llm_server.client() as client, client.stream("POST", path, json=body, timeout=30) as reply:
        text = "".join(reply.iter_text())  # raises if the server cuts the stream off mid-chunk
    assert "llm_bad_response" in text, text
    llm.reset()
