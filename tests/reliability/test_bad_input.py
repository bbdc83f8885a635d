"""Bad input through the HTTP API: the OCRmyPDF robustness corpus, empty, truncated and random files,
a PNG decompression bomb, a 10,000-page PDF, wrong extensions and content types, path traversal.

Each gets a clear 4xx with a code and message, or a job that ends with a reason, within a time
bound; a good document uploaded alongside completes, and nothing is written outside the data dir.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from api.settings import load_settings
from tests.fakes.openai_server import EMBED_DIM
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.bad_input import REPLY_S, huge_pdf, outcome, png_bomb, send
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, upload

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, embed_url: str) -> Iterator[LiveServer]:
    """Scans go to a fake vLLM (instant replies), so the corpus runs in seconds."""
    folder = tmp_path_factory.mktemp("badinput")
    with FakeVllm(replies=load_recorded_replies()[:1]) as vllm:
        settings = load_settings(
            data_dir=folder / "data",
            deepseek={"url": vllm.url, "retries": 0, "read_timeout_s": 10},
            embedder={"backend": "http", "url": embed_url, "dim": EMBED_DIM},
        )
        with LiveServer(settings) as live:
            yield live


def tree(root: Path, skip: Path) -> set[Path]:
    return {p for p in root.rglob("*") if skip not in p.parents and p != skip}


def test_every_file_of_the_robustness_corpus_is_refused_or_processed(
    server: LiveServer, testdata: Path, tmp_path: Path
) -> None:
    corpus = sorted(p for p in (testdata / "ocrmypdf-test-resources").iterdir() if p.is_file())
    with server.client() as client:
        good = upload(client, make_pdf(tmp_path / "good.pdf", pages=2, seed="alongside corpus"))
        replies = {p.name: send(client, p, content_type="application/octet-stream") for p in corpus}
        results = {name: outcome(client, reply) for name, (reply, _) in replies.items()}
        assert outcome(client, good)["status"] == "done"
        assert client.get("/healthz").status_code == 200
    assert max(seconds for _, seconds in replies.values()) < REPLY_S
    assert results["invalid.pdf"]["status"] in (415, 422)
    for name in ("SOURCE.md", "linn.txt", "UPSTREAM_REUSE.toml", "UPSTREAM_resources_README.rst"):
        assert results[name] == {"status": 415, "code": "unsupported_file"}, (name, results[name])
    readable = [n for n in results if n.endswith((".pdf", ".png")) and n != "invalid.pdf"]
    assert readable and all(results[n]["status"] == "done" and results[n]["chunks"] > 0 for n in readable), (
        results
    )


def test_damaged_and_hostile_files_get_a_clear_answer_in_time(server: LiveServer, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "base.pdf", pages=3, seed="base").read_bytes()
    cases: dict[str, tuple[str, bytes, set[int | str]]] = {
        "empty": ("empty.pdf", b"", {400}),
        "truncated": ("truncated.pdf", pdf[: len(pdf) // 3], {422, "done", "partial", "failed"}),
        "random bytes as pdf": ("random.pdf", os.urandom(50_000), {415, 422}),
        "random bytes, no extension": ("blob", os.urandom(50_000), {415}),
        "png bomb": ("bomb.png", png_bomb(tmp_path / "bomb.png").read_bytes(), {413, 422}),
        "10,000-page pdf": ("huge.pdf", huge_pdf(tmp_path / "huge.pdf").read_bytes(), {413}),
        "pdf named .png": ("scan.png", pdf, {415}),
        "text named .pdf": ("notes.pdf", b"just some words, not a PDF\n" * 50, {415, 422}),
    }
    with server.client() as client:
        before = client.get("/v1/documents").json()["total"]
        good = upload(client, make_pdf(tmp_path / "good.pdf", pages=2, seed="alongside hostile"))
        accepted = 1
        for case, (name, data, allowed) in cases.items():
            reply, seconds = send(client, tmp_path / name, name=name, data=data)
            result = outcome(client, reply)
            assert result["status"] in allowed, (case, result, reply.text[:300])
            assert seconds < REPLY_S, (case, seconds)
            accepted += reply.status_code == 202
        assert outcome(client, good)["status"] == "done"
        assert client.get("/v1/documents").json()["total"] == before + accepted  # refusals left no document
    assert list(server.settings.uploads_dir.iterdir()) == []  # nor a staged upload


def test_content_type_is_not_trusted_the_bytes_decide(server: LiveServer, tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "typed.pdf", pages=1, seed="content type")
    with server.client() as client:
        as_text, _ = send(client, pdf, content_type="text/plain")
        assert outcome(client, as_text)["status"] == "done"
        as_image, _ = send(
            client, tmp_path / "x.png", name="x.png", content_type="image/png", data=b"%PDF-1.7 junk"
        )
        assert outcome(client, as_image)["status"] in (415, 422)


def test_a_traversal_filename_writes_nothing_outside_the_data_dir(server: LiveServer, tmp_path: Path) -> None:
    data_dir = server.settings.data_dir.resolve()
    pdf = make_pdf(tmp_path / "t.pdf", pages=1, seed="traversal")
    watched = data_dir.parent.parent
    before = tree(watched, data_dir)
    names = [
        "../../etc/passwd.pdf",
        "../../../../../../tmp/opticite-escape.pdf",
        "/etc/cron.d/x.pdf",
        "a/../../b.pdf",
        "x" * 4000 + ".pdf",
        "..\\..\\evil.pdf",
    ]
    with server.client() as client:
        for i, name in enumerate(names):
            data = pdf.read_bytes() + f"\n% {i}\n".encode()  # a distinct file each time (no dedup)
            reply, _ = send(client, pdf, name=name, data=data)
            result = outcome(client, reply)
            if result["status"] == "done":
                doc = client.get(f"/v1/documents/{result['id']}").json()
                assert "/" not in doc["filename"], doc["filename"]
                stored = data_dir / "docs" / result["id"]
                assert all(p.resolve().is_relative_to(stored) for p in stored.rglob("*"))
            else:
                assert result["status"] in (400, 422), (name[:40], result)
    assert tree(watched, data_dir) - before == set()
    assert not Path("/tmp/opticite-escape.pdf").exists() and not Path("/etc/passwd.pdf").exists()


def test_a_windows_style_traversal_name_is_reduced_to_its_last_part(
    server: LiveServer, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "w.pdf", pages=1, seed="windows name")
    with server.client() as client:
        reply, _ = send(client, pdf, name="..\\..\\evil.pdf")
        doc = client.get(f"/v1/documents/{outcome(client, reply)['id']}").json()
    assert doc["filename"] == "evil.pdf"


def test_a_known_extension_that_contradicts_the_content_is_refused_at_upload(
    server: LiveServer, tmp_path: Path
) -> None:
    pdf = make_pdf(tmp_path / "p.pdf", pages=1, seed="named png")
    with server.client() as client:
        reply, _ = send(client, pdf, name="scan.png")
        assert (reply.status_code, reply.json().get("error", {}).get("code")) == (415, "unsupported_file")


@pytest.mark.services
def test_a_very_long_filename_is_not_a_server_error_on_postgresql(
    tmp_path: Path, postgres_url: str, embed_url: str
) -> None:
    settings = load_settings(
        data_dir=tmp_path / "data",
        db_url=postgres_url,
        embedder={"backend": "http", "url": embed_url, "dim": EMBED_DIM},
    )
    pdf = make_pdf(tmp_path / "long.pdf", pages=1, seed="long name")
    with LiveServer(settings) as server, server.client() as client:
        reply, _ = send(client, pdf, name="x" * 600 + ".pdf")
        assert reply.status_code < 500, reply.text
        docs = client.get("/v1/documents").json()["total"]
    assert len(list(settings.docs_dir.iterdir())) == docs  # no orphan folder
