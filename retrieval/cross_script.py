"""Hybrid search over pages in two scripts: an English question must be able to reach a Chinese page.

BM25 can only match a chunk written in the question's script, so under plain fusion every English page
that shares a word with an English question ("contract", "party") outranks the Chinese page that
answers it, however well the dense vectors agree. For a chunk in another script the sparse rank is
unobservable, not bad: it is imputed as the chunk's dense rank, and the two rankings are fused with
the same weighted RRF formula Qdrant uses. Knowledge bases in one script never reach this path, so
their results are Qdrant's own fusion, unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

from retrieval.hits import SearchHit
from retrieval.language_shift import han_share

QDRANT_RRF_K = 2  # Qdrant's default ranking constant


def script(text: str) -> str:
    return "han" if han_share(text) >= 0.5 else "other"


def has_other_script(query: str, hits: Sequence[SearchHit]) -> bool:
    mine = script(query)
    return any(script(h.markdown) != mine for h in hits)


def rrf(position: int, weight: float, k: int) -> float:
    """Qdrant's weighted RRF term for a 0-based position."""
    return 0.0 if weight <= 0 else 1 / ((position + 1.0) / weight + k - 1.0)


def fuse_across_scripts(
    query: str,
    dense: Sequence[SearchHit],
    sparse: Sequence[SearchHit],
    weights: tuple[float, float] | None,
    k: int | None,
) -> list[SearchHit]:
    """Weighted RRF of the dense and sparse rankings, another script's sparse rank taken as its dense one."""
    w_dense, w_sparse = weights or (1.0, 1.0)
    k = QDRANT_RRF_K if k is None else k
    mine = script(query)
    scores: dict[str, float] = {}
    by_id: dict[str, SearchHit] = {}
    for pos, hit in enumerate(dense):
        imputed = rrf(pos, w_sparse, k) if script(hit.markdown) != mine else 0.0
        scores[hit.chunk_id] = rrf(pos, w_dense, k) + imputed
        by_id[hit.chunk_id] = hit
    for pos, hit in enumerate(sparse):
        scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + rrf(pos, w_sparse, k)
        by_id.setdefault(hit.chunk_id, hit)
    ranked = sorted(scores, key=lambda cid: scores[cid], reverse=True)
    return [by_id[cid].model_copy(update={"score": scores[cid]}) for cid in ranked]
