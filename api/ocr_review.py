"""OCR review: the next page of a kb's queue, and a reviewer's verdict on it (accept, or correct blocks).

A correction replaces the blocks' text in the page's saved layout (the old text stays in
`review_corrections`), then re-chunks the document and re-embeds only the chunks that changed
(`Pipeline.reindex_page`). Each verdict updates the drift figures and may open the drift alert
(`api.drift`), which sends a signed `drift.alert` webhook.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from rapidfuzz.distance import Levenshtein
from sqlalchemy import select, update

from api import metrics
from api.auth import require_kb
from api.db import DocumentRow, ReviewCorrectionRow, ReviewPageRow, latest_job, utcnow
from api.drift import ReviewWindow, update_alert
from api.errors import ApiError, Conflict, NotFound
from api.schemas import TERMINAL_JOB_STATES
from api.services import Kbs, Services
from ingest.layout import PageLayout


class NotInReview(NotFound):
    code = "not_in_review"


class BadCorrection(ApiError):
    code = "bad_correction"
    status = 422


class BlockCorrection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    block: int = Field(ge=0)  # index in the page's blocks, as `review next` lists them
    markdown: str


class ReviewBlock(BaseModel):
    index: int
    kind: str
    markdown: str
    bbox: list[float]


class ReviewItem(BaseModel):
    kb: str
    doc_id: str
    filename: str
    page: int
    reason: str  # sampled, retried, fallback
    engine: str
    mode: str | None
    blocks: list[ReviewBlock]


class ReviewNext(BaseModel):
    pending: int
    item: ReviewItem | None  # None: the queue is empty


class Verdict(BaseModel):
    doc_id: str
    page: int
    state: str  # accepted, corrected
    reviewer: str
    edit_distance: int
    chunks: int | None = None  # the document's chunks after a correction
    window: ReviewWindow


def _item(row: ReviewPageRow, filename: str, layout: PageLayout) -> ReviewItem:
    blocks = [
        ReviewBlock(
            index=i, kind=b.kind, markdown=b.markdown, bbox=[b.bbox.x0, b.bbox.y0, b.bbox.x1, b.bbox.y1]
        )
        for i, b in enumerate(layout.blocks)
    ]
    return ReviewItem(
        kb=row.kb,
        doc_id=row.doc_id,
        filename=filename,
        page=row.page,
        reason=row.reason,
        engine=row.engine,
        mode=row.mode,
        blocks=blocks,
    )


def next_page(services: Services, kb: str, scope: Kbs) -> ReviewNext:
    """The first pending page of the kb's queue: oldest document first, in page order."""
    require_kb(None if scope is None else list(scope), kb)
    with services.db.session() as s:
        pending = s.execute(
            select(ReviewPageRow, DocumentRow.filename)
            .join(DocumentRow, DocumentRow.id == ReviewPageRow.doc_id)
            .where(ReviewPageRow.kb == kb, ReviewPageRow.state == "pending")
            .order_by(DocumentRow.created, ReviewPageRow.doc_id, ReviewPageRow.page)
        ).all()
    for row, filename in pending:
        layout = services.files(row.doc_id).saved_layout(row.page)
        if layout is not None:
            return ReviewNext(pending=len(pending), item=_item(row, filename, layout))
    return ReviewNext(pending=len(pending), item=None)


def _claim(services: Services, kb: str, doc_id: str, page: int, state: str) -> ReviewPageRow:
    """Move the page from pending to `state` (one reviewer wins); NotInReview / Conflict otherwise."""
    with services.db.session() as s:
        row = s.get(ReviewPageRow, (doc_id, page))
        if row is None or row.kb != kb:
            raise NotInReview(f"page {page} of document {doc_id} is not in kb {kb!r}'s review queue")
        stmt = update(ReviewPageRow).where(
            ReviewPageRow.doc_id == doc_id, ReviewPageRow.page == page, ReviewPageRow.state == "pending"
        )
        if s.execute(stmt.values(state=state)).rowcount != 1:  # type: ignore[attr-defined]
            raise Conflict(f"page {page} of document {doc_id} was already reviewed ({row.state})")
        s.expunge(row)
        return row


def _record(
    services: Services, row: ReviewPageRow, state: str, reviewer: str, distance: int
) -> tuple[ReviewWindow, bool]:
    """Store the verdict; the kb's window, and whether this verdict opened the drift alert."""
    with services.db.session() as s:
        s.execute(
            update(ReviewPageRow)
            .where(ReviewPageRow.doc_id == row.doc_id, ReviewPageRow.page == row.page)
            .values(state=state, reviewer=reviewer, reviewed_at=utcnow(), edit_distance=distance)
        )
        window, opened = update_alert(s, row.kb, services.settings.review)
    labels = {"kb": row.kb, "engine": row.engine, "mode": row.mode or ""}
    metrics.REVIEWS.labels(verdict=state, **labels).inc()
    if distance:
        metrics.EDIT_DISTANCE.labels(**labels).inc(distance)
    return window, opened


def _alert(services: Services, kb: str, window: ReviewWindow, opened: bool) -> None:
    url = services.settings.review.alert_webhook_url
    if opened and url:
        payload: dict[str, Any] = {"kb": kb, "window": window.model_dump(mode="json")}
        services.steps.webhooks.send_event(url, kb, "drift.alert", payload)


async def accept(services: Services, kb: str, doc_id: str, page: int, reviewer: str) -> Verdict:
    row = await asyncio.to_thread(_claim, services, kb, doc_id, page, "accepted")
    window, opened = await asyncio.to_thread(_record, services, row, "accepted", reviewer, 0)
    _alert(services, kb, window, opened)
    return Verdict(
        doc_id=doc_id, page=page, state="accepted", reviewer=reviewer, edit_distance=0, window=window
    )


def corrected_layout(layout: PageLayout, corrections: list[BlockCorrection]) -> tuple[PageLayout, list[int]]:
    """The layout with the blocks' new text, and each correction's character edit distance.

    A corrected block loses its line boxes (they carried the old text): its box is what cites it."""
    blocks = list(layout.blocks)
    distances = []
    for fix in corrections:
        if fix.block >= len(blocks):
            raise BadCorrection(f"page {layout.page} has {len(blocks)} blocks; there is no block {fix.block}")
        old = blocks[fix.block]
        distances.append(Levenshtein.distance(old.markdown, fix.markdown))
        blocks[fix.block] = old.model_copy(update={"markdown": fix.markdown, "lines": [], "html": None})
    return layout.model_copy(update={"blocks": blocks}), distances


async def correct(
    services: Services, kb: str, doc_id: str, page: int, corrections: list[BlockCorrection], reviewer: str
) -> Verdict:
    """Replace the blocks' text, re-index the changed chunks, record who changed what."""
    if not corrections:
        raise BadCorrection("send at least one block correction, or accept the page")
    async with services.review_lock:  # one page's re-index at a time: each reads the others' layouts
        row = await asyncio.to_thread(_claim, services, kb, doc_id, page, "correcting")
        try:
            chunks, distances, old = await _reindex(services, row, corrections)
        except BaseException:
            await asyncio.to_thread(_release, services, row)
            raise
    state = "corrected" if sum(distances) else "accepted"

    def store() -> tuple[ReviewWindow, bool]:
        with services.db.session() as s:
            s.add_all(
                ReviewCorrectionRow(
                    doc_id=doc_id,
                    page=page,
                    block=fix.block,
                    old_markdown=before,
                    new_markdown=fix.markdown,
                    edit_distance=d,
                    reviewer=reviewer,
                )
                for fix, before, d in zip(corrections, old, distances, strict=True)
            )
            s.get_one(DocumentRow, doc_id).chunks = chunks
        return _record(services, row, state, reviewer, sum(distances))

    window, opened = await asyncio.to_thread(store)
    _alert(services, kb, window, opened)
    return Verdict(
        doc_id=doc_id,
        page=page,
        state=state,
        reviewer=reviewer,
        edit_distance=sum(distances),
        chunks=chunks,
        window=window,
    )


def _release(services: Services, row: ReviewPageRow) -> None:
    with services.db.session() as s:
        s.execute(
            update(ReviewPageRow)
            .where(ReviewPageRow.doc_id == row.doc_id, ReviewPageRow.page == row.page)
            .values(state="pending")
        )


def _document(services: Services, doc_id: str) -> tuple[str, list[str], int]:
    """(filename, tags, pages) of a document no job is processing now; Conflict otherwise."""
    with services.db.session() as s:
        doc = s.get_one(DocumentRow, doc_id)
        job = latest_job(s, doc_id)
        if job is not None and job.state not in TERMINAL_JOB_STATES:
            raise Conflict(f"document {doc_id} is being processed (job {job.id}); correct it once that ends")
        return doc.filename, list(doc.tags or []), doc.pages


async def _reindex(
    services: Services, row: ReviewPageRow, corrections: list[BlockCorrection]
) -> tuple[int, list[int], list[str]]:
    """The corrected page saved and re-indexed: (the document's chunks, distances, old texts)."""
    files = services.files(row.doc_id)
    filename, tags, pages = await asyncio.to_thread(_document, services, row.doc_id)
    layout = await asyncio.to_thread(files.saved_layout, row.page)
    if layout is None:
        raise NotInReview(f"page {row.page} of document {row.doc_id} has no saved layout")
    new, distances = corrected_layout(layout, corrections)
    old = [layout.blocks[fix.block].markdown for fix in corrections]
    pipeline = await asyncio.to_thread(services.components.pipeline, services.settings.page_concurrency())
    chunks = await asyncio.to_thread(
        pipeline.reindex_page, row.doc_id, row.kb, filename, files, tags, new, pages
    )
    return chunks, distances, old
