"""/v1/jobs: job progress, a server-sent event stream of it, and cancel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.deps import KeyDep, PresentedKeyDep, ServicesDep
from api.responses import EVENT_STREAM, NOT_FOUND
from api.schemas import JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/{job_id}", response_model=JobPublic, responses=NOT_FOUND)
def get_job(services: ServicesDep, scope: KeyDep, job_id: str) -> JobPublic:
    return services.get_job(job_id, scope)


class SlotStream(StreamingResponse):
    """An event stream that gives its slot back however it ends: done, client gone, never started."""

    def __init__(self, content: AsyncIterator[str], release: Callable[[], None]) -> None:
        super().__init__(content, media_type="text/event-stream", headers=SSE_HEADERS)
        self.release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.release()


@router.get("/{job_id}/events", response_class=Response, responses=NOT_FOUND | {200: EVENT_STREAM})
def job_events(
    request: Request, services: ServicesDep, scope: KeyDep, presented: PresentedKeyDep, job_id: str
) -> StreamingResponse:
    """`progress` events while the job runs, then one `done` event with the terminal state.
    Open streams are bounded per API key (per address with no keys) and in total: 429 past that."""
    services.get_job(job_id, scope)  # 404 before the stream starts
    client = presented or (request.client.host if request.client else "")
    services.stream_slots.take(client)

    async def events() -> AsyncIterator[str]:
        async for job in services.watch_job(job_id, scope):
            yield sse("done" if job.terminal else "progress", job.model_dump())

    return SlotStream(events(), lambda: services.stream_slots.give_back(client))


@router.post("/{job_id}/cancel", response_model=JobPublic, responses=NOT_FOUND)
def cancel_job(services: ServicesDep, scope: KeyDep, job_id: str) -> JobPublic:
    return services.cancel_job(job_id, scope)
