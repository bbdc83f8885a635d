"""/v1/jobs: job progress, a server-sent event stream of it, and cancel."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from api.deps import KeyDep, ServicesDep
from api.schemas import JobPublic

router = APIRouter(prefix="/jobs", tags=["jobs"])
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.get("/{job_id}", response_model=JobPublic)
def get_job(services: ServicesDep, scope: KeyDep, job_id: str) -> JobPublic:
    return services.get_job(job_id, scope)


@router.get("/{job_id}/events")
def job_events(services: ServicesDep, scope: KeyDep, job_id: str) -> StreamingResponse:
    """`progress` events while the job runs, then one `done` event with the terminal state."""
    services.get_job(job_id, scope)  # 404 before the stream starts

    async def events() -> AsyncIterator[str]:
        async for job in services.watch_job(job_id, scope):
            yield sse("done" if job.terminal else "progress", job.model_dump())

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


@router.post("/{job_id}/cancel", response_model=JobPublic)
def cancel_job(services: ServicesDep, scope: KeyDep, job_id: str) -> JobPublic:
    return services.cancel_job(job_id, scope)
