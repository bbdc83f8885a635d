"""/healthz (the process is up), /readyz (DB, store, OCR and LLM servers answer), /metrics.

Where API keys are set, /metrics needs one (RequestGuard) and /readyz shows its checks only with
one: both would otherwise tell anyone about every kb's work and the services behind.
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from api import metrics
from api.auth import key_scope
from api.db import JobRow
from api.deps import ServicesDep
from api.errors import Unauthorized
from api.services import Services

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


async def _http_ok(client: httpx.AsyncClient, url: str) -> str:
    try:
        reply = await client.get(url, timeout=3.0)
    except httpx.HTTPError as exc:
        return f"unreachable: {type(exc).__name__}"
    return "ok" if reply.status_code < 500 else f"HTTP {reply.status_code}"


async def readiness(services: Services) -> dict[str, str]:
    settings = services.settings
    checks: dict[str, str] = {}
    try:
        await asyncio.to_thread(services.db.ping)
        checks["db"] = "ok"
    except Exception as exc:  # readiness reports any fault instead of raising
        checks["db"] = f"error: {type(exc).__name__}"
    client = services.components.http_client("probes", 2.0, 3.0)
    store_url = getattr(settings.store, "url", None)
    if store_url:
        checks["store"] = await _http_ok(client, store_url.rstrip("/") + "/readyz")
    else:
        checks["store"] = (
            "ok" if services.components.loaded()["store"] else "ok (embedded, opens on first use)"
        )
    if settings.deepseek is not None:
        checks["ocr"] = await _http_ok(client, settings.deepseek.url.rstrip("/") + "/models")
    if settings.answer.llm.url:
        checks["llm"] = await _http_ok(client, settings.answer.llm.url.rstrip("/") + "/models")
    return checks


@router.get("/readyz")
async def readyz(
    services: ServicesDep,
    authorization: Annotated[str | None, Header()] = None,
    x_api_key: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    checks = await readiness(services)
    ready = all(v.startswith("ok") for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
    try:
        key_scope(services.settings, authorization, x_api_key)
        body["checks"] = checks
    except Unauthorized:
        pass  # probes get the status; the details need a key
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get("/metrics")
def prometheus(services: ServicesDep) -> Response:
    with services.db.session() as s:
        unfinished = s.execute(
            select(func.count()).select_from(JobRow).where(JobRow.state.in_(("queued", "running")))
        )
        metrics.JOBS_UNFINISHED.set(unfinished.scalar_one())
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
