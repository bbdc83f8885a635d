"""Fixtures for the service tests: generated PDFs, settings in tmp_path, a live uvicorn server,
and the PostgreSQL / Redis URLs (skipping with the reason when they are unreachable)."""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pymupdf
import pytest

from api.app import create_app
from api.settings import Settings, load_settings
from tests.fakes.loopback import LoopbackServer

SECTIONS = [
    ("Payment terms", "The Customer shall pay every invoice within thirty days of receipt by bank transfer."),
    (
        "Termination",
        "Either party may terminate this agreement with ninety days written notice to the other.",
    ),
    ("Confidentiality", "Each party keeps the other party's confidential information secret for five years."),
    ("Governing law", "This agreement is governed by the laws of England and Wales and its courts."),
    (
        "Liability",
        "Liability of the Provider is capped at the fees paid in the twelve months before a claim.",
    ),
    ("Warranties", "The Provider warrants that the services are performed with reasonable skill and care."),
    ("Notices", "Notices are given in writing to the addresses stated on the first page of the agreement."),
    ("Assignment", "Neither party may assign this agreement without the prior written consent of the other."),
]


def make_pdf(path: Path, pages: int = 2, scanned: bool = False, seed: str = "") -> Path:
    """A contract-like PDF; `scanned` pages are images only (no text layer), so they need OCR."""
    doc = pymupdf.open()
    for n in range(pages):
        title, body = SECTIONS[n % len(SECTIONS)]
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 90), f"{n + 1}. {title} {seed}".strip(), fontsize=18)
        y = 130.0
        for line in (
            body,
            f"Clause {n + 1} applies from the effective date.",
            f"See {title.lower()} for details.",
        ):
            page.insert_text((72, y), line, fontsize=11)
            y += 22
        if scanned:
            pix = page.get_pixmap(dpi=110)
            doc.delete_page(n)
            img_page = doc.new_page(pno=n, width=595, height=842)
            img_page.insert_image(img_page.rect, pixmap=pix)
    doc.save(path)
    doc.close()
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_settings(data_dir: Path, **overrides: Any) -> Settings:
    return load_settings(data_dir=data_dir, **overrides)


test_settings.__test__ = False  # type: ignore[attr-defined]


class LiveServer:
    """The app from `settings` served by uvicorn in a thread on a free loopback port."""

    def __init__(self, settings: Settings, **config: Any) -> None:
        self.settings = settings
        self._loopback = LoopbackServer(create_app(settings), lifespan="on", **config)

    @property
    def url(self) -> str:
        return self._loopback.url

    @property
    def port(self) -> int:
        return self._loopback.port

    def __enter__(self) -> LiveServer:
        self._loopback.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loopback.stop(timeout_s=30)

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


def sse_lines(
    client: httpx.Client, path: str, body: dict[str, Any] | None = None, timeout_s: float = 90
) -> list[str]:
    """The non-empty lines of a server-sent event stream until it ends (POST when `body` is given)."""
    method = "POST" if body is not None else "GET"
    with client.stream(method, path, json=body, timeout=timeout_s) as reply:
        assert reply.status_code == 200, reply.read()
        assert reply.headers["content-type"].startswith("text/event-stream")
        return [line for line in reply.iter_lines() if line]


def read_sse(
    client: httpx.Client, path: str, timeout_s: float = 90, body: dict[str, Any] | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """Every (event, data) of a server-sent event stream until it ends."""
    events: list[tuple[str, dict[str, Any]]] = []
    event = "message"
    for line in sse_lines(client, path, body, timeout_s):
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            events.append((event, json.loads(line[6:])))
    return events


def upload(client: httpx.Client, path: Path, **fields: Any) -> httpx.Response:
    with path.open("rb") as fh:
        return client.post("/v1/documents", files={"file": (path.name, fh, "application/pdf")}, data=fields)


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "contract.pdf", pages=3)


def _reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get("OPTICITE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if not _reachable(base, 5432):
        pytest.skip(f"PostgreSQL not reachable at {base} (set OPTICITE_TEST_POSTGRES_URL)")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("OPTICITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not _reachable(url, 6379):
        pytest.skip(f"Redis not reachable at {url} (set OPTICITE_TEST_REDIS_URL)")
    return url.rsplit("/", 1)[0] + "/13"  # a dedicated db number, queues named per test
