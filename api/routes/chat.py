"""/v1/chat: multi-turn chat over a kb, as JSON or SSE (the OpenAI-compatible facade is in facade.py)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api import metrics
from api.deps import KeyDep, ServicesDep
from api.errors import public_message
from api.responses import CONFLICT, EVENT_STREAM
from api.routes.jobs import SSE_HEADERS, sse
from api.schemas import ChatRequest
from api.services import scope_filters
from ingest.errors import OpticiteError
from retrieval.chat import ChatMessage

log = logging.getLogger(__name__)
router = APIRouter(tags=["chat"])


@router.post("/chat", response_model=None, responses=CONFLICT | {200: EVENT_STREAM})
async def chat(services: ServicesDep, scope: KeyDep, body: ChatRequest) -> dict[str, Any] | StreamingResponse:
    """`stream: true` gives SSE events `token`, `citations`, `done` (or a last `error`); else the Answer JSON."""
    service = await services.chat_service(scope)
    messages = [ChatMessage(role=m.role, content=m.content) for m in body.messages]
    filters = body.filters()
    scope_filters(filters, scope)  # 403 before any stream starts
    if not body.stream:
        return (await service.ask(messages, filters, body.top_k)).to_public()

    async def events() -> AsyncIterator[str]:
        try:
            async for event in service.stream(messages, filters, body.top_k):
                yield sse(str(event.get("type", "message")), event)
        except OpticiteError as exc:  # the 200 is sent: the error becomes the last event
            log.warning("chat stream failed: %s: %s", exc.code, exc.message)
            metrics.HTTP_ERRORS.labels(code=exc.code).inc()
            yield sse(
                "error", {"error": {"code": exc.code, "message": public_message(exc.code, exc.message)}}
            )

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
