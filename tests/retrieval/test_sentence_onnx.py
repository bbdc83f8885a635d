"""retrieval.sentence_onnx: the bundled all-MiniLM-L6-v2 in ONNX Runtime gives sentence-transformers' vectors
and token counts, is exported once and reused, and embeds without importing torch."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder, _bundled_model_path, build_embedder
from retrieval.onnx_export import batches
from retrieval.sentence_onnx import FAMILY, OnnxSentenceEmbedder, local_engine, read_folder

pytest.importorskip("onnx")

ROOT = Path(__file__).resolve().parents[2]
TEXTS = [
    "The contract is governed by the laws of the State of Delaware.",
    "  Either party may terminate this Agreement upon thirty (30) days' written notice.  ",
    "Ünïcödé façade — the Licensee's obligations (§ 12.3) survive termination.",
    "合同的有效期是多久？",
    "x",
    "The Distributor shall purchase minimum quantities. " * 40,  # past 256 tokens: truncated alike
]


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("st-onnx-cache")


@pytest.fixture(scope="module")
def onnx(cache: Path) -> OnnxSentenceEmbedder:
    embedder = build_embedder(
        EmbedderConfig(backend="local", device="cpu", cache_dir=str(cache), batch_size=4)
    )
    assert isinstance(embedder, OnnxSentenceEmbedder)
    return embedder


def test_onnx_gives_the_sentence_transformers_vectors(
    onnx: OnnxSentenceEmbedder, minilm: SentenceTransformerEmbedder
) -> None:
    vectors = np.asarray(onnx.embed_passages(TEXTS))
    reference = np.asarray(minilm.embed_passages(TEXTS))
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    cosine = (vectors * reference).sum(axis=1)
    assert cosine.min() >= 0.9999, dict(zip(TEXTS, cosine.round(6), strict=True))
    query = np.asarray(onnx.embed_query("Which law governs the agreement?"))
    assert int(np.argmax(vectors @ query)) == 0


def test_onnx_counts_tokens_and_sizes_like_sentence_transformers(
    onnx: OnnxSentenceEmbedder, minilm: SentenceTransformerEmbedder
) -> None:
    assert [onnx.count_tokens(t) for t in TEXTS] == [minilm.count_tokens(t) for t in TEXTS]
    assert (onnx.dim, onnx.max_tokens) == (minilm.dim, minilm.max_tokens) == (384, 254)


def test_the_export_is_cached_by_weights_and_reused(
    monkeypatch: pytest.MonkeyPatch, cache: Path, onnx: OnnxSentenceEmbedder
) -> None:
    first = onnx.embed_query("load")
    (folder,) = (cache / f"{FAMILY}-onnx").iterdir()
    assert sorted(p.name for p in folder.iterdir()) == ["float32.onnx", "words.npy"]  # no temporary left
    stamp = (folder / "float32.onnx").stat().st_mtime_ns
    again = build_embedder(EmbedderConfig(backend="local", device="cpu", cache_dir=str(cache)))
    assert isinstance(again, OnnxSentenceEmbedder)
    monkeypatch.setattr("retrieval.onnx_export._export_in_child", _no_export)
    assert np.allclose(again.embed_query("load"), first, atol=1e-6)
    assert (folder / "float32.onnx").stat().st_mtime_ns == stamp


def _no_export(*_: object) -> None:
    raise AssertionError("the cached export should have been used")


def test_exporting_and_embedding_import_no_torch(tmp_path: Path) -> None:
    # an empty cache: the export runs in a child process, so torch never enters this one
    script = (
        "import sys\n"
        "from retrieval.embed import EmbedderConfig, build_embedder\n"
        f"e = build_embedder(EmbedderConfig(backend='local', device='cpu', cache_dir={str(tmp_path)!r}))\n"
        "v = e.embed_passages(['notice period', 'governing law'])\n"
        "print(type(e).__name__, len(v[0]), 'torch' in sys.modules, 'sentence_transformers' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True, timeout=600
    )
    assert out.stdout.split() == ["OnnxSentenceEmbedder", "384", "False", "False"], out.stderr
    assert [p.name for p in tmp_path.glob("*/*/*")] and all(
        p.suffix in (".onnx", ".npy") for p in tmp_path.glob("*/*/*")
    )


def test_only_a_mean_pooling_folder_on_cpu_runs_in_onnx(tmp_path: Path) -> None:
    bundled = _bundled_model_path()
    assert local_engine(bundled, "cpu") is not None
    assert local_engine(bundled, "cuda") is None  # sentence-transformers on a GPU
    assert local_engine("sentence-transformers/all-mpnet-base-v2", "cpu") is None  # a hub name
    cls = _copy_folder(
        Path(bundled), tmp_path / "cls", pooling_mode_cls_token=True, pooling_mode_mean_tokens=False
    )
    assert "mean pooling" in str(read_folder(cls))
    assert local_engine(str(cls), "cpu") is None
    assert "sentence-transformers folder" in str(read_folder(tmp_path))  # no modules.json


def _copy_folder(source: Path, target: Path, **pooling: bool) -> Path:
    """The bundled folder's configuration files (weights linked), with the pooling changed."""
    (target / "1_Pooling").mkdir(parents=True)
    for name in ("modules.json", "sentence_bert_config.json", "tokenizer.json"):
        (target / name).write_bytes((source / name).read_bytes())
    (target / "model.safetensors").symlink_to(source / "model.safetensors")
    config = json.loads((source / "1_Pooling/config.json").read_text()) | pooling
    (target / "1_Pooling/config.json").write_text(json.dumps(config))
    return target


def test_the_default_local_model_is_recorded_as_before() -> None:
    from retrieval.embed import embedder_name

    # same vectors as sentence-transformers (above): kbs built either way stay searchable without a reindex
    assert embedder_name(EmbedderConfig(backend="local")) == "local:all-MiniLM-L6-v2"


def test_batches_stop_at_their_count_or_padded_tokens() -> None:
    lengths = [256, 256, 120, 120, 120, 120, 10, 10]
    assert batches(list(range(8)), lengths, size=32, max_tokens=512) == [[0, 1], [2, 3, 4, 5], [6, 7]]
    assert batches(list(range(8)), lengths, size=3, max_tokens=4096) == [[0, 1, 2], [3, 4, 5], [6, 7]]
    assert batches([0, 1], [900, 10], size=32, max_tokens=512) == [[0], [1]]  # too long: alone


def test_a_failed_export_says_why_and_leaves_no_file(tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(_bundled_model_path(), folder)
    (folder / "model.safetensors").write_bytes(b"not a safetensors file")
    embedder = build_embedder(
        EmbedderConfig(backend="local", model=str(folder), device="cpu", cache_dir=str(tmp_path / "cache"))
    )
    assert isinstance(embedder, OnnxSentenceEmbedder)
    with pytest.raises(RuntimeError, match="exporting the sentence-transformers encoder .* failed"):
        embedder.embed_query("notice period")
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]
