"""/v1/search and /v1/ask: hybrid search and cited answers, inside the caller's kbs."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import KeyDep, ServicesDep
from api.responses import CONFLICT, NOT_FOUND
from api.schemas import AskRequest, SearchRequest

router = APIRouter(tags=["search"])


@router.post("/search", responses=CONFLICT)
async def search(services: ServicesDep, scope: KeyDep, body: SearchRequest) -> dict[str, Any]:
    hits = await services.search(body.query, body.filters(), body.mode, body.top_k, scope)
    return {"results": [hit.to_public() for hit in hits]}


@router.post("/kbs/{kb}/reindex", status_code=202, responses=NOT_FOUND | CONFLICT)
async def reindex_kb(services: ServicesDep, scope: KeyDep, kb: str) -> dict[str, Any]:
    """Re-embed every document of the kb from its saved layouts with the configured embedder (no OCR)."""
    return {"kb": kb, "jobs": await services.reindex_kb(kb, scope)}


@router.post("/ask", responses=CONFLICT)
async def ask(services: ServicesDep, scope: KeyDep, body: AskRequest) -> dict[str, Any]:
    answer = await services.ask(body.query, body.filters(), body.top_k, scope)
    return answer.to_public()
