"""Retrieval fixtures: one MiniLM embedder per session, stores in tmp_path for every embedded engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.chunking import Chunk, chunk_id
from ingest.layout import BBox, Region
from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder
from retrieval.search import KnowledgeBase, SearchConfig
from retrieval.sparse import SparseEncoder
from retrieval.store import StoreConfig, VectorStore

EMBEDDED_ENGINES = ["edge", "local"]


class MemoEmbedder(SentenceTransformerEmbedder):
    """The real model; a text seen before in the session is not embedded again (tests repeat texts)."""

    def __init__(self, config: EmbedderConfig) -> None:
        super().__init__(config)
        self._memo: dict[str, list[float]] = {}

    def _encode(self, texts: list[str]) -> list[list[float]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self._memo]
        self._memo.update(zip(todo, super()._encode(todo), strict=True))
        return [self._memo[t] for t in texts]


@pytest.fixture(scope="session")
def minilm() -> SentenceTransformerEmbedder:
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    embedder = MemoEmbedder(EmbedderConfig(device="cpu"))
    assert embedder.dim == 384  # loads the model now, outside any test's timing
    return embedder


@pytest.fixture(params=EMBEDDED_ENGINES)
def store_config(request: pytest.FixtureRequest, tmp_path: Path) -> StoreConfig:
    return StoreConfig(engine=request.param, path=str(tmp_path / "qdrant"))


@pytest.fixture
def store(store_config: StoreConfig) -> Iterator[VectorStore]:
    vector_store = VectorStore(store_config, 384)
    yield vector_store
    vector_store.close()


@pytest.fixture
def kb(store: VectorStore, minilm: SentenceTransformerEmbedder) -> KnowledgeBase:
    return KnowledgeBase(store, minilm, SparseEncoder(), SearchConfig())


def make_chunk(
    doc_id: str,
    ordinal: int,
    text: str,
    *,
    kb: str = "kb-a",
    kind: str = "text",
    pages: tuple[int, ...] = (1,),
    tags: tuple[str, ...] = (),
    heading: tuple[str, ...] = (),
) -> Chunk:
    regions = [Region(page=p, bbox=BBox(x0=0.1, y0=0.2, x1=0.9, y1=0.3)) for p in pages]
    return Chunk(
        id=chunk_id(doc_id, ordinal),
        doc_id=doc_id,
        kb=kb,
        ordinal=ordinal,
        kind=kind,  # type: ignore[arg-type]
        heading_path=list(heading),
        markdown=text,
        regions=regions,
        pages=list(pages),
        filename=f"{doc_id}.pdf",
        tags=list(tags),
    )


CONTRACT = [
    "The Supplier shall deliver the Goods to the Buyer's warehouse within 14 days of each order.",
    "Either party may terminate this Agreement on ninety days' written notice to the other party.",
    "This Agreement is governed by the laws of the State of New York, without regard to conflicts of law.",
    "The Buyer shall pay each invoice within 30 days; late amounts bear interest at 1.5% per month.",
    "Section 14.2.7 survives termination: confidentiality obligations last five years.",
    "The Supplier warrants that the Goods are free from defects in materials and workmanship.",
    "All notices must be in writing and sent by courier or registered mail to the addresses above.",
    "Neither party is liable for delays caused by events beyond its reasonable control.",
]


def contract_chunks(doc_id: str = "doc-1", kb: str = "kb-a") -> list[Chunk]:
    return [make_chunk(doc_id, i, t, kb=kb, pages=(i // 3 + 1,)) for i, t in enumerate(CONTRACT)]
