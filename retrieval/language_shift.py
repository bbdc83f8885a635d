"""Language-neutral vectors: English questions find Chinese pages, not only English ones.

A multilingual embedder such as e5-small puts every text near the mean of its language, so an English
question about rent scores an English page about delivery above the Chinese page about rent (1 of 4
found first in tests/retrieval/test_chinese.py). Removing the language's mean vector is the known remedy
(Libovický et al., "On the Language Neutrality of Pre-trained Multilingual Representations", 2020).
Here Chinese text is moved by (English mean − Chinese mean), in proportion to its share of Han
characters, and re-normalized: English text is left exactly as it was, so English-only knowledge bases
rank as before. The means come from parallel everyday sentences (language_reference.json), not from
contracts or test questions; queries and passages use their own means (e5 prefixes them differently).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from importlib import resources

import numpy as np
import numpy.typing as npt

from retrieval.embed_config import Embedder, EmbedderWrapper

LANGUAGE_SHIFT_VERSION = 1  # recorded in the kb's embedder name: changing the shift needs a reindex
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_LETTER = re.compile(r"[^\W\d_]")


def han_share(text: str) -> float:
    """Han characters among the letters of `text` (0 for English, 1 for plain Chinese)."""
    letters = len(_LETTER.findall(text))
    return len(_HAN.findall(text)) / letters if letters else 0.0


def reference_sentences() -> dict[str, list[str]]:
    raw = resources.files("retrieval").joinpath("language_reference.json").read_text("utf-8")
    return {lang: lines for lang, lines in json.loads(raw).items() if not lang.startswith("_")}


class LanguageShift(EmbedderWrapper):
    """An `Embedder` whose Chinese vectors are moved into the English frame (see the module's doc)."""

    def __init__(self, inner: Embedder) -> None:
        super().__init__(inner)
        self._lock = threading.Lock()
        self._deltas: tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]] | None = None

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.inner.embed_passages(texts)
        return [self._shifted(v, t, query=False) for v, t in zip(vectors, texts, strict=True)]

    def embed_query(self, text: str) -> list[float]:
        return self._shifted(self.inner.embed_query(text), text, query=True)

    def _shifted(self, vector: list[float], text: str, *, query: bool) -> list[float]:
        share = han_share(text)
        if share == 0.0:
            return vector
        moved = np.asarray(vector, dtype=np.float32) + share * self._delta(query)
        return (moved / np.linalg.norm(moved)).tolist()

    def _delta(self, query: bool) -> npt.NDArray[np.float32]:
        if self._deltas is None:
            with self._lock:
                if self._deltas is None:
                    self._deltas = self._english_minus_chinese()
        return self._deltas[0] if query else self._deltas[1]

    def _english_minus_chinese(self) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
        refs = reference_sentences()
        means = {}
        for lang in ("en", "zh"):
            queries = np.array([self.inner.embed_query(s) for s in refs[lang]], dtype=np.float32)
            passages = np.array(self.inner.embed_passages(refs[lang]), dtype=np.float32)
            means[lang] = (queries.mean(axis=0), passages.mean(axis=0))
        return means["en"][0] - means["zh"][0], means["en"][1] - means["zh"][1]
