"""The embedder's settings and interface, apart from the embedders so that every backend module can read them."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, Protocol, get_args

from pydantic import BaseModel, Field

# e5 wants "query: "/"passage: "; bge v1.5 wants an instruction on queries only.
_KNOWN_PREFIXES: list[tuple[str, str, str]] = [
    ("e5", "query: ", "passage: "),
    ("bge", "Represent this sentence for searching relevant passages: ", ""),
]

# e5 only: "auto" = the fastest float path measured for the device (retrieval.e5.plan_runtime)
Dtype = Literal["auto", "float32", "bfloat16", "int8"]
DTYPES: tuple[str, ...] = get_args(Dtype)


class Embedder(Protocol):
    @property
    def dim(self) -> int: ...

    @property
    def max_tokens(self) -> int: ...

    def count_tokens(self, text: str) -> int: ...

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class EmbedderWrapper:
    """Base of an `Embedder` that changes what another one does to vectors: sizes and tokens pass through."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)


class EmbedderConfig(BaseModel):
    # "e5" (bundled multilingual-e5-small), "local" (sentence-transformers) or "http" (OpenAI-compatible)
    backend: str = "e5"
    model: str = ""  # name or path; empty = the bundled model (e5: multilingual-e5-small; local: MiniLM)
    device: str = "auto"  # "auto" = cuda when available
    batch_size: int = Field(default=32, ge=1)
    normalize: bool = True
    query_prefix: str | None = None  # None = auto for known e5/bge names, else ""
    passage_prefix: str | None = None
    url: str = "http://127.0.0.1:8001/v1"
    api_key: str | None = None
    connect_timeout_s: float = 5.0
    timeout_s: float = 60.0
    retries: int = Field(default=3, ge=0)
    backoff_s: float = 0.5
    dim: int | None = None  # http: vector size; None = ask the server once
    max_tokens: int = 512  # http: what the server's model reads
    # e5: float32/bfloat16 as computed; int8 = ONNX Runtime's dynamic quantization, recorded as "+int8"
    dtype: Dtype = "auto"
    cache_dir: str | None = None  # e5: where ONNX exports are kept; None = $XDG_CACHE_HOME/opticite
    # move Chinese vectors into the English frame (retrieval.language_shift); None = on for "e5" only
    language_shift: bool | None = None

    def shifts_language(self) -> bool:
        return self.backend == "e5" if self.language_shift is None else self.language_shift

    def prefixes(self) -> tuple[str, str]:
        """(query prefix, passage prefix): explicit ones win, else known model families."""
        auto_q, auto_p = "", ""
        name = self.model.lower().rsplit("/", 1)[-1]
        for family, q, p in _KNOWN_PREFIXES:
            if family in name:
                auto_q, auto_p = q, p
                break
        query = self.query_prefix if self.query_prefix is not None else auto_q
        passage = self.passage_prefix if self.passage_prefix is not None else auto_p
        return query, passage


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    if sys.platform == "linux" and not any(Path(p).exists() for p in ("/proc/driver/nvidia", "/dev/kfd")):
        return "cpu"  # no NVIDIA or ROCm driver: torch would say the same, without its ~400 MiB import
    import torch  # heavy, and only for "auto"

    return "cuda" if torch.cuda.is_available() else "cpu"
