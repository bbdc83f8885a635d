"""/v1/extract: a schema's fields read from each document of a kb (contract review), with their evidence."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KeyDep, ServicesDep
from api.errors import public_message
from api.responses import CONFLICT, EVENT_STREAM, NOT_FOUND, content
from api.review import extract_progress, extract_table, resolve_schema, stored_table, table_of
from api.review_table import table_csv
from api.routes.jobs import SSE_HEADERS, sse
from ingest.errors import OpticiteError

log = logging.getLogger(__name__)
router = APIRouter(tags=["review"])


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    kb: str
    doc_ids: list[str] | None = None
    # a built-in schema's name, or a schema as JSON (`retrieval.review.Schema`)
    schema_: str | dict[str, Any] = Field("contract", alias="schema")
    stream: bool = False  # SSE: a `document` event as each document is read, then `done` with the table


@router.post("/extract", response_model=None, responses=NOT_FOUND | CONFLICT | {200: EVENT_STREAM})
async def extract(
    services: ServicesDep, scope: KeyDep, body: ExtractRequest
) -> dict[str, Any] | StreamingResponse:
    """Read the schema from every asked document not read since it last changed; the whole table.
    With `stream: true`, SSE events `document` ({n, total, read, document}) and `done` (the table)."""
    if not body.stream:
        return await extract_table(services, body.kb, body.doc_ids, body.schema_, scope)
    schema = resolve_schema(body.schema_)  # a bad schema is a 422 before the stream starts
    steps = extract_progress(services, body.kb, body.doc_ids, body.schema_, scope)
    first = await anext(steps, None)  # so do a kb the key may not read and an unknown document

    async def events() -> AsyncIterator[str]:
        done = [] if first is None else [first]
        try:
            if first is not None:
                yield sse("document", first._asdict())
            async for step in steps:
                done.append(step)
                yield sse("document", step._asdict())
        except OpticiteError as exc:  # the 200 is sent: the error becomes the last event
            log.warning("extract stream failed: %s: %s", exc.code, exc.message)
            yield sse(
                "error", {"error": {"code": exc.code, "message": public_message(exc.code, exc.message)}}
            )
            return
        yield sse("done", table_of(schema.name, done))

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)


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
