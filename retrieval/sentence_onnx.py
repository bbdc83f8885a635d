"""A sentence-transformers model folder run in ONNX Runtime, with no torch at run time.

`local_engine` is the rule for the `local` backend: a model folder on disk whose modules are a transformers
encoder, mean pooling and (optionally) normalization, with a `tokenizer.json`, runs here on CPU (the
bundled all-MiniLM-L6-v2 is one); anything else (a hub name, another pooling, extra modules, a GPU) runs
in sentence-transformers. The encoder is exported once from its torch weights (`retrieval.onnx_export`,
cached under `cache_dir/sentence-transformers-onnx/<hash of the weights and recipe>/`); texts are cut to
the folder's `max_seq_length` by the `tokenizers` fast tokenizer, sorted by length, batched by count and
padded tokens (`BATCH_TOKENS`, which bounds ONNX Runtime's memory arena), padded per batch,
mean-pooled over the attention mask and L2-normalized as sentence-transformers does (cosine >= 0.9999 to
its vectors, tested).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from retrieval.embed_config import EmbedderConfig
from retrieval.onnx_export import BATCH_TOKENS, batches

if TYPE_CHECKING:
    from tokenizers import Tokenizer

    from retrieval.onnx_export import OnnxHidden

FAMILY = "sentence-transformers"  # the cache folder of these exports: <cache_dir>/sentence-transformers-onnx/
_TRANSFORMER = "sentence_transformers.models.Transformer"
_POOLING = "sentence_transformers.models.Pooling"
_NORMALIZE = "sentence_transformers.models.Normalize"
_WEIGHTS = ("model.safetensors", "pytorch_model.bin")


@dataclass(frozen=True)
class SentenceFolder:
    """What the ONNX path needs from a sentence-transformers folder."""

    path: Path
    weights: Path
    dim: int
    max_seq_length: int
    lowercase: bool  # sentence_bert_config's do_lower_case: texts lowered before the tokenizer
    normalize: bool  # a Normalize module follows the pooling


def read_folder(path: Path) -> SentenceFolder | str:
    """The folder's settings, or why it cannot run in ONNX Runtime (a sentence for the log)."""
    try:
        modules = json.loads((path / "modules.json").read_text(encoding="utf-8"))
        st_config = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
        types = [m["type"] for m in modules]
        pooling_dir = next(m["path"] for m in modules if m["type"] == _POOLING)
        pooling = json.loads((path / pooling_dir / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError, KeyError, StopIteration, TypeError) as exc:
        return f"not a sentence-transformers folder with mean pooling ({exc!r})"
    if types not in ([_TRANSFORMER, _POOLING], [_TRANSFORMER, _POOLING, _NORMALIZE]):
        return f"modules {types} are not a transformer, pooling and normalization"
    modes = {k for k, on in pooling.items() if k.startswith("pooling_mode") and on}
    if modes != {"pooling_mode_mean_tokens"} or modules[0].get("path", "") != "":
        return f"pooling {sorted(modes)} is not mean pooling over the folder's own encoder"
    weights = next((path / w for w in _WEIGHTS if (path / w).is_file()), None)
    if weights is None or not (path / "tokenizer.json").is_file():
        return "no model.safetensors / pytorch_model.bin or no tokenizer.json"
    return SentenceFolder(
        path=path,
        weights=weights,
        dim=int(pooling["word_embedding_dimension"]),
        max_seq_length=int(st_config["max_seq_length"]),
        lowercase=bool(st_config.get("do_lower_case", False)),
        normalize=_NORMALIZE in types,
    )


def local_engine(model: str, device: str) -> SentenceFolder | None:
    """The rule for backend `local`: the folder to run in ONNX Runtime, or None for sentence-transformers
    (a GPU, a hub name, or a folder `read_folder` turns down)."""
    if not device.startswith("cpu") or not model or not Path(model).is_dir():
        return None
    folder = read_folder(Path(model))
    return folder if isinstance(folder, SentenceFolder) else None


class OnnxSentenceEmbedder:
    """A mean-pooling sentence-transformers folder in ONNX Runtime: an `Embedder` giving its vectors.

    The tokenizer loads at construction (a few ms); the ONNX session on first embed, exporting the torch
    encoder first when no cached export matches the weights. `threads` caps ONNX Runtime's threads."""

    def __init__(self, config: EmbedderConfig, folder: SentenceFolder, threads: int | None = None) -> None:
        from tokenizers import Tokenizer

        self.config = config
        self.folder = folder
        self.threads = threads
        self._query_prefix, self._passage_prefix = config.prefixes()
        self._lock = threading.Lock()
        self._session: OnnxHidden | None = None
        tokenizer_file = str(folder.path / "tokenizer.json")
        self._counter: Tokenizer = Tokenizer.from_file(tokenizer_file)  # whole texts, no specials
        self._counter.no_padding()
        self._counter.no_truncation()
        self._tokenizer: Tokenizer = Tokenizer.from_file(tokenizer_file)  # what the encoder reads
        padding = self._tokenizer.padding
        self._pad_id = int(padding["pad_id"]) if padding else 0
        self._tokenizer.no_padding()  # each batch is padded to its own longest text below
        self._tokenizer.enable_truncation(folder.max_seq_length)

    @property
    def dim(self) -> int:
        return self.folder.dim

    @property
    def max_tokens(self) -> int:
        return self.folder.max_seq_length - 2  # room for [CLS] and [SEP]

    def count_tokens(self, text: str) -> int:
        return len(self._counter.encode(self._cased(text), add_special_tokens=False).ids)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._encode([self._query_prefix + text])[0]

    def _cased(self, text: str) -> str:
        return text.lower() if self.folder.lowercase else text

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        # sentence-transformers strips each text, lowers it where the folder says so, then truncates
        encodings = self._tokenizer.encode_batch([self._cased(t.strip()) for t in texts])
        ids = [e.ids for e in encodings]
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]), reverse=True)
        vectors = np.empty((len(texts), self.folder.dim), dtype=np.float32)
        for rows in batches(order, [len(i) for i in ids], self.config.batch_size, BATCH_TOKENS):
            vectors[rows] = self._pooled([ids[i] for i in rows])
        if self.config.normalize or self.folder.normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.tolist()  # type: ignore[no-any-return]

    def _pooled(self, batch: list[list[int]]) -> npt.NDArray[np.float32]:
        """Mean of the hidden states over each text's tokens ([CLS] and [SEP] included), as
        sentence-transformers pools."""
        longest = max(len(row) for row in batch)
        input_ids = np.full((len(batch), longest), self._pad_id, dtype=np.int64)
        mask = np.zeros((len(batch), longest), dtype=np.int64)
        for r, row in enumerate(batch):
            input_ids[r, : len(row)] = row
            mask[r, : len(row)] = 1
        hidden = self._onnx()(input_ids, mask)
        weights = mask[:, :, None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
        return pooled  # type: ignore[no-any-return]

    def _onnx(self) -> OnnxHidden:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    from retrieval.onnx_export import OnnxHidden, default_cache_dir, onnx_path

                    cache = Path(self.config.cache_dir) if self.config.cache_dir else default_cache_dir()
                    path = onnx_path(self.folder.path, self.folder.weights, "float32", cache, FAMILY)
                    self._session = OnnxHidden(path, self.threads)
        return self._session


def torch_encoder(folder: Path) -> Any:
    """The folder's float32 transformers encoder (what `retrieval.onnx_export` exports)."""
    from transformers import AutoModel

    return AutoModel.from_pretrained(str(folder)).float().eval()
