"""Metadata DB (SQLAlchemy 2): documents, their pages, the jobs that process them, extraction jobs,
per-kb settings and OCR review.

SQLite in the data directory by default (WAL, so the API and workers on one host share it);
any PostgreSQL URL works the same (`postgresql+psycopg://...`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


class DocumentRow(Base):
    __tablename__ = "documents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kb: Mapped[str] = mapped_column(String(200), index=True)
    filename: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    status: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    pages: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    source_path: Mapped[str] = mapped_column(String(1000), default="")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class KbRow(Base):
    """The embedder that built a knowledge base's vectors: a kb is searched and filled with that one only."""

    __tablename__ = "kbs"

    kb: Mapped[str] = mapped_column(String(200), primary_key=True)
    embedder: Mapped[str] = mapped_column(String(500))  # retrieval.embed.embedder_name
    dim: Mapped[int] = mapped_column(Integer)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class KbSettingsRow(Base):
    """A knowledge base's own OCR defaults: the DeepSeek mode per page kind saved from a calibration."""

    __tablename__ = "kb_settings"

    kb: Mapped[str] = mapped_column(String(200), primary_key=True)
    modes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # page kind -> resolution mode
    calibration: Mapped[dict[str, Any] | None] = mapped_column(
        JSON, default=None
    )  # the report saved with them
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class PageRow(Base):
    __tablename__ = "pages"

    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, done, failed
    engine: Mapped[str | None] = mapped_column(String(50), default=None)
    quality_status: Mapped[str | None] = mapped_column(String(20), default=None)
    quality_reason: Mapped[str | None] = mapped_column(Text, default=None)
    mode: Mapped[str | None] = mapped_column(String(20), default=None)  # DeepSeek resolution mode
    mode_reason: Mapped[str | None] = mapped_column(Text, default=None)
    ocr_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)  # drift figures
    output_tokens: Mapped[int | None] = mapped_column(Integer, default=None)


class ReviewPageRow(Base):
    """A page in the OCR review queue (sampled at ingest), then its verdict: accepted or corrected."""

    __tablename__ = "review_pages"

    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    page: Mapped[int] = mapped_column(Integer, primary_key=True)
    kb: Mapped[str] = mapped_column(String(200), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # sampled, retried, fallback
    engine: Mapped[str] = mapped_column(String(50))
    mode: Mapped[str | None] = mapped_column(String(20), default=None)
    ocr_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(
        String(20), default="pending", index=True
    )  # pending, accepted, corrected
    reviewer: Mapped[str | None] = mapped_column(String(200), default=None)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None, index=True)
    edit_distance: Mapped[int | None] = mapped_column(Integer, default=None)  # characters, all its blocks


class ReviewCorrectionRow(Base):
    """One corrected block: the old text is kept for the drift figures and audit."""

    __tablename__ = "review_corrections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    block: Mapped[int] = mapped_column(Integer)  # index in the page's blocks
    old_markdown: Mapped[str] = mapped_column(Text)
    new_markdown: Mapped[str] = mapped_column(Text)
    edit_distance: Mapped[int] = mapped_column(Integer)
    reviewer: Mapped[str] = mapped_column(String(200))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class DriftAlertRow(Base):
    """A kb whose accept rate is below the threshold: the webhook fired once, until it recovers."""

    __tablename__ = "drift_alerts"

    kb: Mapped[str] = mapped_column(String(200), primary_key=True)
    accept_rate: Mapped[float] = mapped_column()
    reviews: Mapped[int] = mapped_column(Integer)
    since: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class JobRow(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    doc_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="ingest")  # ingest, reindex, retry
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    stage: Mapped[str] = mapped_column(String(20), default="queued")
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    pages_total: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    webhook_url: Mapped[str | None] = mapped_column(String(2000), default=None)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ExtractJobRow(Base):
    """A schema read from a kb's documents (`api/extract_jobs.py`): progress, then the table it made."""

    __tablename__ = "extract_jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kb: Mapped[str] = mapped_column(String(200), index=True)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)  # the schema (retrieval.review.Schema) as JSON
    doc_ids: Mapped[list[str]] = mapped_column(JSON)  # the documents to read, fixed when it starts
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    docs_done: Mapped[int] = mapped_column(Integer, default=0)
    docs_read: Mapped[int] = mapped_column(Integer, default=0)  # read by this job; the rest were stored
    current: Mapped[str | None] = mapped_column(String(500), default=None)  # the file last done
    documents: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)  # the table, once done
    error: Mapped[str | None] = mapped_column(Text, default=None)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()


class Database:
    """One engine and session factory per process; `create_all()` makes the tables."""

    def __init__(self, url: str) -> None:
        self.url = url
        kwargs: dict[str, Any] = {"pool_pre_ping": True}
        if url.startswith("sqlite"):
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
        self.engine: Engine = create_engine(url, **kwargs)
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def create_all(self) -> None:
        Base.metadata.create_all(self.engine)
        self._add_new_columns()

    def _add_new_columns(self) -> None:
        """Nullable columns added to a table since the database was made, so an older one keeps working."""
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                if not column.nullable or self._has_column(table.name, column.name):
                    continue
                kind = column.type.compile(dialect=self.engine.dialect)
                try:
                    with self.engine.begin() as conn:
                        conn.execute(text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}'))
                except DBAPIError:
                    if not self._has_column(table.name, column.name):  # not another process's doing
                        raise

    def _has_column(self, table: str, column: str) -> bool:
        return column in {c["name"] for c in inspect(self.engine).get_columns(table)}

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    def upsert(self, session: Session, row: type[Base], values: dict[str, Any]) -> None:
        """Insert `values`, or update the row with the same primary key: safe when two requests race."""
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        keys = [c.name for c in row.__table__.primary_key]
        stmt = dialect.insert(row).values(**values)
        updates = {k: v for k, v in values.items() if k not in keys}
        session.execute(stmt.on_conflict_do_update(index_elements=keys, set_=updates))

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    def dispose(self) -> None:
        self.engine.dispose()


def count_finished_pages(session: Session, doc_id: str) -> int:
    stmt = (
        select(func.count())
        .select_from(PageRow)
        .where(PageRow.doc_id == doc_id, PageRow.status.in_(("done", "failed")))
    )
    return int(session.execute(stmt).scalar_one())


def latest_job(session: Session, doc_id: str) -> JobRow | None:
    stmt = select(JobRow).where(JobRow.doc_id == doc_id).order_by(JobRow.created.desc()).limit(1)
    return session.execute(stmt).scalar_one_or_none()


def unfinished_jobs(session: Session) -> list[JobRow]:
    stmt = select(JobRow).where(JobRow.state.in_(("queued", "running"))).order_by(JobRow.created)
    return list(session.execute(stmt).scalars())
