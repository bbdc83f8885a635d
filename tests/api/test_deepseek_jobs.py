"""Over real HTTP with DeepSeek on the fake vLLM: the `locate` prompt reaches the server, a page failed
by a 500 storm is OCR'd again by retry, cancel stops a document between pages, and `mode=auto`
chooses each page's resolution mode and says why in the layout and the document's page report."""

from __future__ import annotations

import base64
import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from tests.fakes.vllm_server import BUILTIN_REPLY, FakeVllm, Reply, request_image_and_prompt
from tests.support.documents import make_pdf, print_size_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow
GOOD = Reply(content=BUILTIN_REPLY)  # a grounded page that passes the quality gate
LOCATE_PROMPT = "Locate <|ref|>Payment terms<|/ref|> in the image."


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, _fake_vllm_server: FakeVllm) -> Iterator[LiveServer]:
    """One page at a time, no retries inside the engine: each scripted reply is one page attempt.
    A DeepSeek service error leaves the page failed (no CPU fallback), for `retry` to read later."""
    deepseek = {
        "url": _fake_vllm_server.url,
        "concurrency": 1,
        "retries": 0,
        "backoff_s": 0.0,
        "cpu_fallback_on_error": False,
    }
    data = tmp_path_factory.mktemp("deepseek") / "data"
    with LiveServer(test_settings(data, deepseek=deepseek, jobs={"page_concurrency": 1})) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _prompts(fake: FakeVllm) -> list[str]:
    return [request_image_and_prompt(body)[1] for body in list(fake.requests)]


def _finish(client: httpx.Client, job_id: str) -> dict[str, Any]:
    final = read_sse(client, f"/v1/jobs/{job_id}/events")[-1]
    assert final[0] == "done", final
    return final[1]


def test_locate_prompt_sends_the_text_to_find(
    client: httpx.Client, fake_vllm: FakeVllm, tmp_path: Path
) -> None:
    found = Reply(content="<|ref|>Payment terms<|/ref|><|det|>[[120, 95, 420, 115]]<|/det|>")
    fake_vllm.script(found, found)
    pdf = make_pdf(tmp_path / "locate.pdf", pages=1, seed="locate")
    fields = {"engine": "deepseek", "prompt": "locate", "locate_text": " Payment terms "}
    sub = upload(client, pdf, kb="locate", **fields).json()
    assert _finish(client, sub["job_id"])["state"] == "done"
    assert _prompts(fake_vllm) == [LOCATE_PROMPT]
    assert (
        client.get(f"/v1/documents/{sub['document_id']}").json()["options"]["locate_text"] == "Payment terms"
    )

    with pdf.open("rb") as fh:
        reply = client.post("/v1/ocr", files={"file": (pdf.name, fh, "application/pdf")}, data=fields)
    assert reply.status_code == 200, reply.text
    assert _prompts(fake_vllm) == [LOCATE_PROMPT] * 2
    assert reply.json()["pages"][0]["engine"] == "deepseek"


def test_locate_prompt_without_text_is_refused_before_any_work(
    server: LiveServer, client: httpx.Client, fake_vllm: FakeVllm, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "nothing.pdf", pages=1, seed="no-locate-text")
    for fields in ({"prompt": "locate"}, {"prompt": "locate", "locate_text": "  "}):
        replies = [upload(client, pdf, **fields)]
        with pdf.open("rb") as fh:
            replies.append(
                client.post("/v1/ocr", files={"file": (pdf.name, fh, "application/pdf")}, data=fields)
            )
        for reply in replies:
            error = reply.json()["error"]
            assert (reply.status_code, error["code"]) == (422, "bad_ocr_option"), error
            assert "locate_text" in error["message"]
    assert (
        fake_vllm.requests == []
        and client.get("/v1/documents", params={"kb": "default"}).json()["total"] == 0
    )
    assert list(server.settings.uploads_dir.iterdir()) == []


def test_retry_reads_a_page_failed_by_a_500_storm_once_the_server_recovers(
    client: httpx.Client, fake_vllm: FakeVllm, tmp_path: Path
) -> None:
    fake_vllm.script(GOOD, "500")  # page 1 read, page 2 meets the storm (no retries configured)
    pdf = make_pdf(tmp_path / "storm.pdf", pages=2, seed="storm")
    sub = upload(client, pdf, kb="retry", engine="deepseek")
    assert sub.status_code == 202, sub.text
    doc_id = sub.json()["document_id"]
    assert _finish(client, sub.json()["job_id"])["state"] == "partial"
    doc = client.get(f"/v1/documents/{doc_id}").json()
    assert doc["status"] == "partial" and [p["status"] for p in doc["page_details"]] == ["done", "failed"]
    assert "500" in doc["page_details"][1]["quality"]["reason"]
    failed = client.get(f"/v1/documents/{doc_id}/layout").json()["pages"][1]["quality"]
    assert len(failed["attempts"]) == 1 and failed["attempts"][0].startswith("deepseek:")  # no CPU attempt
    before = len(fake_vllm.requests)

    fake_vllm.script(GOOD)  # the server has recovered
    job = client.post(f"/v1/documents/{doc_id}/retry")
    assert job.status_code == 202 and job.json()["kind"] == "retry", job.text
    assert _finish(client, job.json()["id"])["state"] == "done"
    doc = client.get(f"/v1/documents/{doc_id}").json()
    assert doc["status"] == "done" and doc["chunks"] >= 1
    assert [(p["status"], p["engine"]) for p in doc["page_details"]] == [("done", "deepseek")] * 2
    assert len(fake_vllm.requests) == before + 1  # only the failed page was sent again
    markdown = client.get(f"/v1/documents/{doc_id}/markdown").text
    assert "<!-- page 2 -->" in markdown and markdown.count("sixty days' notice") == 2  # page 2 is back


def test_cancel_mid_document_stops_before_the_next_page(
    client: httpx.Client, fake_vllm: FakeVllm, tmp_path: Path
) -> None:
    slow = Reply(content=BUILTIN_REPLY, delay_s=1.0)
    fake_vllm.script(*[slow] * 4)
    sub = upload(
        client, make_pdf(tmp_path / "long.pdf", pages=4, seed="cancel"), kb="cancel", engine="deepseek"
    )
    doc_id, job_id = sub.json()["document_id"], sub.json()["job_id"]
    deadline = time.monotonic() + 30
    while not fake_vllm.requests and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(fake_vllm.requests) == 1  # page 1 is in flight

    cancelled = client.post(f"/v1/jobs/{job_id}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled", cancelled.text
    assert _finish(client, job_id)["state"] == "cancelled"
    time.sleep(2.0)  # past page 1's reply: a runner that went on would have sent page 2 by now
    assert len(fake_vllm.requests) == 1
    doc = client.get(f"/v1/documents/{doc_id}").json()
    assert doc["status"] == "cancelled" and doc["job"]["state"] == "cancelled"
    assert [p["status"] for p in doc["page_details"]][1:] == ["pending"] * 3


def test_a_short_answer_on_a_deepseek_page_is_cut_to_the_box_the_model_locates(
    client: httpx.Client, fake_vllm: FakeVllm, tmp_path: Path
) -> None:
    """DeepSeek grounds blocks, not lines: a one-sentence answer would light up its whole paragraph.
    The answer asks the model where the quote is; a box inside the block replaces it, one elsewhere
    on the page is ignored, and a failing server leaves the block's box."""
    sentence = "The term is twelve months with sixty days' notice."
    inside = Reply(content=f"<|ref|>{sentence}<|/ref|><|det|>[[100, 250, 600, 270]]<|/det|>")
    elsewhere = Reply(content=f"<|ref|>{sentence}<|/ref|><|det|>[[100, 700, 600, 720]]<|/det|>")
    fake_vllm.script(GOOD, inside, elsewhere, "500")
    pdf = make_pdf(tmp_path / "term.pdf", pages=1, seed="located")
    sub = upload(client, pdf, kb="located", engine="deepseek").json()
    assert _finish(client, sub["job_id"])["state"] == "done"

    def cited_box() -> list[float]:
        reply = client.post("/v1/ask", json={"query": "How long is the term?", "kb": "located"})
        assert reply.status_code == 200, reply.text
        first = reply.json()["citations"][0]
        assert first["quote"] == sentence
        return first["regions"][0]["bbox"]

    assert cited_box() == pytest.approx([0.1, 0.25, 0.6, 0.27], abs=2e-3)
    assert _prompts(fake_vllm)[-1] == f"Locate <|ref|>{sentence}<|/ref|> in the image."
    # the block of that sentence in BUILTIN_REPLY spans y 0.25..0.32: its box is kept
    block_rows = pytest.approx([0.25, 0.32], abs=2e-3)
    assert cited_box()[1::2] == block_rows  # the located box lies outside the cited block
    assert cited_box()[1::2] == block_rows  # the server answered 500: the answer stands


def _sent_long_side(body: dict[str, Any]) -> int:
    image, _ = request_image_and_prompt(body)
    with Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1]))) as img:
        return max(img.size)


def test_auto_mode_chooses_per_page_and_reports_why(
    client: httpx.Client, fake_vllm: FakeVllm, tmp_path: Path
) -> None:
    fake_vllm.script(GOOD, GOOD)
    pdf = print_size_pdf(tmp_path / "mixed.pdf", [(24, False), (7, False)])  # large print, small print
    sub = upload(client, pdf, kb="auto-mode", engine="deepseek", mode="auto")
    assert sub.status_code == 202, sub.text
    doc_id = sub.json()["document_id"]
    assert _finish(client, sub.json()["job_id"])["state"] == "done"
    # one page at a time (concurrency 1): page 1 went as small (640 px), page 2 as rendered (gundam)
    assert [_sent_long_side(body) for body in fake_vllm.requests] == [640, 1684]

    layout = client.get(f"/v1/documents/{doc_id}/layout").json()["pages"]
    assert [page["mode"]["mode"] for page in layout] == ["small", "gundam"]
    assert "px in small" in layout[0]["mode"]["reason"] and "small print" in layout[1]["mode"]["reason"]
    report = client.get(f"/v1/documents/{doc_id}").json()["page_details"]
    assert [page["mode"] for page in report] == [page["mode"] for page in layout]
