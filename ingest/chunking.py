"""Chunks: sections by heading path, tables on their own, every contributing region kept.

(The chunker itself is written by the knowledge-base work; the model is the shared contract.)
"""

from __future__ import annotations

import uuid
from typing import Literal

from pydantic import BaseModel, Field

from ingest.layout import Region

CHUNK_NAMESPACE = uuid.UUID("5b0c7f0e-7a43-4b8e-9a55-0f4c3c1d2e10")


def chunk_id(doc_id: str, ordinal: int) -> str:
    """Deterministic: re-chunking the same document gives the same ids (idempotent upserts)."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}:{ordinal}"))


class Chunk(BaseModel):
    id: str
    doc_id: str
    kb: str
    ordinal: int
    kind: Literal["text", "table"]
    heading_path: list[str] = Field(default_factory=list)
    markdown: str
    regions: list[Region] = Field(default_factory=list)  # every contributing block/line, per page
    pages: list[int] = Field(default_factory=list)
    tokens: int = 0
    filename: str = ""
    tags: list[str] = Field(default_factory=list)

    def embed_text(self) -> str:
        """What the embedder sees: heading path, then content."""
        head = " > ".join(self.heading_path)
        return f"{head}\n{self.markdown}" if head else self.markdown
