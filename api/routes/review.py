"""/v1/extract: a schema's fields read from each document of a kb (contract review), with their evidence:
a job per request, its progress as events, its table as JSON or CSV; and the stored table of a kb."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KeyDep, PresentedKeyDep, ServicesDep
from api.extract_jobs import ExtractJobs
from api.responses import EVENT_STREAM, NOT_FOUND, content
from api.review import stored_table
from api.review_table import table_csv
from api.routes.jobs import SlotStream, sse
from api.schemas import ExtractJobPublic

router = APIRouter(tags=["review"])


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    kb: str
    doc_ids: list[str] | None = None
    # a built-in schema's name, or a schema as JSON (`retrieval.review.Schema`)
    schema_: str | dict[str, Any] = Field("contract", alias="schema")


def get_extract_jobs(request: Request) -> ExtractJobs:
    jobs: ExtractJobs = request.app.state.extract_jobs
    return jobs


ExtractJobsDep = Annotated[ExtractJobs, Depends(get_extract_jobs)]


@router.post("/extract", status_code=202, response_model=ExtractJobPublic, responses=NOT_FOUND)
async def extract(jobs: ExtractJobsDep, scope: KeyDep, body: ExtractRequest) -> ExtractJobPublic:
    """Start a job that reads the schema from every asked document not read since it last changed
    (the others' stored results are reused); follow it at `/v1/extract/jobs/{id}/events`, read its table
    at `/v1/extract/jobs/{id}`. A bad schema (422), a kb the key may not read (403) or an unknown
    document (404) is refused before the job starts."""
    return await jobs.start(body.kb, body.doc_ids, body.schema_, scope)


@router.get(
    "/extract/jobs/{job_id}",
    response_model=ExtractJobPublic,
    responses=NOT_FOUND | {200: content("text/csv", "format=csv: the table once done, a row per field")},
)
def get_extract_job(
    jobs: ExtractJobsDep, scope: KeyDep, job_id: str, format: Literal["json", "csv"] = "json"
) -> ExtractJobPublic | Response:
    """The job's progress and, once done, its table (`documents`); CSV a row per document and field."""
    job = jobs.get(job_id, scope)
    if format == "csv":
        return Response(table_csv({"documents": job.documents or []}), media_type="text/csv")
    return job


@router.get(
    "/extract/jobs/{job_id}/events", response_class=Response, responses=NOT_FOUND | {200: EVENT_STREAM}
)
def extract_job_events(
    request: Request,
    services: ServicesDep,
    jobs: ExtractJobsDep,
    scope: KeyDep,
    presented: PresentedKeyDep,
    job_id: str,
) -> StreamingResponse:
    """`progress` events (the job without its table) as each document is done, then one `done` event with
    the terminal state; the table is at `/v1/extract/jobs/{id}`. Streams are bounded as `/v1/jobs`' are."""
    jobs.get(job_id, scope)  # 404 before the stream starts
    client = presented or (request.client.host if request.client else "")
    services.stream_slots.take(client)

    async def events() -> AsyncIterator[str]:
        async for job in jobs.events(job_id, scope):
            yield sse("done" if job.terminal else "progress", job.model_dump(exclude={"documents"}))

    return SlotStream(events(), lambda: services.stream_slots.give_back(client))


@router.get(
    "/extract",
    response_model=None,
    responses=NOT_FOUND | {200: content("text/csv", "format=csv: a row per field")},
)
async def extract_results(
    services: ServicesDep,
    scope: KeyDep,
    kb: str,
    schema: str = Query("contract", description="the built-in schema's name"),
    format: Literal["json", "csv"] = "json",
) -> dict[str, Any] | Response:
    """The stored table: documents not read yet (or changed since) are left out; CSV a row per field."""
    table = stored_table(services, kb, schema, scope)
    return Response(table_csv(table), media_type="text/csv") if format == "csv" else table
