"""/v1/kbs/{kb}/calibration: the kb's DeepSeek mode per page kind, measured on its own pages and saved."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_kb
from api.calibration import (
    MAX_SAMPLE,
    calibrate_kb,
    calibration,
    kb_sample,
    read_calibration,
    save_calibration,
)
from api.deps import KeyDep, ServicesDep
from api.errors import public_message
from api.responses import CONFLICT, EVENT_STREAM, NOT_FOUND
from api.routes.jobs import SSE_HEADERS, sse
from api.schemas import CalibrationPublic
from ingest.calibration import DEFAULT_TOLERANCE, CalibrationReport
from ingest.errors import OpticiteError
from ingest.ocr.engine import PageKind, ResolutionMode

log = logging.getLogger(__name__)
router = APIRouter(tags=["calibration"])


class CalibrateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sample: int = Field(10, ge=1, le=MAX_SAMPLE)  # pages, spread over the kb's documents
    tolerance: float = Field(DEFAULT_TOLERANCE, ge=0.0, le=1.0)  # CER above the best that is as good
    save: bool = False  # the recommendation becomes the kb's default
    stream: bool = False  # SSE: `page` ({done, total}) after each page's reads, then `done` (the reply)


class CalibrationSave(BaseModel):
    model_config = ConfigDict(extra="forbid")

    modes: dict[PageKind, ResolutionMode]
    report: CalibrationReport | None = None  # the calibration they come from (`opticite calibrate --files`)


@router.get("/kbs/{kb}/calibration", response_model=CalibrationPublic)
def get_calibration(services: ServicesDep, scope: KeyDep, kb: str) -> CalibrationPublic:
    """The kb's saved default modes and the calibration they came from (no modes: never saved)."""
    require_kb(scope, kb)
    return read_calibration(services, kb)


@router.put("/kbs/{kb}/calibration", response_model=CalibrationPublic)
def put_calibration(
    services: ServicesDep, scope: KeyDep, kb: str, body: CalibrationSave
) -> CalibrationPublic:
    """Save default modes per page kind for the kb's uploads that name no mode."""
    require_kb(scope, kb)
    return save_calibration(services, kb, body.modes, body.report)


@router.post(
    "/kbs/{kb}/calibration",
    response_model=None,
    responses=NOT_FOUND | CONFLICT | {200: EVENT_STREAM},
)
async def run_calibration(
    services: ServicesDep, scope: KeyDep, kb: str, body: CalibrateRequest
) -> CalibrationPublic | StreamingResponse:
    """Read a sample of the kb's pages in every DeepSeek mode and recommend one per page kind."""
    require_kb(scope, kb)
    if not body.stream:
        return await calibrate_kb(services, kb, body.sample, body.tolerance, body.save)
    calibration(services)  # no DeepSeek (409) or no documents (404) answer before the stream starts
    kb_sample(services, kb, body.sample)
    steps: asyncio.Queue[tuple[int, int]] = asyncio.Queue()
    task = asyncio.create_task(
        calibrate_kb(
            services, kb, body.sample, body.tolerance, body.save, lambda *step: steps.put_nowait(step)
        )
    )

    async def events() -> AsyncIterator[str]:
        try:
            while not task.done() or not steps.empty():
                getter = asyncio.ensure_future(steps.get())
                await asyncio.wait({getter, task}, return_when=asyncio.FIRST_COMPLETED)
                if getter.done():
                    done, total = getter.result()
                    yield sse("page", {"done": done, "total": total})
                else:
                    getter.cancel()
            yield sse("done", task.result().model_dump(mode="json"))
        except OpticiteError as exc:  # the 200 is sent: the error becomes the last event
            log.warning("calibration stream failed: %s: %s", exc.code, exc.message)
            yield sse(
                "error", {"error": {"code": exc.code, "message": public_message(exc.code, exc.message)}}
            )
        finally:
            task.cancel()

    return StreamingResponse(events(), media_type="text/event-stream", headers=SSE_HEADERS)
