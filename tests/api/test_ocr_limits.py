"""/v1/ocr keeps the work of a request in proportion (issue 14, H8): pages x pixels per request and
requests at once are bounded; over real HTTP."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pymupdf
import pytest

from tests.fakes.vllm_server import FakeVllm
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, test_settings

pytestmark = pytest.mark.slow


def _giant_pages(path: Path, pages: int, side_pt: float = 7600) -> Path:
    doc = pymupdf.open()
    for n in range(pages):
        doc.new_page(width=side_pt, height=side_pt).insert_text((72, 90), f"page {n + 1}", fontsize=40)
    doc.save(path, garbage=4, deflate=True)
    doc.close()
    return path


def _ocr(client: httpx.Client, path: Path, **fields: str) -> httpx.Response:
    with path.open("rb") as fh:
        return client.post("/v1/ocr", files={"file": (path.name, fh, "application/pdf")}, data=fields)


def test_a_small_file_of_giant_pages_is_refused_before_any_ocr(tmp_path: Path) -> None:
    """The attack: ~15 KB, 40 pages of 7600x7600 pt, each rendered at the per-page cap (60 Mpx)."""
    pdf = _giant_pages(tmp_path / "giant.pdf", pages=40)
    assert pdf.stat().st_size < 64_000
    with LiveServer(test_settings(tmp_path / "data")) as server, server.client() as client:
        started = time.monotonic()
        reply = _ocr(client, pdf)
        assert reply.status_code == 413 and reply.json()["error"]["code"] == "ocr_request_too_large"
        assert "POST /v1/documents" in reply.json()["error"]["message"]
        assert time.monotonic() - started < 30  # refused from page sizes, nothing rendered
        normal = _ocr(client, make_pdf(tmp_path / "normal.pdf", pages=2))
        assert normal.status_code == 200 and len(normal.json()["pages"]) == 2


def test_ocr_requests_beyond_the_concurrency_limit_get_429(tmp_path: Path, fake_vllm: FakeVllm) -> None:
    fake_vllm.script("hang")
    settings = test_settings(
        tmp_path / "data",
        deepseek={"url": fake_vllm.url, "retries": 0, "cpu_fallback_on_error": False},
        ocr_request={"concurrency": 1},
    )
    pdf = make_pdf(tmp_path / "one.pdf", pages=1, scanned=True)
    with LiveServer(settings) as server, server.client() as client:
        first: list[httpx.Response] = []
        worker = threading.Thread(target=lambda: first.append(_ocr(client, pdf, engine="deepseek")))
        worker.start()
        deadline = time.monotonic() + 60
        while not fake_vllm.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert fake_vllm.requests, "the first request never reached the OCR server"
        busy = _ocr(client, pdf, engine="deepseek")
        assert busy.status_code == 429 and busy.json()["error"]["code"] == "ocr_busy"
        fake_vllm.reset()  # the hung page is answered (503): the first request ends, its slot frees
        worker.join(timeout=90)
        assert first and first[0].status_code == 200
        assert _ocr(client, pdf, engine="textlayer").status_code == 200
