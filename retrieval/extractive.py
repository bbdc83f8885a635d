"""Choosing the sentences of the top hits that answer a question, without an LLM.

A sentence scores by the idf-weighted share of the question's terms it contains, plus a small
prior for its hit's rank and score; an embedder, when given, re-scores the best few by cosine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from retrieval.hits import SearchHit
from retrieval.sentences import clean_markdown, idf_weights, overlap_score, split_sentences, terms

MIN_OVERLAP = 0.2  # a sentence sharing less of the question than this never answers it
CLOSE_TO_BEST = 0.8  # further sentences join the answer only when scoring this close to the best
LONG_SENTENCE_TERMS = 40  # longer sentences match more by chance, so they are damped
NEW_TERMS_FOR_FULL_WEIGHT = 3  # an answer says something the question did not
RERANK_TOP = 20
HIT_SCORE_WEIGHT = 0.15
HIT_RANK_WEIGHT = 0.05


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> list[float]: ...

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass
class Pick:
    hit: int  # index into the hits
    sentence: str  # verbatim from the hit's Markdown
    score: float
    lexical: float

    @property
    def text(self) -> str:
        return clean_markdown(self.sentence)


def score_sentences(question: str, hits: Sequence[SearchHit]) -> list[Pick]:
    """Every sentence of every hit with its score, best first."""
    candidates = [(i, s) for i, h in enumerate(hits) for s in split_sentences(h.markdown)]
    sentence_terms = [terms(s) for _, s in candidates]
    idf = idf_weights(sentence_terms)
    question_terms = terms(question)
    top_score = max((h.score for h in hits), default=0.0)
    picks: list[Pick] = []
    for (i, sentence), st in zip(candidates, sentence_terms, strict=True):
        lexical = (
            overlap_score(question_terms, st, idf) * _novelty(question_terms, st) / _length_damping(len(st))
        )
        prior = HIT_RANK_WEIGHT / (1 + i)
        if top_score > 0:
            prior += HIT_SCORE_WEIGHT * max(0.0, hits[i].score) / top_score
        picks.append(Pick(hit=i, sentence=sentence, score=lexical + prior, lexical=lexical))
    return sorted(picks, key=lambda p: -p.score)


def _novelty(question_terms: Sequence[str], sentence_terms: Sequence[str]) -> float:
    """Half weight for a sentence that only repeats the question (a heading such as "Governing Law")."""
    new = len(set(sentence_terms) - set(question_terms))
    return 0.5 + 0.5 * min(1.0, new / NEW_TERMS_FOR_FULL_WEIGHT)


def _length_damping(n_terms: int) -> float:
    return 1.0 + max(0, n_terms - LONG_SENTENCE_TERMS) / (2 * LONG_SENTENCE_TERMS)


def rerank(question: str, picks: list[Pick], embedder: QueryEmbedder) -> list[Pick]:
    """The best few re-scored half by lexical overlap, half by embedding cosine."""
    head, tail = picks[:RERANK_TOP], picks[RERANK_TOP:]
    if not head:
        return picks
    query = embedder.embed_query(question)
    vectors = embedder.embed_passages([p.text for p in head])
    for pick, vector in zip(head, vectors, strict=True):
        prior = pick.score - pick.lexical
        pick.score = 0.5 * pick.lexical + 0.5 * _cosine(query, vector) + prior
    return sorted(head, key=lambda p: -p.score) + tail


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def compose_extract(
    question: str, hits: Sequence[SearchHit], max_sentences: int, embedder: QueryEmbedder | None = None
) -> list[Pick]:
    """The 1..max_sentences sentences that answer the question, best first; [] when none does."""
    picks = [p for p in score_sentences(question, hits) if p.lexical >= MIN_OVERLAP]
    if embedder is not None:
        picks = rerank(question, picks, embedder)
    chosen: list[Pick] = []
    seen: set[str] = set()
    for pick in picks:
        key = pick.text.lower()
        if key in seen:
            continue
        if chosen and (pick.score < CLOSE_TO_BEST * chosen[0].score or len(chosen) >= max_sentences):
            break
        chosen.append(pick)
        seen.add(key)
    return chosen
