"""The metadata DB on SQLite and PostgreSQL: one behaviour suite for both."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import text

from api.db import (
    Database,
    DocumentRow,
    JobRow,
    KbRow,
    KbSettingsRow,
    PageRow,
    count_finished_pages,
    latest_job,
    unfinished_jobs,
)


def test_documents_pages_and_jobs_round_trip(db: Database) -> None:
    with db.session() as s:
        s.add(
            DocumentRow(
                id="d1",
                kb="kb",
                filename="a.pdf",
                sha256="x" * 64,
                pages=3,
                tags=["t"],
                options={"mode": "base"},
            )
        )
        s.flush()
        s.add_all(
            [PageRow(doc_id="d1", n=n, status=st) for n, st in ((1, "done"), (2, "failed"), (3, "pending"))]
        )
        s.add(JobRow(id="j1", doc_id="d1", pages_total=3, webhook_url="https://example.org/h"))
    with db.session() as s:
        assert count_finished_pages(s, "d1") == 2
        job = latest_job(s, "d1")
        assert job is not None and job.state == "queued" and job.webhook_url == "https://example.org/h"
        assert [j.id for j in unfinished_jobs(s)] == ["j1"]
        doc = s.get_one(DocumentRow, "d1")
        assert doc.tags == ["t"] and doc.options == {"mode": "base"} and doc.created is not None
        job.state = "done"
    with db.session() as s:
        assert unfinished_jobs(s) == []


def test_a_failed_session_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError), db.session() as s:
        s.add(DocumentRow(id="d2", kb="kb", filename="b.pdf", sha256="y" * 64))
        s.flush()
        raise RuntimeError("boom")
    with db.session() as s:
        assert s.get(DocumentRow, "d2") is None


def test_upsert_survives_racing_writers(db: Database) -> None:
    """Two first uploads into a new kb both record its embedder: neither may fail on the key."""

    def record(i: int) -> None:
        with db.session() as s:
            db.upsert(s, KbRow, {"kb": "new", "embedder": f"e{i}", "dim": i})

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(record, range(16)))
    with db.session() as s:
        row = s.get_one(KbRow, "new")
        assert row.embedder == f"e{row.dim}" and s.query(KbRow).count() == 1


def test_a_database_made_before_new_columns_gains_them_and_keeps_its_rows(db: Database) -> None:
    """The pages' mode columns (ocr.mode auto) came later: create_all adds them to an older table."""
    with db.engine.begin() as conn:
        conn.execute(text('ALTER TABLE pages DROP COLUMN "mode"'))
        conn.execute(text('ALTER TABLE pages DROP COLUMN "mode_reason"'))
    with db.session() as s:
        s.add(DocumentRow(id="old", kb="kb", filename="a.pdf", sha256="y" * 64, pages=1))
        s.flush()
        s.execute(text("INSERT INTO pages (doc_id, n, status) VALUES ('old', 1, 'done')"))
    db.create_all()
    db.create_all()  # again, as a second process starting at the same time would: nothing to add
    with db.session() as s:
        page = s.get_one(PageRow, ("old", 1))
        assert (page.status, page.mode) == ("done", None)
        page.mode, page.mode_reason = "small", "text 27 px high, 10 px in small"
    with db.session() as s:
        assert s.get_one(PageRow, ("old", 1)).mode == "small"


def test_kb_settings_upsert_replaces_a_kbs_saved_modes(db: Database) -> None:
    for modes in ({"scanned_text": "small"}, {"scanned_text": "base", "photo": "gundam"}):
        with db.session() as s:
            db.upsert(s, KbSettingsRow, {"kb": "k", "modes": modes, "calibration": {"seconds": 1.5}})
    with db.session() as s:
        row = s.get(KbSettingsRow, "k")
        assert row is not None
        assert row.modes == {"scanned_text": "base", "photo": "gundam"} and row.calibration == {"seconds": 1.5}
        assert s.get(KbSettingsRow, "other") is None
