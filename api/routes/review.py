"""/v1/extract: a schema's fields read from each document of a kb (contract review), with their evidence."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api.deps import KeyDep, ServicesDep
from api.responses import CONFLICT, NOT_FOUND, content
from api.review import extract_table, stored_table
from api.review_table import table_csv

router = APIRouter(tags=["review"])


class ExtractRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)

    kb: str
    doc_ids: list[str] | None = None
    # a built-in schema's name, or a schema as JSON (`retrieval.review.Schema`)
    schema_: str | dict[str, Any] = Field("contract", alias="schema")


@router.post("/extract", responses=NOT_FOUND | CONFLICT)
async def extract(services: ServicesDep, scope: KeyDep, body: ExtractRequest) -> dict[str, Any]:
    """Read the schema from every asked document not read since it last changed; the whole table."""
    return await extract_table(services, body.kb, body.doc_ids, body.schema_, scope)


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
