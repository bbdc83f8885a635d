"""Sparse BM25 vectors: term weights with TF saturation and length normalization; IDF is counted per kb
at query time (`retrieval.store.VectorStore.weigh_terms`).

Terms are tokens with English words stemmed (Snowball), hashed to [0, 2^31) with crc32.
"""

from __future__ import annotations

import math
import re
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

# A number with its grouping and decimals ("12.3", "1,000.50", "$1,000", "30%"), a word, or a CJK run.
_TOKEN = re.compile(
    r"\$?\d+(?:[.,]\d+)*%?"
    r"|[^\W\d_\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+(?:['’][^\W\d_]+)?"
    r"|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+"
)
# "U.S.", "U.K.", "U.S.A.": initials written with dots are the word a question types ("US sales")
_DOTTED_INITIALS = re.compile(r"\b([a-z])\.([a-z])\.(?:([a-z])\.)?(?![a-z])")
_CJK_RUN = re.compile(r"^[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]+$")
_INDEX_SPACE = 2**31
_LATIN_WORD = re.compile(r"^[a-z]+(?:['’][a-z]+)?$")


class SparseVector(BaseModel):
    indices: list[int]
    values: list[float]


class SparseConfig(BaseModel):
    k1: float = Field(default=1.2, ge=0)
    b: float = Field(default=0.75, ge=0, le=1)
    avg_doc_tokens: float = Field(default=120.0, gt=0)  # typical chunk length in these tokens
    cjk: Literal["bigram", "jieba"] = "bigram"  # chosen by measurement, see docs/retrieval.md
    # Snowball English stemming, chosen on CUAD contracts (docs/retrieval.md); changing it needs a re-index.
    stem: bool = True  # "dated" matches "date", "parties" matches "party"


def tokenize(text: str, cjk: Literal["bigram", "jieba"] = "bigram") -> list[str]:
    """Lowercased words and numbers; CJK runs as character bigrams or jieba words."""
    split_cjk = _bigrams if cjk == "bigram" else _jieba_words
    tokens: list[str] = []
    lowered = _DOTTED_INITIALS.sub(lambda m: "".join(g for g in m.groups() if g), text.lower())
    for match in _TOKEN.finditer(lowered):
        token = match.group()
        if _CJK_RUN.match(token):
            tokens.extend(split_cjk(token))
        elif token[0] == "$" or token[-1] == "%":
            tokens.extend((token, token.strip("$%")))  # "$1,000" also matches a plain "1,000"
        else:
            tokens.append(token)
    return tokens


def token_index(token: str) -> int:
    return zlib.crc32(token.encode("utf-8")) % _INDEX_SPACE


class SparseEncoder:
    """BM25 document-side weights; queries get weight 1 per distinct term."""

    def __init__(self, config: SparseConfig | None = None) -> None:
        self.config = config or SparseConfig()
        self._stem = _english_stemmer() if self.config.stem else None

    def terms(self, text: str) -> list[str]:
        """The tokens that are weighed: English words stemmed, numbers and CJK as tokenized."""
        tokens = tokenize(text, self.config.cjk)
        if self._stem is None:
            return tokens
        return [self._stem(t) if _LATIN_WORD.match(t) else t for t in tokens]

    def encode(self, text: str) -> SparseVector:
        counts = Counter(self.terms(text))
        length = sum(counts.values())
        k1, b = self.config.k1, self.config.b
        norm = k1 * (1 - b + b * length / self.config.avg_doc_tokens)
        return _to_vector({t: tf * (k1 + 1) / (tf + norm) for t, tf in counts.items()})

    def encode_query(self, text: str) -> SparseVector:
        return _to_vector(dict.fromkeys(self.terms(text), 1.0))


def bm25_idf(documents: int, containing: int) -> float:
    """BM25's IDF, Qdrant's formula: ln(1 + (N - n + 0.5) / (n + 0.5)); always positive."""
    return math.log(1 + (documents - containing + 0.5) / (containing + 0.5))


def _to_vector(weights: dict[str, float]) -> SparseVector:
    merged: dict[int, float] = {}
    for token, weight in weights.items():  # a crc32 collision just adds the two weights
        index = token_index(token)
        merged[index] = merged.get(index, 0.0) + weight
    ordered = sorted(merged.items())
    return SparseVector(indices=[i for i, _ in ordered], values=[v for _, v in ordered])


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def _jieba_words(run: str) -> list[str]:
    return [w for w in _jieba_cut()(run) if w.strip()]


_JIEBA: list[Callable[[str], list[str]]] = []


def _jieba_cut() -> Callable[[str], list[str]]:
    """jieba loads its dictionary (~1 s) on first use, so only when configured."""
    if not _JIEBA:
        import logging

        import jieba

        jieba.setLogLevel(logging.WARNING)
        _JIEBA.append(jieba.lcut_for_search)
    return _JIEBA[0]


def _english_stemmer() -> Callable[[str], str]:
    import snowballstemmer

    # a Snowball stemmer keeps the word being stemmed on itself: one per thread, or two jobs indexing at
    # once corrupt each other's word (IndexError inside find_among_b)
    local = threading.local()

    def stem(word: str) -> str:
        if not hasattr(local, "stemmer"):
            local.stemmer = snowballstemmer.stemmer("english")
        return str(local.stemmer.stemWord(word))

    return stem
