"""Drift figures and the alert's state over the metadata DB, on SQLite and PostgreSQL: pages and reviews
grouped per day, engine and mode; the alert opens once below the threshold and closes when recovered."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.db import Database, DocumentRow, PageRow, ReviewPageRow
from api.drift import drift_rows, review_window, update_alert
from api.settings import ReviewSettings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
YESTERDAY = NOW - timedelta(days=1)


def _page(n: int, at: datetime, engine: str, mode: str | None, status: str, tokens: int | None) -> PageRow:
    done = "failed" if status == "failed" else "done"
    return PageRow(
        doc_id="d",
        n=n,
        status=done,
        engine=engine,
        mode=mode,
        quality_status=status,
        ocr_at=at,
        output_tokens=tokens,
    )


def _review(
    n: int, at: datetime, state: str, distance: int | None = None, engine: str = "deepseek"
) -> ReviewPageRow:
    return ReviewPageRow(
        doc_id="d", page=n, kb="k", reason="sampled", engine=engine, mode="gundam", ocr_at=at,
        state=state, reviewed_at=NOW + timedelta(minutes=n), edit_distance=distance,
    )  # fmt: skip


def test_figures_per_day_engine_and_mode(db: Database) -> None:
    with db.session() as s:
        s.add(DocumentRow(id="d", kb="k", filename="a.pdf", sha256="0" * 64))
        s.flush()
        s.add_all(
            [
                _page(1, NOW, "deepseek", "gundam", "ok", 800),
                _page(2, NOW, "deepseek", "gundam", "retried", 1200),
                _page(3, NOW, "deepseek", "gundam", "fallback", None),
                _page(4, NOW, "deepseek", "gundam", "failed", None),
                _page(5, YESTERDAY, "textlayer", None, "ok", None),
            ]
        )
        s.add_all([_review(1, NOW, "accepted"), _review(2, NOW, "corrected", 12), _review(3, NOW, "pending")])
    with db.session() as s:
        rows = drift_rows(s, "k", days=7, now=NOW)
        assert drift_rows(s, "other", days=7, now=NOW) == []
    today, before = rows
    assert (today.day, today.engine, today.mode) == ("2026-12-06", "deepseek", "gundam")
    assert (today.pages, today.failed, today.retry_rate, today.fallback_rate) == (4, 1, 0.25, 0.25)
    assert today.output_tokens_per_page == 1000.0
    assert (today.reviewed, today.accepted, today.accept_rate, today.edit_distance_mean) == (2, 1, 0.5, 12.0)
    assert (before.day, before.engine, before.pages, before.reviewed, before.accept_rate) == (
        "2026-12-05", "textlayer", 1, 0, None,
    )  # fmt: skip


def test_alert_opens_once_below_the_threshold_and_closes_when_recovered(db: Database) -> None:
    config = ReviewSettings(alert_window=4, alert_min_reviews=3, alert_accept_rate=0.75)
    with db.session() as s:
        s.add(DocumentRow(id="d", kb="k", filename="a.pdf", sha256="0" * 64))
    opened = []
    for n, state in enumerate(
        ["accepted", "corrected", "corrected", "corrected", "accepted"] + ["accepted"] * 4
    ):
        with db.session() as s:
            s.add(_review(n + 1, NOW, state, 5 if state == "corrected" else 0))
            s.flush()
            window, fired = update_alert(s, "k", config)
        opened.append((fired, window.alert, window.accept_rate))
    assert opened[:4] == [(False, False, 1.0), (False, False, 0.5), (True, True, 0.3333), (False, True, 0.25)]
    assert opened[-1] == (False, False, 1.0)  # the last 4 are accepted: closed
    assert [f for f, _, _ in opened].count(True) == 1
    with db.session() as s:
        assert not review_window(s, "k", config).alert
