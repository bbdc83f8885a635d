"""A fake OpenAI-compatible server on loopback: scripted chat replies, streaming, failures on demand.

A real HTTP server (Starlette under uvicorn, in a background thread, on a free port) serving
`/v1/chat/completions` (plain and SSE streaming) and `/v1/embeddings`; it records every request.
Use the `fake_llm` fixture in tests, or `with FakeLlmServer() as fake:` from a script.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import deque
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer

EMBED_DIM = 16


@dataclass
class _Action:
    kind: str  # "reply", "fail" or "hang"
    text: str = ""
    status: int = 200
    seconds: float = 0.0


class FakeLlmServer:
    """Replies come from a queue (`reply`, `fail`, `hang`), then `default_reply` once it is empty."""

    def __init__(self, default_reply: str = "The documents say so [1].") -> None:
        self.default_reply = default_reply
        self.requests: list[dict[str, Any]] = []
        self._queue: deque[_Action] = deque()
        self._stopping = False
        self._loopback: LoopbackServer | None = None
        self.port = 0

    # --- scripting ----------------------------------------------------------------------
    @property
    def url(self) -> str:
        """The base URL clients configure, up to and including /v1."""
        return f"http://127.0.0.1:{self.port}/v1"

    def reply(self, *texts: str) -> None:
        self._queue.extend(_Action("reply", text=t) for t in texts)

    def fail(self, status: int = 500, times: int = 1) -> None:
        self._queue.extend(_Action("fail", status=status) for _ in range(times))

    def hang(self, seconds: float = 30.0, times: int = 1) -> None:
        self._queue.extend(_Action("hang", seconds=seconds) for _ in range(times))

    def reset(self) -> None:
        self._queue.clear()
        self.requests.clear()

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r["body"] for r in self.requests if r["path"].endswith("/chat/completions")]

    # --- handlers -----------------------------------------------------------------------
    async def _chat(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"path": request.url.path, "body": body, "headers": dict(request.headers)})
        action = self._queue.popleft() if self._queue else _Action("reply", text=self.default_reply)
        if action.kind == "hang":
            await self._sleep(action.seconds)
        if action.kind == "fail":
            return JSONResponse({"error": {"message": "scripted failure"}}, status_code=action.status)
        text = action.text if action.kind == "reply" else self.default_reply
        model = str(body.get("model", ""))
        if body.get("stream"):
            return StreamingResponse(_sse(text, model), media_type="text/event-stream")
        return JSONResponse(_completion(text, model))

    async def _embeddings(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append({"path": request.url.path, "body": body, "headers": dict(request.headers)})
        inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": _embed(t)} for i, t in enumerate(inputs)]
        return JSONResponse({"object": "list", "data": data, "model": body.get("model", "")})

    async def _health(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and not self._stopping:
            await asyncio.sleep(0.05)

    # --- lifecycle ----------------------------------------------------------------------
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
                Route("/v1/embeddings", self._embeddings, methods=["POST"]),
                Route("/health", self._health),
            ]
        )

    def start(self) -> FakeLlmServer:
        self._loopback = LoopbackServer(self.app(), http="h11", ws="none")
        self._loopback.start()
        self.port = self._loopback.port
        return self

    def stop(self) -> None:
        self._stopping = True
        if self._loopback is not None:
            self._loopback.stop(timeout_s=5)

    def __enter__(self) -> FakeLlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _completion(text: str, model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": len(text.split()), "total_tokens": 1},
    }


def _chunk(model: str, delta: dict[str, str], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def _sse(text: str, model: str) -> AsyncIterator[str]:
    """The reply word by word, as vLLM streams it: role first, then content deltas, then [DONE]."""
    yield _chunk(model, {"role": "assistant", "content": ""})
    for piece in re.findall(r"\S+\s*", text):
        yield _chunk(model, {"content": piece})
    yield _chunk(model, {}, finish="stop")
    yield "data: [DONE]\n\n"


def _embed(text: str) -> list[float]:
    """A deterministic unit vector per text (hashing its words), so equal texts embed equally."""
    vector = [0.0] * EMBED_DIM
    for word in text.lower().split():
        vector[int(hashlib.sha1(word.encode()).hexdigest(), 16) % EMBED_DIM] += 1.0
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [v / norm for v in vector]


@pytest.fixture(scope="session")
def fake_llm_server() -> Iterator[FakeLlmServer]:
    with FakeLlmServer() as server:
        yield server


@pytest.fixture
def fake_llm(fake_llm_server: FakeLlmServer) -> Iterator[FakeLlmServer]:
    """The session's fake server with an empty script and no recorded requests."""
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()
