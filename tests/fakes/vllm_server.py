"""A fake vLLM OpenAI server on loopback that replays recorded DeepSeek-OCR outputs.

Real HTTP (Starlette under uvicorn in a background thread), `/v1/chat/completions` and `/v1/models`;
records every request body and misbehaves on demand (`script`), or serves with a fixed number of
slots and a per-request service time (`capacity`) for throughput benchmarks.

    with FakeVllm() as fake:              # fake.url == "http://127.0.0.1:PORT/v1"
        fake.script("500", "429", "ok")   # then round-robin over the recorded replies

`FakeVllm(simulate_compression=True)` keeps each page's recording across modes and degrades it in
the cheaper modes: a simulation (tests/fakes/compression.py), not DeepSeek's behaviour.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.fakes import compression
from tests.fakes.loopback import LoopbackServer

RECORDED_DIR = (
    Path(__file__).resolve().parents[2].parent / "shared/testdata/docling-testdata/md_deepseek/sources"
)
DEFAULT_MODEL = "deepseek-ai/DeepSeek-OCR"
_GROUNDING_RE = re.compile(r"<\|ref\|>.*?<\|/ref\|><\|det\|>.*?<\|/det\|>\n?", re.DOTALL)
# Used only where the shared recordings are absent (a fresh clone); written for this project.
BUILTIN_REPLY = (
    "<|ref|>title<|/ref|><|det|>[[100, 60, 900, 100]]<|/det|>\n# Service Agreement\n\n"
    "<|ref|>text<|/ref|><|det|>[[100, 120, 900, 200]]<|/det|>\n"
    "This agreement is made between the parties named below and renews every year.\n\n"
    "<|ref|>sub_title<|/ref|><|det|>[[100, 220, 500, 240]]<|/det|>\n## Term\n\n"
    "<|ref|>text<|/ref|><|det|>[[100, 250, 900, 320]]<|/det|>\n"
    "The term is twelve months with sixty days' notice.<｜end▁of▁sentence｜>"
)


def load_recorded_replies(directory: Path = RECORDED_DIR) -> list[str]:
    """The recorded raw DeepSeek outputs, sorted by name; the built-in sample when absent."""
    files = sorted(directory.glob("*.md")) if directory.is_dir() else []
    return [f.read_text(encoding="utf-8") for f in files] or [BUILTIN_REPLY]


@dataclass
class Reply:
    """One scripted reply. `behaviour`: ok, error (HTTP `status`), hang, drop, malformed."""

    behaviour: str = "ok"
    content: str | None = None  # None: the next recorded reply
    finish_reason: str = "stop"
    status: int = 200
    delay_s: float = 0.0


def truncated(text: str, fraction: float = 0.6) -> str:
    """A reply cut off mid-generation, as vLLM returns it at max_tokens."""
    return text[: int(len(text) * fraction)]


def looping(text: str = "The parties agree to the terms below.", repeats: int = 40) -> str:
    """A degenerate generation: the same block again and again, its box drifting down the page."""
    blocks = [
        f"<|ref|>text<|/ref|><|det|>[[80, {100 + 20 * i % 850}, 920, {118 + 20 * i % 850}]]<|/det|>\n{text}\n\n"
        for i in range(repeats)
    ]
    return "".join(blocks)


def _parse_step(step: str | Reply) -> Reply:
    if isinstance(step, Reply):
        return step
    kind, _, arg = step.partition(":")
    if kind in ("500", "502", "503", "429", "400", "404"):
        return Reply(behaviour="error", status=int(kind))
    if kind == "slow":
        return Reply(delay_s=float(arg or 1.0))
    if kind == "length":
        return Reply(behaviour="length", finish_reason="length")
    if kind == "loop":
        return Reply(content=looping(), finish_reason="length")
    if kind in ("ok", "hang", "drop", "malformed"):
        return Reply(behaviour=kind)
    raise ValueError(f"unknown fake vLLM step {step!r}")


class FakeVllm:
    """The server; `.url` is the OpenAI base URL (ending in /v1), `.requests` every body received."""

    def __init__(
        self,
        replies: list[str] | None = None,
        model: str = DEFAULT_MODEL,
        port: int = 0,
        simulate_compression: bool = False,
    ) -> None:
        self.replies = replies if replies is not None else load_recorded_replies()
        self.simulate_compression = simulate_compression
        self._pages = compression.PageMemory()
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self._script: deque[Reply] = deque()
        self._next = 0
        self._capacity: tuple[int, float] | None = None
        self.in_flight = 0
        self.max_in_flight = 0
        self._generation = 0
        self._slots: asyncio.Semaphore | None = None
        self._lock = threading.Lock()
        self._loopback: LoopbackServer | None = None
        self.port = port

    # --- control -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *steps: str | Reply) -> None:
        """Replies for the next requests in order ("500", "429", "slow:2", "hang", "drop",
        "malformed", "length", "loop", "ok" or a Reply); afterwards round-robin recorded replies."""
        with self._lock:
            self._script.extend(_parse_step(s) for s in steps)

    def capacity(self, slots: int, service_s: float) -> None:
        """Serve at most `slots` requests at once, each taking `service_s` (like a busy GPU)."""
        self._capacity = (slots, service_s)
        self._slots = None  # rebuilt inside the server's loop

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()
            self._next = 0
            self._pages = compression.PageMemory()
            self._generation += 1
        deadline = time.monotonic() + 2.0
        while self.in_flight and time.monotonic() < deadline:  # released hangs drain
            time.sleep(0.01)
        self.max_in_flight = 0
        self._capacity = None
        self._slots = None

    # --- lifecycle -----------------------------------------------------------------------
    def start(self) -> FakeVllm:
        self._loopback = LoopbackServer(
            self._app(), self.port, log_level="critical", timeout_graceful_shutdown=1, backlog=4096
        )
        self._loopback.start()
        self.port = self._loopback.port
        return self

    def stop(self) -> None:
        self._generation += 1
        if self._loopback is not None:
            self._loopback.stop()

    def __enter__(self) -> FakeVllm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the app -------------------------------------------------------------------------
    def _app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/health", lambda _: Response(status_code=200)),
                Route("/v1/models", self._models),
                Route("/fake/stats", self._stats, methods=["GET", "DELETE"]),
                Route("/v1/chat/completions", self._chat, methods=["POST"]),
            ]
        )

    async def _models(self, _: Request) -> JSONResponse:
        model = {"id": self.model, "object": "model", "owned_by": "vllm", "max_model_len": 8192}
        return JSONResponse({"object": "list", "data": [model]})

    async def _stats(self, request: Request) -> JSONResponse:
        """Counters for a client in another process (the bench); DELETE also zeroes them."""
        stats = {
            "requests": len(self.requests),
            "max_in_flight": self.max_in_flight,
            "in_flight": self.in_flight,
        }
        if request.method == "DELETE":
            self.max_in_flight = self.in_flight
            with self._lock:
                self.requests.clear()
        return JSONResponse(stats)

    async def _chat(self, request: Request) -> Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self._reply(await request.json())
        finally:
            self.in_flight -= 1

    async def _reply(self, body: dict[str, Any]) -> Response:
        with self._lock:
            self.requests.append(body)
            step = self._script.popleft() if self._script else Reply()
        if step.behaviour == "error":
            return _error(step.status, "scripted failure")
        try:
            request_image_and_prompt(body)
        except (KeyError, IndexError, TypeError, StopIteration):
            return _error(400, "messages must hold one user message with an image_url and a text part")
        if body.get("model") != self.model:
            return _error(404, f"The model `{body.get('model')}` does not exist.")
        if step.behaviour == "hang":
            return await self._hang()
        await asyncio.sleep(step.delay_s)
        await self._serve_slot()
        if step.behaviour == "drop":
            return _DroppedResponse()
        if step.behaviour == "malformed":
            return Response('{"choices": [{"message": ', media_type="application/json")
        content, prompt_tokens = (step.content, 905) if step.content is not None else self._next_reply(body)
        if step.behaviour == "length":
            content = truncated(content)
        return JSONResponse(_completion(self.model, content, step.finish_reason, prompt_tokens))

    async def _hang(self) -> Response:
        """Answer nothing until reset() or shutdown, far past any sane client timeout."""
        generation = self._generation
        while generation == self._generation:
            await asyncio.sleep(0.05)
        return _error(503, "hang released")

    async def _serve_slot(self) -> None:
        if self._capacity is None:
            return
        slots, service_s = self._capacity
        if self._slots is None:
            self._slots = asyncio.Semaphore(slots)
        async with self._slots:
            await asyncio.sleep(service_s)

    def _next_reply(self, body: dict[str, Any]) -> tuple[str, int]:
        """(content, prompt tokens): the next recording, or with `simulate_compression` the page's own,
        degraded by its mode."""
        image_uri, prompt = request_image_and_prompt(body)
        prompt_tokens = 905
        if self.simulate_compression:
            image = compression.decode(image_uri)
            mode = compression.mode_of(image, body.get("mm_processor_kwargs"))
            with self._lock:
                index = self._pages.index(image, self._next)
                self._next = max(self._next, index + 1)
            reply = compression.compress(self.replies[index % len(self.replies)], mode)
            prompt_tokens = compression.vision_tokens(mode, image)
        else:
            with self._lock:
                reply = self.replies[self._next % len(self.replies)]
                self._next += 1
        if "<|grounding|>" not in prompt and "<|ref|>" not in prompt:
            reply = _GROUNDING_RE.sub("", reply)  # plain prompts get plain text back, as from the model
        return reply, prompt_tokens


class _DroppedResponse(Response):
    """Promise a body, send half of it and close the connection."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", b"1000")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b'{"choices": [', "more_body": True})
        raise ConnectionResetError("fake vLLM dropped the connection on purpose")


def _error(status: int, message: str) -> JSONResponse:
    payload = {
        "error": {"message": message, "type": "BadRequestError" if status < 500 else "InternalServerError"}
    }
    return JSONResponse(payload, status_code=status)


def _completion(model: str, content: str, finish_reason: str, prompt_tokens: int = 905) -> dict[str, Any]:
    completion_tokens = max(1, len(content) // 4)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "reasoning_content": None},
                "logprobs": None,
                "finish_reason": finish_reason,
                "stop_reason": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def request_image_and_prompt(body: dict[str, Any]) -> tuple[str, str]:
    """(image data URI, prompt text) from a recorded chat request body."""
    parts = body["messages"][0]["content"]
    image = next(p["image_url"]["url"] for p in parts if p["type"] == "image_url")
    text = next(p["text"] for p in parts if p["type"] == "text")
    return image, text


@pytest.fixture(scope="session")
def _fake_vllm_server() -> Iterator[FakeVllm]:
    with FakeVllm() as fake:
        yield fake


@pytest.fixture
def fake_vllm(_fake_vllm_server: FakeVllm) -> Iterator[FakeVllm]:
    """The session's fake vLLM, reset for this test (no script, no capacity, no recorded requests)."""
    _fake_vllm_server.reset()
    yield _fake_vllm_server
    _fake_vllm_server.reset()
