"""Wire models: what the API (and the CLI's --json) reads and writes. Strict in, lenient out."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from api.errors import public_reason
from ingest.calibration import CalibrationReport
from ingest.card import CardField, DocumentCard
from ingest.layout import PageLayout
from ingest.ocr.engine import PageKind, ResolutionMode
from retrieval.chat import ChatCompletionRequest
from retrieval.chat import ChatMessage as OpenAiMessage
from retrieval.hits import SearchFilters, SearchMode

if TYPE_CHECKING:  # the tables (SQLAlchemy) only for from_row: a CLI talking to a server never loads them
    from api.db import DocumentRow, ExtractJobRow, JobRow, KbRow, PageRow

TERMINAL_JOB_STATES = frozenset({"done", "partial", "failed", "cancelled"})
KB_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
MAX_QUERY_CHARS = 4000  # a search query, and each chat message
MAX_CHAT_MESSAGES = 50
KbName = Annotated[str, Field(pattern=KB_PATTERN)]  # a kb a request may create documents in


def _as_utc(value: datetime) -> datetime:
    """The DB stores UTC: SQLite gives it back without an offset (put back), PostgreSQL in the
    session's time zone (converted)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]


class Strict(BaseModel):
    """A request body: unknown fields refused, and no type coercion (`"page_to": false` or `"top_k": "5"`
    is a 422, not a silent 0 or 5: a client that sent the wrong type learns it)."""

    model_config = ConfigDict(extra="forbid", strict=True)


# --- documents and jobs ---------------------------------------------------------------
class JobPublic(BaseModel):
    id: str
    document_id: str
    kind: str
    state: str
    stage: str
    pages_done: int
    pages_total: int
    attempts: int
    error: str | None = None

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_JOB_STATES

    @classmethod
    def from_row(cls, row: JobRow) -> JobPublic:
        return cls(
            id=row.id,
            document_id=row.doc_id,
            kind=row.kind,
            state=row.state,
            stage=row.stage,
            pages_done=row.pages_done,
            pages_total=row.pages_total,
            attempts=row.attempts,
            error=public_reason(row.error),
        )


class ExtractJobPublic(BaseModel):
    """An extraction job (`POST /v1/extract`): per-document progress; `documents` is its table once done."""

    id: str
    kb: str
    schema_name: str
    state: str  # queued, running, done, failed
    documents_done: int
    documents_total: int
    documents_read: int  # read by this job; the others had a stored result for their current version
    current: str | None = None  # the file last done
    error: str | None = None
    documents: list[dict[str, Any]] | None = None  # GET /v1/extract/jobs/{id} once done; never in events

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_JOB_STATES

    @classmethod
    def from_row(cls, row: ExtractJobRow, with_documents: bool = False) -> ExtractJobPublic:
        return cls(
            id=row.id,
            kb=row.kb,
            schema_name=str(row.spec.get("name", "")),
            state=row.state,
            documents_done=row.docs_done,
            documents_total=len(row.doc_ids),
            documents_read=row.docs_read,
            current=row.current,
            error=public_reason(row.error),
            documents=row.documents if with_documents else None,
        )


class PagePublic(BaseModel):
    page: int
    status: str
    engine: str | None = None
    quality: dict[str, str | None] = Field(default_factory=dict)
    mode: dict[str, str] | None = None  # DeepSeek pages: {"mode", "reason"} (ocr.mode auto says why)

    @classmethod
    def from_row(cls, row: PageRow) -> PagePublic:
        return cls(
            page=row.n,
            status=row.status,
            engine=row.engine,
            quality={"status": row.quality_status, "reason": row.quality_reason},
            mode={"mode": row.mode, "reason": row.mode_reason or ""} if row.mode else None,
        )


class DocumentPublic(BaseModel):
    id: str
    kb: str
    filename: str
    sha256: str
    status: str
    pages: int
    chunks: int
    error: str | None = None
    tags: list[str] = Field(default_factory=list)
    created: UtcDatetime

    @classmethod
    def from_row(cls, row: DocumentRow) -> DocumentPublic:
        return cls(
            id=row.id,
            kb=row.kb,
            filename=row.filename,
            sha256=row.sha256,
            status=row.status,
            pages=row.pages,
            chunks=row.chunks,
            error=public_reason(row.error),
            tags=list(row.tags or []),
            created=row.created,
        )


class DocumentDetail(DocumentPublic):
    options: dict[str, Any] = Field(default_factory=dict)
    page_details: list[PagePublic] = Field(default_factory=list)
    job: JobPublic | None = None
    # title, parties and dates read from the first pages, each with where it is written (ingest.card)
    card: dict[str, Any] | None = None

    @classmethod
    def from_rows(
        cls, row: DocumentRow, pages: list[PageRow], job: JobRow | None, card: DocumentCard | None = None
    ) -> DocumentDetail:
        base = DocumentPublic.from_row(row).model_dump()
        return cls(
            **base,
            options=dict(row.options or {}),
            page_details=[PagePublic.from_row(p) for p in pages],
            job=JobPublic.from_row(job) if job else None,
            card=card_public(card) if card is not None else None,
        )


def card_public(card: DocumentCard) -> dict[str, Any]:
    """The card on the wire: each field's value, role and regions as `{page, bbox}`."""

    def field(f: CardField) -> dict[str, Any]:
        return {"value": f.value, "role": f.role, "regions": [r.to_public() for r in f.regions]}

    return {
        "title": field(card.title) if card.title else None,
        "parties": [field(f) for f in card.parties],
        "dates": [field(f) for f in card.dates],
    }


class DocumentList(BaseModel):
    documents: list[DocumentPublic]
    total: int
    limit: int
    offset: int


class SubmissionPublic(BaseModel):
    document_id: str
    job_id: str
    existing: bool = False


# --- OCR only -------------------------------------------------------------------------
class OcrBlockPublic(BaseModel):
    kind: str
    markdown: str
    bbox: list[float]


class OcrPagePublic(BaseModel):
    page: int
    width: float
    height: float
    image_size: tuple[int, int]  # pixels (width, height) of the page image the boxes were read on
    engine: str
    quality: dict[str, Any]
    mode: dict[str, str] | None = None  # DeepSeek pages: {"mode", "reason"}
    blocks: list[OcrBlockPublic]
    image: str | None = None  # data:image/png;base64,… of the page as rendered for OCR

    @classmethod
    def from_layout(cls, layout: PageLayout, image_png: bytes | None = None) -> OcrPagePublic:
        image = f"data:image/png;base64,{base64.b64encode(image_png).decode()}" if image_png else None
        return cls(
            page=layout.page,
            width=layout.width,
            height=layout.height,
            image_size=layout.image_size,
            engine=layout.engine,
            quality={"status": layout.quality.status, "reason": layout.quality.reason},
            mode=layout.mode.model_dump() if layout.mode else None,
            blocks=[
                OcrBlockPublic(kind=b.kind, markdown=b.markdown, bbox=[round(v, 5) for v in b.bbox.as_list()])
                for b in sorted(layout.blocks, key=lambda b: b.order)
            ],
            image=image,
        )


class OcrResult(BaseModel):
    pages: list[OcrPagePublic]
    markdown: str


# --- retrieval requests ---------------------------------------------------------------
class SearchRequest(SearchFilters):
    """The filters (unknown fields refused, as SearchFilters does) plus the query and how to run it;
    strict, as `Strict` bodies are."""

    model_config = ConfigDict(extra="forbid", strict=True)

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    mode: SearchMode = "hybrid"
    top_k: int = Field(default=10, ge=1, le=100)

    def filters(self) -> SearchFilters:
        return SearchFilters.model_validate(self.model_dump(include=set(SearchFilters.model_fields)))


class AskRequest(SearchRequest):
    top_k: int = Field(default=8, ge=1, le=50)


class ChatMessage(Strict):
    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=MAX_QUERY_CHARS)


class ChatRequest(Strict):
    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_CHAT_MESSAGES)
    kb: str | None = None
    doc_ids: list[str] | None = None
    tags: list[str] | None = None
    top_k: int | None = Field(default=None, ge=1, le=50)  # None: the chat.top_k setting
    stream: bool = False

    def filters(self) -> SearchFilters:
        return SearchFilters(kb=self.kb, doc_ids=self.doc_ids, tags=self.tags)


class ReindexRequest(Strict):
    retry_failed: bool = False


# --- kbs and embeddings (the OpenAI-compatible facade) -----------------------------------
class KbPublic(BaseModel):
    kb: str
    embedder: str | None = None  # None: no document yet, so no embedder recorded
    created: int = 0  # unix seconds when its embedder was recorded (OpenAI's model `created`)

    @classmethod
    def from_row(cls, kb: str, row: KbRow | None) -> KbPublic:
        if row is None:
            return cls(kb=kb)
        return cls(kb=kb, embedder=row.embedder, created=int(_as_utc(row.updated).timestamp()))


class EmbeddingRequest(BaseModel):
    """`POST /v1/embeddings` as OpenAI SDKs send it; `input_type` is ours (clients pass it in extra_body)."""

    model_config = ConfigDict(extra="ignore", strict=True)  # OpenAI clients send `user` and the like

    model: str
    input: (
        Annotated[str, Field(min_length=1)]
        | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=256)]
    )
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = None
    input_type: Literal["query", "passage"] = "query"


class Embedding(BaseModel):
    vectors: list[list[float]]
    tokens: int


class ChatCompletionBody(ChatCompletionRequest):
    """The OpenAI facade's body, held to /v1/chat's limits: each message's text at most
    MAX_QUERY_CHARS characters, at most MAX_CHAT_MESSAGES messages; strict, as `Strict` bodies are."""

    model_config = ConfigDict(extra="ignore", strict=True)

    messages: list[OpenAiMessage] = Field(min_length=1, max_length=MAX_CHAT_MESSAGES)

    @field_validator("messages")
    @classmethod
    def _short_messages(cls, messages: list[OpenAiMessage]) -> list[OpenAiMessage]:
        for n, message in enumerate(messages):
            if len(message.text) > MAX_QUERY_CHARS:
                raise ValueError(
                    f"message {n} has {len(message.text)} characters; at most {MAX_QUERY_CHARS} are allowed"
                )
        return messages


class CalibrationPublic(BaseModel):
    """A kb's saved default modes and the calibration they came from (with its chart as SVG)."""

    kb: str
    modes: dict[PageKind, ResolutionMode]
    report: CalibrationReport | None = None
    chart_svg: str | None = None
    updated: UtcDatetime | None = None
