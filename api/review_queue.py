"""Which OCR'd pages enter the review queue: every page the quality gate retried or sent to the
fallback engine, and a steady sample of the rest at the kb's rate (`review.rate`, `review.kb_rates`).

The sample is a hash of (document, page), so a resumed or redelivered page decides the same way.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from api.db import ReviewPageRow

ALWAYS = ("retried", "fallback")  # quality statuses that always enter the queue


def review_reason(doc_id: str, page: int, quality_status: str, rate: float) -> str | None:
    """Why the page enters the queue (its quality status, or "sampled"); None when it does not."""
    if quality_status == "failed":
        return None  # nothing to review: a failed page is counted in the figures instead
    if quality_status in ALWAYS:
        return quality_status
    digest = hashlib.sha256(f"{doc_id}:{page}".encode()).digest()
    return "sampled" if int.from_bytes(digest[:8], "big") < rate * 2**64 else None


def enqueue(
    session: Session,
    doc_id: str,
    page: int,
    kb: str,
    reason: str,
    engine: str,
    mode: str | None,
    ocr_at: datetime,
) -> None:
    """Queue the page (again, pending, if it was OCR'd again)."""
    row = session.get(ReviewPageRow, (doc_id, page)) or ReviewPageRow(doc_id=doc_id, page=page)
    row.kb, row.reason, row.engine, row.mode, row.ocr_at = kb, reason, engine, mode, ocr_at
    row.state, row.reviewer, row.reviewed_at, row.edit_distance = "pending", None, None, None
    session.add(row)


def release_interrupted(session: Session) -> None:
    """Pages left `correcting` by a process that stopped mid-correction wait for review again (start-up)."""
    stmt = update(ReviewPageRow).where(ReviewPageRow.state == "correcting")
    session.execute(stmt.values(state="pending"))
