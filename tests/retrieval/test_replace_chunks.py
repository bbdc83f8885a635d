"""`KnowledgeBase.replace_chunks` (a review correction): only new text is embedded; a chunk that only
moved to another ordinal keeps its stored vector; chunks past the new count are dropped. Every embedded
store engine."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import pytest

from ingest.chunking import Chunk
from retrieval.hits import SearchFilters
from retrieval.search import KnowledgeBase
from retrieval.sparse import SparseEncoder
from retrieval.store import StoreQuery, VectorStore
from tests.support.chunks import make_chunk

DIM = 384


class CountingEmbedder:
    """Deterministic vectors from a text's hash; records every text it embeds."""

    dim = DIM
    max_tokens = 512

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded += texts
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)

    def _vector(self, text: str) -> list[float]:
        seed = hashlib.sha256(text.encode()).digest()
        raw = [seed[i % len(seed)] - 127.5 + i % 7 for i in range(DIM)]
        norm = sum(v * v for v in raw) ** 0.5
        return [v / norm for v in raw]


def _chunks(texts: list[str], pages: list[int]) -> list[Chunk]:
    return [make_chunk("doc", n, t, pages=(p,)) for n, (t, p) in enumerate(zip(texts, pages, strict=True))]


def test_moved_chunks_keep_their_vectors_and_only_new_text_is_embedded(store: VectorStore) -> None:
    embedder = CountingEmbedder()
    kb = KnowledgeBase(store, embedder, SparseEncoder())  # type: ignore[arg-type]
    before = _chunks(["alpha clause", "bravo clause", "charlie clause", "delta clause"], [1, 2, 3, 3])
    kb.replace_document("doc", before)
    old_vectors = store.dense_vectors([c.id for c in before])
    embedder.embedded.clear()

    # page 1 corrected into two chunks: everything after it moves one ordinal on; "delta" is gone
    after = _chunks(["alpha fixed", "alpha second part", "bravo clause", "charlie clause"], [1, 1, 2, 3])
    previous = {c.embed_text(): c.id for c in before}
    embedded = kb.replace_chunks("doc", after, len(after), previous)

    assert embedded == 2 and embedder.embedded == [after[0].embed_text(), after[1].embed_text()]
    assert kb.count("doc") == 4
    now = store.dense_vectors([c.id for c in after])
    assert now[after[2].id] == pytest.approx(old_vectors[before[1].id], abs=1e-6)  # bravo moved 1 -> 2
    assert now[after[3].id] == pytest.approx(old_vectors[before[2].id], abs=1e-6)
    query = StoreQuery(
        dense=embedder.embed_query("bravo clause"), filters=SearchFilters(doc_ids=["doc"]), limit=1
    )
    [hit] = store.query(query)
    assert hit.markdown == "bravo clause" and hit.pages == [2] and hit.chunk_id == after[2].id
    texts = {h.markdown for h in store.query(query.model_copy(update={"limit": 10}))}
    assert texts == {"alpha fixed", "alpha second part", "bravo clause", "charlie clause"}
