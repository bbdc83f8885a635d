"""Transformer encoders in ONNX Runtime: the fastest CPU path for the in-process embedders.

A torch encoder (the `BertModel` of `retrieval.e5`, or a sentence-transformers folder's transformers model
for `retrieval.sentence_onnx`) is exported to ONNX once, in a child process, and, for `dtype: int8` (e5 only), quantized with
ONNX Runtime's dynamic quantization (int8 weights per output channel, activations quantized per batch
at run time). Both files are cached on disk under `cache_dir/<family>-onnx/<key>/` (family "e5" or
"sentence-transformers"), the key hashing the weights file and `RECIPE`, so a changed model or recipe
never reuses a stale export. Files are written to a temporary name and renamed, so processes exporting
at once never read a half-written one.

The word-embedding table is not part of the graph: the export saves it beside the ONNX files as
`words.npy`, which the session memory-maps and looks up itself, so only the rows of tokens actually seen are
read into memory. For e5 that table is 96M of its 118M weights (384 MB in float32): kept in the graph, ONNX
Runtime held it twice while loading (the parsed model and the session's copy).

Only the linear layers' MatMuls are quantized: the attention products (two activations) and the
embedding lookup stay float32 (see docs/retrieval.md for what each choice cost in hit@5).
"""

from __future__ import annotations

import hashlib
import importlib
import mmap
import os
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

RECIPE = "export-opset17-words-outside+dynamic-int8-per-channel-linear-v2"  # bump when export or quantization changes
INPUTS = ("inputs_embeds", "attention_mask")
WORDS = "words.npy"  # the word-embedding table, float32 [vocab, hidden]
# family -> the function building its float32 torch encoder from a path (imported in the export's child)
ENCODERS = {"e5": "retrieval.e5:torch_bert", "sentence-transformers": "retrieval.sentence_onnx:torch_encoder"}
# ONNX Runtime's arena keeps the largest batch's activations: 32 texts of 256 tokens held +571 MiB of RSS
# after the batch, 8 of them +170 MiB, at the same CPU time (256 texts of 60-180 words, a scratch script);
# so a batch stops at this many padded tokens (8 chunks of ~120 tokens, 4 of 256) as well as at
# `batch_size` texts. 1,024 rather than 2,048: e5 over cuad-dev's chunks +107 instead of +180 MiB at 2%
# more CPU, MiniLM no slower (docs/benchmarks.md, "e5's memory")
BATCH_TOKENS = 1024


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "opticite"


def model_key(weights: Path) -> str:
    """Hash of the weights file and the recipe: names the folder of its exports."""
    digest = hashlib.sha256(RECIPE.encode() + b"\0")
    with weights.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def onnx_path(source: Path, weights: Path, dtype: str, cache_dir: Path, family: str) -> Path:
    """The cached ONNX file for `dtype` ("float32" or "int8") of the `family` encoder read from `source`
    (e5: its weights file; sentence-transformers: the model folder), `weights` being the file whose hash
    keys the cache. A missing export is written by a child process (`_export_in_child`)."""
    folder = cache_dir / f"{family}-onnx" / model_key(weights)
    target = folder / f"{dtype}.onnx"
    if not target.is_file() or not (folder / WORDS).is_file():
        folder.mkdir(parents=True, exist_ok=True)
        _export_in_child(family, source, folder, dtype)
    return target


def write_exports(family: str, source: Path, folder: Path, dtype: str) -> None:
    """Build the float32 torch encoder, save its word table and ONNX graph, and quantize for int8."""
    fp32 = folder / "float32.onnx"
    if not fp32.is_file() or not (folder / WORDS).is_file():
        module, function = ENCODERS[family].split(":")
        model = getattr(importlib.import_module(module), function)(source)
        _write_atomically(folder / WORDS, lambda tmp: _save_words(model, tmp))
        _write_atomically(fp32, lambda tmp: export(model, tmp))
        del model
    int8 = folder / "int8.onnx"
    if dtype == "int8" and not int8.is_file():
        _write_atomically(int8, lambda tmp: quantize(fp32, tmp))


def export(model: Any, path: Path) -> None:
    """A float32 transformers encoder (`BertModel` and kin) -> ONNX (inputs_embeds, attention_mask) -> last
    hidden state, any batch and length. The word embeddings are looked up outside (`WORDS`)."""
    import torch

    class _Hidden(torch.nn.Module):
        def __init__(self, bert: Any) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return self.bert(inputs_embeds=inputs_embeds, attention_mask=attention_mask).last_hidden_state  # type: ignore[no-any-return]

    ids = torch.tensor([[0, 100, 200, 2], [0, 300, 2, 1]])  # padded rows: the mask path is traced
    mask = (ids != 1).long()
    embeds = model.get_input_embeddings()(ids).float()
    axes = {0: "batch", 1: "tokens"}
    # The tracer warns about Python bools taken from shapes (transformers' mask padding, never taken for an
    # encoder's own mask) and that this exporter is the legacy one; neither matters here, and under
    # warnings-as-errors a warning raised inside the trace breaks it.
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Hidden(model.float()).eval(),
            (embeds, mask),
            str(path),
            input_names=list(INPUTS),
            output_names=["hidden"],
            dynamic_axes={"inputs_embeds": axes, "attention_mask": axes, "hidden": axes},
            opset_version=17,
            dynamo=False,  # the TorchScript exporter: no onnxscript dependency, a plain static graph
        )


def quantize(fp32: Path, path: Path) -> None:
    """Dynamic int8 quantization of the linear layers (weights per output channel)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(fp32), load_external_data=False).graph
    weights = {init.name for init in graph.initializer}
    # a MatMul of two activations (attention scores, their product with the values) stays float32
    activations_only = [n.name for n in graph.node if n.op_type == "MatMul" and not set(n.input) & weights]
    quantize_dynamic(
        str(fp32),
        str(path),
        op_types_to_quantize=["MatMul"],
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=activations_only,
    )


def batches(order: list[int], lengths: list[int], size: int, max_tokens: int) -> list[list[int]]:
    """`order` (longest first) cut into batches of at most `size` texts and `max_tokens` padded tokens
    (a batch's rows times its first, longest, text); a text longer than `max_tokens` goes alone."""
    out: list[list[int]] = []
    for i in order:
        if out and len(out[-1]) < size and (len(out[-1]) + 1) * lengths[out[-1][0]] <= max_tokens:
            out[-1].append(i)
        else:
            out.append([i])
    return out


class OnnxHidden:
    """An ONNX Runtime session: (input_ids, attention_mask) int64 [batch, tokens] -> hidden states. The
    ids are looked up in the memory-mapped `WORDS` table beside `path`."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self._words, self._map = _map_words(path.parent / WORDS)
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            options.intra_op_num_threads = threads
        self.path = path
        self._session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(
        self, input_ids: npt.NDArray[np.int64], attention_mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        embeds = np.take(self._words, input_ids, axis=0)
        # the rows read stay in the page cache, but out of this process's RSS: each fault maps the pages
        # around it too, so the mapped table grew to 217 MiB over cuad-dev's ten contracts
        self._map.madvise(mmap.MADV_DONTNEED)
        (hidden,) = self._session.run(None, {"inputs_embeds": embeds, "attention_mask": attention_mask})
        return np.asarray(hidden, dtype=np.float32)


def _map_words(path: Path) -> tuple[npt.NDArray[np.float32], mmap.mmap]:
    """The `.npy` table as a read-only array over a memory map of the file, and that map."""
    with path.open("rb") as f:
        version = np.lib.format.read_magic(f)
        header = (
            np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        )
        shape, fortran, dtype = header(f)
        offset = f.tell()
        table = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    if fortran or dtype != np.float32 or len(shape) != 2:
        raise ValueError(f"{path} is not a float32 [vocab, hidden] table")
    return np.ndarray(shape, dtype=dtype, buffer=table, offset=offset), table


def _export_in_child(family: str, source: Path, folder: Path, dtype: str) -> None:
    """`write_exports` in a child process: torch and the torch model (e5's peaks at ~1.4 GB) never enter
    the serving process, which afterwards holds only the ONNX session."""
    root = str(Path(__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "retrieval.onnx_export", family, str(source), str(folder), dtype]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = done.stderr.strip().splitlines()[-5:]
        raise RuntimeError(
            f"exporting the {family} encoder from {source} to ONNX failed (exit {done.returncode}): "
            + " | ".join(tail)
        )


def _save_words(model: Any, path: Path) -> None:
    with path.open("wb") as f:
        np.save(f, model.get_input_embeddings().weight.detach().float().numpy())


def _write_atomically(path: Path, write: Callable[[Path], None]) -> None:
    fd, name = tempfile.mkstemp(prefix=path.stem + ".", suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        write(tmp)
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":  # the child of `_export_in_child`: FAMILY SOURCE FOLDER DTYPE
    write_exports(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
