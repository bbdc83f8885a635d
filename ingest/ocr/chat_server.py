"""An OpenAI-compatible chat server on vLLM (DeepSeek-OCR, or a general vision model): its settings,
one shared HTTP client, and POST /chat/completions with bounded retries and typed errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import orjson
from pydantic import BaseModel, ConfigDict, Field

from ingest.errors import EngineBadResponse, EngineTimeout, EngineUnavailable

log = logging.getLogger(__name__)


class ChatServerConfig(BaseModel):
    """Where the server is and how hard to try; each engine's config adds its own fields."""

    model_config = ConfigDict(extra="forbid")

    url: str = "http://127.0.0.1:8000/v1"  # OpenAI base URL, ending in /v1
    model: str = ""
    api_key: str | None = None
    concurrency: int = Field(default=64, gt=0)  # pages in flight; vLLM batches them
    connect_timeout_s: float = Field(default=5.0, gt=0)
    read_timeout_s: float = Field(default=300.0, gt=0)
    retries: int = Field(default=3, ge=0)  # extra tries on connection errors, 429 and 5xx
    backoff_s: float = Field(default=0.5, ge=0)
    backoff_max_s: float = Field(default=10.0, ge=0)


class Completion(BaseModel):
    text: str
    finish_reason: str | None
    usage: dict[str, int] | None


class _Message(BaseModel):
    content: str | None = None


class _Choice(BaseModel):
    message: _Message
    finish_reason: str | None = None


class _Reply(BaseModel):
    """vLLM's reply; unknown fields are ignored (strict in, lenient out)."""

    choices: list[_Choice] = Field(min_length=1)
    usage: dict[str, Any] | None = None


POOL_SHARD_CONNECTIONS = 16


def build_client(config: ChatServerConfig) -> httpx.AsyncClient:
    """A client sized for `concurrency` pages in flight, with the configured timeouts."""
    shards = -(-config.concurrency // POOL_SHARD_CONNECTIONS)
    per_shard = -(-config.concurrency // shards)
    limits = httpx.Limits(max_connections=per_shard, max_keepalive_connections=per_shard)
    transport = _ShardedTransport([httpx.AsyncHTTPTransport(limits=limits) for _ in range(shards)])
    return httpx.AsyncClient(timeout=_timeout(config), transport=transport)


class _ShardedTransport(httpx.AsyncBaseTransport):
    """Several small connection pools behind one client, each request to the least busy one.

    httpcore scans every connection of its pool on each request and response, so one pool of 256
    connections spends milliseconds of CPU per page; pools of 16 keep that flat (bench/ocr_throughput.py).
    """

    def __init__(self, shards: list[httpx.AsyncHTTPTransport]) -> None:
        self._shards = shards
        self._busy = [0] * len(shards)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        i = min(range(len(self._shards)), key=self._busy.__getitem__)
        self._busy[i] += 1
        try:
            response = await self._shards[i].handle_async_request(request)
        except BaseException:
            self._busy[i] -= 1
            raise
        response.stream = _ReleasingStream(response.stream, lambda: self._release(i))
        return response

    def _release(self, i: int) -> None:
        self._busy[i] -= 1

    async def aclose(self) -> None:
        for shard in self._shards:
            await shard.aclose()


class _ReleasingStream(httpx.AsyncByteStream):
    def __init__(self, stream: Any, release: Callable[[], None]) -> None:
        self._stream = stream
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._stream.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


def _timeout(config: ChatServerConfig) -> httpx.Timeout:
    return httpx.Timeout(
        connect=config.connect_timeout_s,
        read=config.read_timeout_s,
        write=config.read_timeout_s,
        pool=config.read_timeout_s,
    )


class ChatServer:
    """One chat server: `name` and `section` (its settings section) name it in error messages."""

    def __init__(self, config: ChatServerConfig, client: httpx.AsyncClient, name: str, section: str) -> None:
        self.config = config
        self.name = name
        self.section = section
        self._client = client
        self._headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}

    async def complete(self, body: dict[str, Any]) -> Completion:
        """POST with bounded retries; raises EngineUnavailable, EngineTimeout or EngineBadResponse."""
        url = self.config.url.rstrip("/") + "/chat/completions"
        # orjson writes the megabyte of base64 image in ~0.05 ms (json.dumps: ~1 ms and a thread hop)
        content = orjson.dumps(body)
        headers = self._headers | {"Content-Type": "application/json"}
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            try:
                response = await self._client.post(
                    url, content=content, headers=headers, timeout=_timeout(self.config)
                )
            # Messages reach clients (page quality reasons): the URL and exception text go to the log.
            except (httpx.ReadTimeout, httpx.WriteTimeout, httpx.PoolTimeout) as exc:
                # A page that takes longer than read_timeout_s would take as long again: no retry.
                log.warning("%s at %s did not answer within the timeout: %r", self.name, url, exc)
                raise EngineTimeout(
                    f"{self.name} did not answer within the timeout ({self.section}.read_timeout_s)"
                ) from exc
            except httpx.TransportError as exc:
                if last:
                    log.warning("cannot reach %s at %s after %d tries: %r", self.name, url, attempt + 1, exc)
                    raise EngineUnavailable(
                        f"cannot reach {self.name} after {attempt + 1} tries; "
                        f"check that vLLM is running and the {self.section}.url setting"
                    ) from exc
                await asyncio.sleep(self._backoff(attempt, None))
                continue
            if response.status_code == 429 or response.status_code >= 500:
                if last:
                    log.warning(
                        "%s answered HTTP %d: %s", self.name, response.status_code, _snippet(response)
                    )
                    raise EngineBadResponse(
                        f"{self.name} answered HTTP {response.status_code} after {attempt + 1} tries"
                    )
                await asyncio.sleep(self._backoff(attempt, response.headers.get("retry-after")))
                continue
            if response.status_code >= 400:
                log.warning(
                    "%s refused a request: HTTP %d: %s", self.name, response.status_code, _snippet(response)
                )
                raise EngineBadResponse(f"{self.name} refused the request: HTTP {response.status_code}")
            return _parse_reply(response, self.name)
        raise AssertionError("unreachable: the loop returns or raises")

    def _backoff(self, attempt: int, retry_after: str | None) -> float:
        delay = self.config.backoff_s * 2**attempt
        if retry_after is not None:
            with contextlib.suppress(ValueError):  # an HTTP date: keep our own backoff
                delay = max(delay, float(retry_after))
        return min(delay, self.config.backoff_max_s)


def _parse_reply(response: httpx.Response, name: str) -> Completion:
    try:
        reply = _Reply.model_validate_json(response.content)
    except ValueError as exc:
        log.warning("%s sent a reply that is not a chat completion: %s", name, _snippet(response))
        raise EngineBadResponse(f"{name} sent a reply that is not a chat completion") from exc
    choice = reply.choices[0]
    usage = {k: v for k, v in (reply.usage or {}).items() if isinstance(v, int)}
    return Completion(
        text=choice.message.content or "", finish_reason=choice.finish_reason, usage=usage or None
    )


def _snippet(response: httpx.Response, limit: int = 200) -> str:
    text = response.text.strip().replace("\n", " ")
    return text if len(text) <= limit else text[:limit] + "…"
