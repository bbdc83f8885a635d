"""Multi-turn chat over a knowledge base, streamed as events, and the OpenAI-compatible facade.

`ChatService` condenses a follow-up into a standalone question (by the LLM when one is
configured), searches, answers and streams `token` / `citations` / `done` events. The facade
functions turn a `/v1/chat/completions` request (model = knowledge base, "kb:NAME" or "NAME")
into an OpenAI response or chunk stream whose message carries [n] markers plus `citations`.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from ingest.errors import OpticiteError
from retrieval.answer import Answer, Answerer, Event, stream_text, unmentioned_refusal
from retrieval.errors import BadChatRequest
from retrieval.hits import SearchFilters, SearchHit, SearchMode
from retrieval.llm import LlmClient, Message
from retrieval.sentences import terms

log = logging.getLogger(__name__)

# a last message leans on the previous one when it has too few content terms of its own or opens
# or refers back like a follow-up ("and the renewal?", "when does it end?")
FOLLOW_UP_TERMS = 2
FOLLOW_UP = re.compile(r"^\s*(and|also|what about|how about)\b|\b(it|its|they|them|their)\b", re.IGNORECASE)

CONDENSE_PROMPT = (
    "Rewrite the user's last message as one standalone question that can be understood without "
    "the conversation, keeping names, dates and numbers. Reply with the question only."
)


class ChatMessage(BaseModel):
    # OpenAI clients send fields we do not use (name, tool_calls): ignoring them is compatibility
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    @property
    def text(self) -> str:
        """The content as plain text; content parts of type "text" are joined."""
        if isinstance(self.content, list):
            return " ".join(str(p.get("text", "")) for p in self.content if p.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The body of `POST /v1/chat/completions`; sampling fields (temperature, top_p...) are ignored."""

    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False


class ChatConfig(BaseModel):
    top_k: int = 8
    mode: SearchMode = "hybrid"
    history_messages: int = 8  # the most recent messages the LLM sees when condensing


class Searcher(Protocol):
    def search(
        self, query: str, filters: SearchFilters, mode: SearchMode = "hybrid", top_k: int = 10
    ) -> list[SearchHit]: ...

    def unmentioned(self, question: str, hits: Sequence[SearchHit]) -> list[str]: ...


# --- standalone question ----------------------------------------------------------------------


def user_turns(messages: Sequence[ChatMessage]) -> list[str]:
    turns = [m.text.strip() for m in messages if m.role == "user" and m.text.strip()]
    if not turns:
        raise BadChatRequest(
            "the conversation has no user message; send at least one message with role 'user'"
        )
    return turns


def heuristic_question(messages: Sequence[ChatMessage]) -> str:
    """The last user message; a terse follow-up ("and the renewal?") keeps the previous one as context."""
    turns = user_turns(messages)
    last = turns[-1]
    if len(turns) > 1 and (len(terms(last)) < FOLLOW_UP_TERMS or FOLLOW_UP.search(last)):
        return f"{turns[-2]} {last}"
    return last


def build_condense_messages(messages: Sequence[ChatMessage], config: ChatConfig) -> list[Message]:
    """The prompt asking the LLM for a standalone question (pure, so tests read what is sent)."""
    recent = [m for m in messages if m.role in ("user", "assistant") and m.text.strip()]
    transcript = "\n".join(f"{m.role}: {m.text.strip()}" for m in recent[-config.history_messages :])
    return [
        {"role": "system", "content": CONDENSE_PROMPT},
        {"role": "user", "content": f"Conversation:\n{transcript}\n\nStandalone question:"},
    ]


async def standalone_question(
    messages: Sequence[ChatMessage], config: ChatConfig, llm: LlmClient | None = None
) -> str:
    """The question to search and answer: condensed by the LLM for follow-ups, else the heuristic."""
    if llm is None or len(user_turns(messages)) < 2:
        return heuristic_question(messages)
    condensed = (await llm.complete(build_condense_messages(messages, config))).strip().strip('"')
    return condensed or heuristic_question(messages)


# --- the service ------------------------------------------------------------------------------


class ChatService:
    """Search + answer for a conversation; `llm` (optional) condenses follow-ups."""

    def __init__(
        self, kb: Searcher, answerer: Answerer, config: ChatConfig, llm: LlmClient | None = None
    ) -> None:
        self.kb = kb
        self.answerer = answerer
        self.config = config
        self.llm = llm

    async def _retrieve(
        self, messages: Sequence[ChatMessage], filters: SearchFilters, top_k: int | None
    ) -> tuple[str, list[SearchHit], Answer | None]:
        """The standalone question, its hits, and the refusal when it asks about a name or year the hits'
        documents never write (`retrieval.unmentioned`)."""
        question = await standalone_question(messages, self.config, self.llm)

        # embedding and the embedded store are CPU/disk work: keep the event loop free
        def search() -> tuple[list[SearchHit], list[str]]:
            hits = self.kb.search(question, filters, self.config.mode, top_k or self.config.top_k)
            return hits, self.kb.unmentioned(question, hits)

        hits, missing = await asyncio.to_thread(search)
        return question, hits, unmentioned_refusal(self.answerer.config, missing) if missing else None

    async def ask(
        self, messages: Sequence[ChatMessage], filters: SearchFilters, top_k: int | None = None
    ) -> Answer:
        """`top_k` (the request's) overrides the configured number of chunks searched."""
        question, hits, refused = await self._retrieve(messages, filters, top_k)
        return refused or await self.answerer.answer(question, hits)

    async def stream(
        self, messages: Sequence[ChatMessage], filters: SearchFilters, top_k: int | None = None
    ) -> AsyncIterator[Event]:
        question, hits, refused = await self._retrieve(messages, filters, top_k)
        events = (
            stream_text(refused, self.answerer.config.stream_piece_words)
            if refused
            else self.answerer.stream(question, hits)
        )
        async for event in events:
            yield event


# --- OpenAI-compatible facade -----------------------------------------------------------------

KB_PREFIX = "kb:"


def kb_from_model(model: str) -> str:
    """The knowledge base a facade `model` names: "kb:contracts" or "contracts"."""
    name = model.removeprefix(KB_PREFIX).strip()
    if not name:
        raise BadChatRequest("model must name a knowledge base, e.g. 'kb:contracts' or 'contracts'")
    return name


def completion_response(answer: Answer, model: str, completion_id: str, created: int) -> dict[str, Any]:
    """A `chat.completion` object whose message is the answer, plus `citations` and `flags`."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": answer.answer}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        "citations": [c.to_public() for c in answer.citations],
        "flags": answer.flags,
    }


def _chunk(model: str, completion_id: str, created: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }


async def completion_chunks(
    events: AsyncIterator[Event], model: str, completion_id: str, created: int
) -> AsyncIterator[dict[str, Any]]:
    """`chat.completion.chunk` objects: role, content deltas, then a final chunk with `citations`.

    An error after the first chunk (the 200 is sent by then) ends the stream with a final chunk
    carrying OpenAI's `error: {message, type, param, code}`, which OpenAI clients raise as an APIError."""
    yield _chunk(model, completion_id, created, {"role": "assistant", "content": ""})
    final: dict[str, Any] = {"citations": [], "flags": []}
    try:
        async for event in events:
            if event["type"] == "token":
                yield _chunk(model, completion_id, created, {"content": event["text"]})
            elif event["type"] == "citations":
                final = {"citations": event["citations"], "flags": event["flags"]}
    except OpticiteError as exc:
        log.warning("chat stream failed: %s: %s", exc.code, exc.message)
        kind = "server_error" if exc.status >= 500 else "invalid_request_error"
        error = {"message": exc.message, "type": kind, "param": None, "code": exc.code}
        yield _chunk(model, completion_id, created, {}) | {"error": error}
        return
    last = _chunk(model, completion_id, created, {})
    last["choices"][0]["finish_reason"] = "stop"
    yield last | final


async def sse_encode(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
    """Server-sent events as OpenAI sends them, ending with `data: [DONE]`."""
    async for chunk in chunks:
        yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
    yield "data: [DONE]\n\n"


def _ids() -> tuple[str, int]:
    return f"chatcmpl-{uuid.uuid4().hex}", int(time.time())


async def complete_chat(request: ChatCompletionRequest, service: ChatService) -> dict[str, Any]:
    """The facade for `stream: false`."""
    filters = SearchFilters(kb=kb_from_model(request.model))
    answer = await service.ask(request.messages, filters)
    return completion_response(answer, request.model, *_ids())


def stream_chat(request: ChatCompletionRequest, service: ChatService) -> AsyncIterator[str]:
    """The facade for `stream: true`: SSE text for a `text/event-stream` response."""
    filters = SearchFilters(kb=kb_from_model(request.model))
    events = service.stream(request.messages, filters)
    return sse_encode(completion_chunks(events, request.model, *_ids()))
