"""/v1/kbs/{kb}/review (the OCR review queue) and /v1/kbs/{kb}/quality (the drift figures)."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api import ocr_review
from api.auth import require_kb, reviewer_name
from api.deps import KeyDep, PresentedKeyDep, ServicesDep
from api.drift import QualityReport, quality_report
from api.responses import CONFLICT, NOT_FOUND, errors
from api.services import Services

router = APIRouter(tags=["ocr review"])


class ReviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reviewer: str | None = Field(None, max_length=200)  # recorded when auth is off; a key's name otherwise


class CorrectRequest(ReviewRequest):
    blocks: list[ocr_review.BlockCorrection] = Field(min_length=1, max_length=500)


def _reviewer(services: Services, presented: str | None, kb: str, asked: str | None) -> str:
    return reviewer_name(services.settings, presented, kb) or asked or "anonymous"


@router.get("/kbs/{kb}/review/next", response_model=ocr_review.ReviewNext, responses=errors(403))
async def review_next(services: ServicesDep, scope: KeyDep, kb: str) -> ocr_review.ReviewNext:
    """The next page waiting for review in the kb (oldest document first, in page order), with its blocks (`item` is null when none waits)."""
    return await asyncio.to_thread(ocr_review.next_page, services, kb, scope)


@router.post(
    "/kbs/{kb}/review/{doc_id}/{page}/accept",
    response_model=ocr_review.Verdict,
    responses=errors(403) | NOT_FOUND | CONFLICT,
)
async def review_accept(
    services: ServicesDep,
    presented: PresentedKeyDep,
    kb: str,
    doc_id: str,
    page: int,
    body: ReviewRequest | None = None,
) -> ocr_review.Verdict:
    """The page's OCR is right as it is (a key with review rights on the kb)."""
    who = _reviewer(services, presented, kb, body.reviewer if body else None)
    return await ocr_review.accept(services, kb, doc_id, page, who)


@router.post(
    "/kbs/{kb}/review/{doc_id}/{page}/correct",
    response_model=ocr_review.Verdict,
    responses=errors(403, 422) | NOT_FOUND | CONFLICT,
)
async def review_correct(
    services: ServicesDep, presented: PresentedKeyDep, kb: str, doc_id: str, page: int, body: CorrectRequest
) -> ocr_review.Verdict:
    """Replace blocks' text; the page is re-chunked and re-embedded, the old text kept."""
    who = _reviewer(services, presented, kb, body.reviewer)
    return await ocr_review.correct(services, kb, doc_id, page, body.blocks, who)


@router.get("/kbs/{kb}/quality", response_model=QualityReport, responses=errors(403))
async def kb_quality(
    services: ServicesDep, scope: KeyDep, kb: str, days: Annotated[int, Query(ge=1, le=366)] = 30
) -> QualityReport:
    """Drift figures per day, engine and mode, and the accept rate over the kb's last reviews."""
    require_kb(scope, kb)

    def read() -> QualityReport:
        with services.db.session() as s:
            return quality_report(s, kb, days, services.settings.review)

    return await asyncio.to_thread(read)
