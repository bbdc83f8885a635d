"""/healthz (the process is up), /readyz (DB, store, OCR and LLM servers answer), /metrics.

Where API keys are set, /metrics needs one for every kb (its counts cover all kbs) and /readyz
shows its checks only with a key: both would otherwise tell anyone about every kb's work and the
services behind.
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

import httpx
from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, select

from api import metrics
from api.auth import presented_scope
from api.db import JobRow
from api.deps import KeyDep, PresentedKeyDep, ServicesDep
from api.errors import Forbidden, Unauthorized
from api.responses import content, errors
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


class Readiness(BaseModel):
    status: Literal["ready", "not_ready"]
    checks: dict[str, str] | None = None  # with an API key (or none set): each service's state


@router.get(
    "/readyz",
    response_model=Readiness,
    responses=errors(400) | {503: {"model": Readiness, "description": "a service is not ready"}},
)
async def readyz(services: ServicesDep, presented: PresentedKeyDep) -> JSONResponse:
    checks = await readiness(services)
    ready = all(v.startswith("ok") for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ready else "not_ready"}
    try:
        presented_scope(services.settings, presented)
        body["checks"] = checks
    except Unauthorized:
        pass  # probes get the status; the details need a key
    return JSONResponse(body, status_code=200 if ready else 503)


@router.get(
    "/metrics",
    response_class=Response,
    responses=errors(400, 401, 403) | {200: content("text/plain", "Prometheus text format")},
)
def prometheus(services: ServicesDep, scope: KeyDep) -> Response:
    if scope is not None:
        raise Forbidden("the metrics count every kb's work; read them with a key for every kb (kbs: ['*'])")
    with services.db.session() as s:
        unfinished = s.execute(
            select(func.count()).select_from(JobRow).where(JobRow.state.in_(("queued", "running")))
        )
        metrics.JOBS_UNFINISHED.set(unfinished.scalar_one())
    body, content_type = metrics.render()
    return Response(body, media_type=content_type)
