"""A client for any OpenAI-compatible `/v1/chat/completions` server (vLLM, hosted APIs).

Timeouts on connect and read, bounded retries with exponential backoff on connection errors,
timeouts, 429 and 5xx (never on other 4xx); streaming reads the server's SSE `data:` lines.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from pydantic import BaseModel

from retrieval.errors import LlmBadResponse, LlmTimeout, LlmUnavailable, RetrievalServiceError

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class LlmConfig(BaseModel):
    url: str = ""  # base URL up to and including /v1, e.g. http://127.0.0.1:8000/v1
    model: str = ""
    api_key: str | None = None
    connect_timeout_s: float = 5.0
    read_timeout_s: float = 60.0
    retries: int = 2  # extra attempts after the first
    backoff_s: float = 0.5  # doubled after each failed attempt
    max_tokens: int = 512
    temperature: float = 0.0


Message = dict[str, str]


def build_chat_request(messages: list[Message], config: LlmConfig, stream: bool = False) -> dict[str, Any]:
    """The JSON body sent to `/chat/completions`."""
    return {
        "model": config.model,
        "messages": messages,
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "stream": stream,
    }


class LlmClient:
    """Chat completions over one shared `httpx.AsyncClient`."""

    def __init__(self, config: LlmConfig, client: httpx.AsyncClient) -> None:
        if not config.url:
            raise LlmUnavailable("no LLM is configured: set the answer section's llm.url and llm.model")
        self.config = config
        self.client = client

    @property
    def _endpoint(self) -> str:
        return self.config.url.rstrip("/") + "/chat/completions"

    def _timeout(self) -> httpx.Timeout:
        c = self.config
        return httpx.Timeout(c.read_timeout_s, connect=c.connect_timeout_s)

    def _headers(self) -> dict[str, str]:
        key = self.config.api_key
        return {"Authorization": f"Bearer {key}"} if key else {}

    async def complete(self, messages: list[Message]) -> str:
        """The assistant message's content of a non-streaming completion."""
        body = build_chat_request(messages, self.config, stream=False)
        async with self._send(body) as response:
            await response.aread()
        try:
            return str(response.json()["choices"][0]["message"]["content"] or "")
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise LlmBadResponse(f"the LLM server sent an unexpected reply: {response.text[:200]!r}") from exc

    async def stream(self, messages: list[Message]) -> AsyncIterator[str]:
        """Content pieces as the server streams them."""
        body = build_chat_request(messages, self.config, stream=True)
        async with self._send(body) as response:
            try:
                async for line in response.aiter_lines():
                    piece = _parse_sse_line(line)
                    if piece is None:
                        break
                    if piece:
                        yield piece
            except httpx.TimeoutException as exc:
                raise LlmTimeout(
                    f"the LLM server stopped streaming for {self.config.read_timeout_s}s"
                ) from exc
            except httpx.TransportError as exc:
                raise LlmUnavailable(f"the LLM stream broke off: {exc}") from exc

    @asynccontextmanager
    async def _send(self, body: dict[str, Any]) -> AsyncIterator[httpx.Response]:
        """An open response with a 2xx status, after retries; raises a typed error otherwise."""
        delay = self.config.backoff_s
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            request = self.client.build_request(
                "POST", self._endpoint, json=body, headers=self._headers(), timeout=self._timeout()
            )
            try:
                response = await self.client.send(request, stream=True)
            except httpx.TransportError as exc:
                if last:
                    raise _transport_error(exc, self._endpoint) from exc
                log.warning("LLM request failed (%s), retrying in %.2fs", exc, delay)
            else:
                if response.status_code < 400:
                    try:
                        yield response
                    finally:
                        await response.aclose()
                    return
                await response.aread()
                await response.aclose()
                if last or response.status_code not in RETRY_STATUSES:
                    raise LlmBadResponse(
                        f"the LLM server answered HTTP {response.status_code}: {response.text[:200]!r}"
                    )
                log.warning("LLM server answered %s, retrying in %.2fs", response.status_code, delay)
            await asyncio.sleep(delay)
            delay *= 2


def _transport_error(exc: httpx.TransportError, endpoint: str) -> RetrievalServiceError:
    if isinstance(exc, httpx.TimeoutException):
        return LlmTimeout(f"the LLM server at {endpoint} did not answer in time; raise llm.read_timeout_s")
    return LlmUnavailable(f"cannot reach the LLM server at {endpoint}: {exc}; check llm.url")


def _parse_sse_line(line: str) -> str | None:
    """The content delta of one SSE line; '' for lines without content, None at [DONE]."""
    if not line.startswith("data:"):
        return ""
    data = line[len("data:") :].strip()
    if data == "[DONE]":
        return None
    try:
        choices = json.loads(data).get("choices") or [{}]
        return str((choices[0].get("delta") or {}).get("content") or "")
    except (ValueError, AttributeError) as exc:
        raise LlmBadResponse(f"the LLM server streamed a malformed event: {data[:200]!r}") from exc
