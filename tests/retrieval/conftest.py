"""Retrieval fixtures: one MiniLM embedder per session, stores in tmp_path for every embedded engine."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

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
