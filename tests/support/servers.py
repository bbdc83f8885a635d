"""The app on loopback for tests and benchmarks: settings in a folder, a live uvicorn server, uploads and
server-sent events read to their end."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from api.app import create_app
from api.settings import Settings, load_settings
from tests.fakes.loopback import LoopbackServer
from tests.fakes.openai_server import EMBED_DIM
from tests.support.documents import make_pdf


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


def ingest_kbs(client: httpx.Client, folder: Path, pages: dict[str, int]) -> dict[str, str]:
    """One generated PDF per kb (`pages` of it), ingested to the end: kb -> document id."""
    docs = {}
    for kb, count in pages.items():
        sub = upload(client, make_pdf(folder / f"{kb}.pdf", pages=count, seed=kb), kb=kb).json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        docs[kb] = str(sub["document_id"])
    return docs


@contextmanager
def kb_server(
    folder: Path, embed_url: str, keys: list[dict[str, Any]], pages: dict[str, int], **overrides: Any
) -> Iterator[tuple[LiveServer, dict[str, str]]]:
    """A live server with API `keys`, embeddings from the fake OpenAI server at `embed_url` (no model
    loads), and one PDF per kb ingested with the first key: (server, kb -> document id)."""
    embedder = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    settings = test_settings(folder / "data", api_keys=keys, embedder=embedder, **overrides)
    with LiveServer(settings) as server, server.client(headers={"X-API-Key": keys[0]["key"]}) as client:
        yield server, ingest_kbs(client, folder, pages)
