"""Optional cross-encoder reranking of search hits (off by default: no cross-encoder ships offline).

`SearchConfig.reranker` names a sentence-transformers CrossEncoder (name or local path).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from retrieval.hits import SearchHit


class PairScorer(Protocol):
    """What a cross-encoder does: one relevance score per (query, passage) pair."""

    def predict(self, pairs: Sequence[tuple[str, str]]) -> Sequence[float]: ...


class CrossEncoderReranker:
    def __init__(self, model: str, scorer: PairScorer | None = None, device: str = "cpu") -> None:
        self.model_name = model
        self.device = device
        self._scorer: Any = scorer

    @property
    def scorer(self) -> PairScorer:
        if self._scorer is None:
            from sentence_transformers import CrossEncoder

            self._scorer = CrossEncoder(self.model_name, device=self.device)
        return self._scorer  # type: ignore[no-any-return]

    def rerank(self, query: str, hits: list[SearchHit], top_k: int) -> list[SearchHit]:
        """Hits re-scored by the cross-encoder, best first; the score becomes its score."""
        if not hits:
            return []
        texts = [
            " > ".join(h.heading_path) + "\n" + h.markdown if h.heading_path else h.markdown for h in hits
        ]
        scores = self.scorer.predict([(query, t) for t in texts])
        ranked = sorted(zip(scores, hits, strict=True), key=lambda pair: -float(pair[0]))
        return [hit.model_copy(update={"score": float(score)}) for score, hit in ranked[:top_k]]


def build_reranker(model: str | None, device: str = "cpu") -> CrossEncoderReranker | None:
    return CrossEncoderReranker(model, device=device) if model else None
