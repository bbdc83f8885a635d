"""Uploads keep the client's filename, made safe: messages quote the user's file, a known extension that
contradicts the content is refused at upload, and no name writes outside the data directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.uploads import MAX_NAME_BYTES, safe_filename
from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings

NOT_A_PDF = b"just some words, not a PDF\n" * 40


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("contract.pdf", "contract.pdf"),
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("..\\..\\evil.pdf", "evil.pdf"),
        ("/etc/cron.d/x.pdf", "x.pdf"),
        ("C:\\Users\\ana\\Vertrag März.pdf", "Vertrag März.pdf"),
        ("a\x00b\nc.pdf", "a_b_c.pdf"),
        ('what?<now>|"x".png', "what__now___x_.png"),
        ("  .hidden.pdf ", "hidden.pdf"),
        ("..", "upload"),
        ("", "upload"),
        (None, "upload"),
    ],
)
def test_safe_filename_keeps_the_last_part_and_safe_characters(name: str | None, expected: str) -> None:
    assert safe_filename(name) == expected


def test_safe_filename_shortens_a_long_name_but_keeps_its_extension() -> None:
    for name in ("x" * 4000 + ".pdf", "é" * 300 + ".pdf"):
        safe = safe_filename(name)
        assert safe.endswith(".pdf") and len(safe.encode()) <= MAX_NAME_BYTES
        assert safe[:-4] and set(safe[:-4]) == set(name[:-4])  # whole characters only


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, fake_llm_server: FakeLlmServer) -> Iterator[LiveServer]:
    """Embeddings from the fake OpenAI server, so no process loads a model."""
    data = tmp_path_factory.mktemp("names") / "root" / "data"
    embedder = {"backend": "http", "url": fake_llm_server.url, "dim": EMBED_DIM}
    with LiveServer(test_settings(data, embedder=embedder)) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with server.client() as client:
        yield client


def _post(client: httpx.Client, path: str, name: str, data: bytes) -> httpx.Response:
    return client.post(path, files={"file": (name, data, "application/pdf")})


@pytest.mark.parametrize("route", ["/v1/documents", "/v1/ocr"])
def test_a_non_pdf_named_pdf_is_refused_with_the_users_filename(
    server: LiveServer, client: httpx.Client, route: str
) -> None:
    reply = _post(client, route, "contract.pdf", NOT_A_PDF)
    error = reply.json()["error"]
    assert (reply.status_code, error["code"]) == (415, "unsupported_file"), error
    assert error["message"].startswith("contract.pdf ") and "upload-" not in error["message"]
    assert list(server.settings.uploads_dir.iterdir()) == []


@pytest.mark.parametrize("route", ["/v1/documents", "/v1/ocr"])
def test_a_pdf_named_png_is_refused_at_upload(
    server: LiveServer, client: httpx.Client, tmp_path: Path, route: str
) -> None:
    pdf = make_pdf(tmp_path / "p.pdf", pages=1, seed="named png").read_bytes()
    before = client.get("/v1/documents").json()["total"]
    reply = _post(client, route, "scan.png", pdf)
    error = reply.json()["error"]
    assert (reply.status_code, error["code"]) == (415, "unsupported_file"), error
    assert "scan.png is named as PNG but its content is PDF" in error["message"]
    assert client.get("/v1/documents").json()["total"] == before  # no document, no job
    assert list(server.settings.uploads_dir.iterdir()) == []


def test_a_traversal_name_is_stored_sanitized_inside_the_data_dir(
    server: LiveServer, client: httpx.Client, tmp_path: Path
) -> None:
    data_dir = server.settings.data_dir.resolve()
    watched = data_dir.parent  # the data dir's parent: '../x' from uploads/<random>/ would land here
    before = {p for p in watched.rglob("*") if not p.is_relative_to(data_dir)}
    pdf = make_pdf(tmp_path / "t.pdf", pages=1, seed="traversal").read_bytes()
    reply = _post(client, "/v1/documents", "../../etc/passwd.pdf", pdf)
    assert reply.status_code == 202, reply.text
    doc_id, job_id = reply.json()["document_id"], reply.json()["job_id"]
    assert read_sse(client, f"/v1/jobs/{job_id}/events")[-1][1]["state"] == "done"
    assert client.get(f"/v1/documents/{doc_id}").json()["filename"] == "passwd.pdf"
    stored = data_dir / "docs" / doc_id
    assert (stored / "original.pdf").is_file()
    assert all(p.resolve().is_relative_to(stored) for p in stored.rglob("*"))
    assert {p for p in watched.rglob("*") if not p.is_relative_to(data_dir)} == before
    assert list(server.settings.uploads_dir.iterdir()) == []
