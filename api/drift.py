"""OCR drift figures per day, engine and mode, and the alert when a kb's reviews turn bad.

Pages count by the day they were OCR'd (`pages.ocr_at`); reviews count by the day the page they
judge was OCR'd, so a bad day of recognition shows on that day however late it is reviewed. The
alert looks at the kb's last `review.alert_window` verdicts: below `review.alert_accept_rate` it
opens (one signed `drift.alert` webhook), and it closes once the rate is back.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api import metrics
from api.db import DocumentRow, DriftAlertRow, PageRow, ReviewPageRow, utcnow
from api.settings import ReviewSettings

VERDICTS = ("accepted", "corrected")  # a page being corrected right now has none yet


class DriftRow(BaseModel):
    day: str  # YYYY-MM-DD, UTC
    engine: str
    mode: str | None
    pages: int  # pages OCR'd
    failed: int
    retry_rate: float | None  # share of pages the quality gate retried
    fallback_rate: float | None  # ... sent to the fallback engine
    output_tokens_per_page: float | None  # generative engines only
    reviewed: int
    accepted: int  # accepted unchanged
    accept_rate: float | None
    edit_distance_mean: float | None  # characters changed per corrected page


class ReviewWindow(BaseModel):
    reviews: int  # verdicts in the window (at most `size`)
    size: int
    accept_rate: float | None
    threshold: float
    alert: bool  # open: the rate is below the threshold on at least `min_reviews` verdicts
    alert_since: datetime | None = None


class QualityReport(BaseModel):
    kb: str
    days: list[DriftRow]
    window: ReviewWindow
    pending: int  # pages waiting in the review queue


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _mean(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def drift_rows(s: Session, kb: str, days: int, now: datetime | None = None) -> list[DriftRow]:
    """The figures of the last `days` days, newest day first."""
    since = (now or utcnow()) - timedelta(days=days)
    groups: dict[tuple[str, str, str | None], dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    pages = s.execute(
        select(PageRow.ocr_at, PageRow.engine, PageRow.mode, PageRow.quality_status, PageRow.output_tokens)
        .join(DocumentRow, DocumentRow.id == PageRow.doc_id)
        .where(DocumentRow.kb == kb, PageRow.ocr_at >= since)
    )
    for at, engine, mode, status, tokens in pages:
        g = groups[(f"{at:%Y-%m-%d}", engine or "none", mode)]
        g["pages"].append(1)
        g[status or "ok"].append(1)
        if tokens is not None:
            g["tokens"].append(tokens)
    reviews = s.execute(
        select(
            ReviewPageRow.ocr_at,
            ReviewPageRow.engine,
            ReviewPageRow.mode,
            ReviewPageRow.state,
            ReviewPageRow.edit_distance,
        ).where(ReviewPageRow.kb == kb, ReviewPageRow.ocr_at >= since, ReviewPageRow.state.in_(VERDICTS))
    )
    for at, engine, mode, state, distance in reviews:
        g = groups[(f"{at:%Y-%m-%d}", engine, mode)]
        g["reviewed"].append(1)
        if state == "accepted":
            g["accepted"].append(1)
        else:
            g["distances"].append(distance or 0)
    rows = []
    for (day, engine, mode), g in groups.items():
        n, reviewed = len(g["pages"]), len(g["reviewed"])
        rows.append(
            DriftRow(
                day=day,
                engine=engine,
                mode=mode,
                pages=n,
                failed=len(g["failed"]),
                retry_rate=_share(len(g["retried"]), n),
                fallback_rate=_share(len(g["fallback"]), n),
                output_tokens_per_page=_mean(g["tokens"]),
                reviewed=reviewed,
                accepted=len(g["accepted"]),
                accept_rate=_share(len(g["accepted"]), reviewed),
                edit_distance_mean=_mean(g["distances"]),
            )
        )
    return sorted(rows, key=lambda r: (r.day, r.engine, r.mode or ""), reverse=True)


def review_window(s: Session, kb: str, config: ReviewSettings) -> ReviewWindow:
    """The accept rate over the kb's last `alert_window` verdicts, and the alert's state."""
    states = list(
        s.execute(
            select(ReviewPageRow.state)
            .where(ReviewPageRow.kb == kb, ReviewPageRow.state.in_(VERDICTS))
            .order_by(ReviewPageRow.reviewed_at.desc())
            .limit(config.alert_window)
        ).scalars()
    )
    alert = s.get(DriftAlertRow, kb)
    return ReviewWindow(
        reviews=len(states),
        size=config.alert_window,
        accept_rate=_share(states.count("accepted"), len(states)),
        threshold=config.alert_accept_rate,
        alert=alert is not None,
        alert_since=alert.since if alert else None,
    )


def update_alert(s: Session, kb: str, config: ReviewSettings) -> tuple[ReviewWindow, bool]:
    """Open or close the kb's alert after a verdict: the window, and whether the alert just opened."""
    window = review_window(s, kb, config)
    rate = window.accept_rate
    low = rate is not None and window.reviews >= config.alert_min_reviews and rate < config.alert_accept_rate
    if rate is not None:
        metrics.ACCEPT_RATE.labels(kb=kb).set(rate)
    metrics.DRIFT_ALERT.labels(kb=kb).set(1 if low else 0)
    if low and not window.alert:
        since = utcnow()
        s.add(DriftAlertRow(kb=kb, accept_rate=rate, reviews=window.reviews, since=since))
        return window.model_copy(update={"alert": True, "alert_since": since}), True
    if not low and window.alert:
        s.execute(delete(DriftAlertRow).where(DriftAlertRow.kb == kb))
        return window.model_copy(update={"alert": False, "alert_since": None}), False
    return window, False


def quality_report(s: Session, kb: str, days: int, config: ReviewSettings) -> QualityReport:
    pending = s.execute(
        select(func.count())
        .select_from(ReviewPageRow)
        .where(ReviewPageRow.kb == kb, ReviewPageRow.state == "pending")
    ).scalar_one()
    return QualityReport(
        kb=kb, days=drift_rows(s, kb, days), window=review_window(s, kb, config), pending=int(pending)
    )
