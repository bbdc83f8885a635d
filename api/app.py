"""The FastAPI app: `create_app(settings)` builds services in the lifespan and mounts the routes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Route

from api import metrics
from api.errors import INTERNAL_ERROR, SERVICE_FAULTS, public_message
from api.extract_jobs import ExtractJobs
from api.guard import BodyOverLimit, RequestGuard, error_reply
from api.mcp_server import McpEndpoint
from api.responses import EDGE, OPENAI_EDGE
from api.routes import (
    calibration,
    chat,
    documents,
    facade,
    health,
    jobs,
    ocr,
    ocr_review,
    review,
    samples,
    search,
)
from api.services import open_services
from api.settings import Settings, load_settings
from ingest.errors import OpticiteError

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "static"
PLACEHOLDER = (
    "<!doctype html><title>opticite</title><h1>opticite</h1>"
    "<p>The API is under /v1, described at <a href='/openapi.json'>/openapi.json</a>.</p>"
)


def error_body(exc: Exception) -> tuple[int, str, str]:
    """(status, code, message) for any exception; unknown ones never leak a traceback."""
    if isinstance(exc, OpticiteError):
        if exc.code in SERVICE_FAULTS:
            log.warning("%s: %s", exc.code, exc.message)
        return exc.status, exc.code, public_message(exc.code, exc.message)
    if isinstance(exc, RequestValidationError | ValidationError):
        details = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        return 422, "invalid_request", details or "the request is not valid"
    if isinstance(exc, BodyOverLimit):  # raised by RequestGuard while the body streams in
        return exc.status_code, exc.code, str(exc.detail)
    if isinstance(exc, HTTPException) and exc.status_code == 400:  # FastAPI could not parse the body
        return 400, "bad_body", "the request body could not be parsed; send valid JSON (multipart on uploads)"
    if isinstance(exc, HTTPException):
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return exc.status_code, code, str(exc.detail)
    log.exception("unhandled error", exc_info=exc)
    return 500, "internal_error", INTERNAL_ERROR


async def handle_error(request: Request, exc: Exception) -> JSONResponse:
    status, code, message = error_body(exc)
    if facade.serves(request.url.path):  # OpenAI clients read their own error shape
        metrics.HTTP_ERRORS.labels(code=code).inc()
        return facade.error_response(status, code, message, exc)
    return error_reply(status, code, message)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or load_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with open_services(settings) as services, ExtractJobs(services).running() as extract_jobs:
            app.state.services, app.state.extract_jobs = services, extract_jobs
            async with mcp.running():
                yield

    # no /docs: Swagger UI loads its script from a CDN onto the origin that keeps the API key
    app = FastAPI(title="opticite", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    mcp = McpEndpoint(lambda: app.state.services)
    app.router.routes.append(Route("/mcp", mcp))  # the MCP tools over streamable HTTP
    for module in (documents, jobs, search, chat, facade, ocr, samples, review, calibration, ocr_review):
        app.include_router(module.router, prefix="/v1", responses=OPENAI_EDGE if module is facade else EDGE)
    app.add_middleware(RequestGuard, settings=settings)
    app.include_router(health.router)
    for exc_type in (
        OpticiteError,
        RequestValidationError,
        ValidationError,
        HTTPException,
        Exception,
    ):
        app.add_exception_handler(exc_type, handle_error)
    if (STATIC_DIR / "index.html").is_file():
        app.mount("/", StaticFiles(directory=STATIC_DIR, html=True), name="ui")
    else:
        app.add_api_route("/", lambda: HTMLResponse(PLACEHOLDER), include_in_schema=False)
    return app
