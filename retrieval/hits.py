"""What search hands to answers, the API and the CLI."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ingest.layout import Region

SearchMode = Literal["hybrid", "dense", "sparse"]


class SearchFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kb: str | None = None
    doc_ids: list[str] | None = None
    tags: list[str] | None = None
    kind: Literal["text", "table"] | None = None
    page_from: int | None = None
    page_to: int | None = None


class SearchHit(BaseModel):
    chunk_id: str
    doc_id: str
    kb: str
    filename: str
    score: float
    kind: str
    markdown: str
    heading_path: list[str] = Field(default_factory=list)
    clause: str | None = None
    regions: list[Region] = Field(default_factory=list)
    pages: list[int] = Field(default_factory=list)
    document_name: str = ""  # title and parties from the document card (`Chunk.document_name`)
    document_company: str = ""  # a filing's company and ticker (`Chunk.document_company`)

    def to_public(self) -> dict[str, Any]:
        """The CLI's --json and the API's result shape."""
        return {
            "chunk_id": self.chunk_id,
            "doc_id": self.doc_id,
            "filename": self.filename,
            "score": self.score,
            "kind": self.kind,
            "markdown": self.markdown,
            "heading_path": self.heading_path,
            "clause": self.clause,
            "pages": self.pages,
            "regions": [r.to_public() for r in self.regions],
        }


def hit_page(hit: SearchHit) -> int | None:
    """The one page a hit counts for: the page holding most of its text (ties: the earlier page).

    A chunk spanning two pages is not a hit for both; regions without text weigh one character."""
    weight: dict[int, int] = {}
    for region in hit.regions:
        weight[region.page] = weight.get(region.page, 0) + max(1, len(region.text or ""))
    if not weight:
        return hit.pages[0] if hit.pages else None
    return min(weight, key=lambda p: (-weight[p], p))


def pages_first(hits: Sequence[SearchHit], top_k: int) -> list[SearchHit]:
    """The first `top_k` of `hits` with each page (`hit_page`, per document) once before any page twice.

    Chunks are small, so a table or a long clause can fill the top with one page; a reader of search
    results gains more from the next page than from the same page again. (An answerer does not: it
    reads the rest of the clause in the page's second chunk, `KnowledgeBase.search`.)"""
    seen: set[tuple[str, int | None]] = set()
    first: list[SearchHit] = []
    again: list[SearchHit] = []
    for hit in hits:
        page = (hit.doc_id, hit_page(hit))
        (again if page in seen else first).append(hit)
        seen.add(page)
    return (first + again)[:top_k]


def lead_with(hits: Sequence[SearchHit], leads: Mapping[str, SearchHit]) -> list[SearchHit]:
    """`hits` with each document's lead hit (`leads`, by doc id) moved (or added) just before that
    document's first hit, scored as that hit, so answers and citations take it first."""
    out: list[SearchHit] = []
    placed: set[str] = set()
    for hit in hits:
        lead = leads.get(hit.doc_id)
        if lead is not None and hit.doc_id not in placed:
            placed.add(hit.doc_id)
            out.append(lead.model_copy(update={"score": max(hit.score, lead.score)}))
        if lead is None or hit.chunk_id != lead.chunk_id:
            out.append(hit)
    return out
