"""The vector store behaviour suite, run against every embedded engine (edge and local)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from qdrant_client import QdrantClient, models

from retrieval.errors import DimensionMismatch, OutdatedCollection, UnknownBackend
from retrieval.hits import SearchFilters
from retrieval.search import KnowledgeBase
from retrieval.sparse import SparseEncoder, token_index
from retrieval.store import StoreConfig, VectorStore, filter_conditions
from tests.support.chunks import contract_chunks, make_chunk


def test_reindexing_a_document_leaves_the_count_unchanged(kb: KnowledgeBase) -> None:
    chunks = contract_chunks()
    assert kb.index_chunks(chunks) == len(chunks)
    assert kb.index_chunks(chunks) == len(chunks)
    assert kb.count() == kb.count(doc_id="doc-1") == len(chunks)


def test_deleting_a_document_removes_every_point_and_only_its_own(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks("doc-1") + contract_chunks("doc-2"))
    kb.delete_document("doc-1")
    assert kb.count(doc_id="doc-1") == 0
    assert kb.count(doc_id="doc-2") == len(contract_chunks())
    assert all(h.doc_id == "doc-2" for h in kb.search("governing law", top_k=20))


def test_replacing_a_document_drops_chunks_a_shorter_rechunk_no_longer_has(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks())
    kb.replace_document("doc-1", contract_chunks()[:3])
    assert kb.count(doc_id="doc-1") == 3


def test_a_document_stays_searchable_while_it_is_replaced(kb: KnowledgeBase) -> None:
    """The new chunks go in first (same ids overwrite), then only the stale tail is deleted."""
    kb.index_chunks(contract_chunks() + contract_chunks("doc-2"))
    backend = kb.store.backend
    upsert, delete = backend.upsert, backend.delete
    counts_after_each_write: list[int] = []

    def recording(write):  # type: ignore[no-untyped-def]
        def call(*args, **kwargs):  # type: ignore[no-untyped-def]
            write(*args, **kwargs)
            counts_after_each_write.append(kb.count(doc_id="doc-1"))

        return call

    backend.upsert, backend.delete = recording(upsert), recording(delete)  # type: ignore[method-assign]
    kb.replace_document("doc-1", contract_chunks()[:3])
    assert counts_after_each_write and all(n > 0 for n in counts_after_each_write)
    assert counts_after_each_write[-1] == 3 and kb.count(doc_id="doc-2") == len(contract_chunks())
    kb.replace_document("doc-1", [])
    assert kb.count(doc_id="doc-1") == 0


def test_count_by_kb(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks("doc-1", kb="kb-a") + contract_chunks("doc-2", kb="kb-b")[:2])
    assert (kb.count(kb="kb-a"), kb.count(kb="kb-b"), kb.count(kb="kb-c")) == (8, 2, 0)


def test_index_survives_closing_and_reopening(store_config: StoreConfig, kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks())
    kb.store.close()
    reopened = VectorStore(store_config, 384)
    try:
        assert reopened.count(doc_id="doc-1") == len(contract_chunks())
    finally:
        reopened.close()


def test_embedder_dimension_mismatch_is_a_typed_error_naming_the_fix(store_config: StoreConfig) -> None:
    VectorStore(store_config, 384).close()
    with pytest.raises(DimensionMismatch) as info:
        VectorStore(store_config, 768)
    assert "384" in info.value.message and "768" in info.value.message
    assert "embedder.model" in info.value.message and "store.collection" in info.value.message
    assert info.value.code == "dimension_mismatch"


def test_kb_filter_never_returns_another_kbs_chunks(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks("doc-a", kb="kb-a") + contract_chunks("doc-b", kb="kb-b"))
    for mode in ("hybrid", "dense", "sparse"):
        hits = kb.search("governing law of the agreement", SearchFilters(kb="kb-b"), mode=mode, top_k=50)
        assert hits and {h.kb for h in hits} == {"kb-b"}, mode


def test_a_kbs_scores_do_not_depend_on_another_kbs_content(kb: KnowledgeBase) -> None:
    """IDF is counted within the kb searched: another kb taking in the same terms changes nothing."""
    kb.index_chunks(contract_chunks("doc-a", kb="kb-a"))
    question = "governing law of New York; ninety days written notice"
    before = {mode: kb.search(question, SearchFilters(kb="kb-a"), mode=mode) for mode in ("sparse", "hybrid")}
    other = [
        make_chunk("doc-b", i, f"New York governing law, written notice {i}", kb="kb-b") for i in range(12)
    ]
    kb.index_chunks(other)
    for mode, hits in before.items():
        after = kb.search(question, SearchFilters(kb="kb-a"), mode=mode)
        assert [(h.chunk_id, h.score) for h in after] == [(h.chunk_id, h.score) for h in hits], mode
    assert {h.kb for h in kb.search(question, SearchFilters(kb="kb-b"), mode="sparse")} == {"kb-b"}


def test_a_collection_with_collection_wide_idf_is_refused_with_the_fix(store_config: StoreConfig) -> None:
    VectorStore(store_config, 384).close()
    if store_config.engine == "edge":  # the saved config of a collection built before per-kb IDF
        saved = Path(store_config.path) / store_config.collection / "edge_config.json"
        config = json.loads(saved.read_text())
        config["sparse_vectors"]["sparse"]["modifier"] = "idf"
        saved.write_text(json.dumps(config))
    else:
        client = QdrantClient(path=store_config.path)
        client.delete_collection(store_config.collection)
        client.create_collection(
            store_config.collection,
            vectors_config={"dense": models.VectorParams(size=384, distance=models.Distance.COSINE)},
            sparse_vectors_config={"sparse": models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        client.close()
    with pytest.raises(OutdatedCollection) as info:
        VectorStore(store_config, 384)
    assert "store.collection" in info.value.message and "opticite reindex" in info.value.message


def test_query_terms_weigh_their_idf_within_the_kb(store: VectorStore) -> None:
    encoder = SparseEncoder()
    chunks = contract_chunks("doc-a", kb="kb-a") + contract_chunks("doc-b", kb="kb-b")[:2]
    store.upsert(
        chunks, [[1.0] + [0.0] * 383] * len(chunks), [encoder.encode(c.embed_text()) for c in chunks]
    )
    query = encoder.encode_query("supplier courier")  # 2 of kb-a's 8 chunks, 1 of kb-b's 2 say supplier
    weighed = dict(zip(query.indices, store.weigh_terms(query, "kb-a").values, strict=True))
    supplier, courier = (token_index(encoder.terms(word)[0]) for word in ("supplier", "courier"))
    assert weighed[supplier] == pytest.approx(math.log(1 + 6.5 / 2.5))
    assert weighed[courier] == pytest.approx(math.log(1 + 7.5 / 1.5))
    in_b = dict(zip(query.indices, store.weigh_terms(query, "kb-b").values, strict=True))
    assert in_b[supplier] == pytest.approx(math.log(1 + 1.5 / 1.5))


def test_page_range_filter_matches_chunks_with_any_page_inside(kb: KnowledgeBase) -> None:
    chunks = [
        make_chunk("d", 0, "payment terms on page one", pages=(1,)),
        make_chunk("d", 1, "payment terms across pages two and three", pages=(2, 3)),
        make_chunk("d", 2, "payment terms on page five", pages=(5,)),
    ]
    kb.index_chunks(chunks)
    hits = kb.search("payment terms", SearchFilters(page_from=3, page_to=4), top_k=10)
    assert [h.chunk_id for h in hits] == [chunks[1].id]
    assert {h.chunk_id for h in kb.search("payment terms", SearchFilters(page_from=2), top_k=10)} == {
        chunks[1].id,
        chunks[2].id,
    }


def test_kind_tags_and_doc_filters(kb: KnowledgeBase) -> None:
    kb.index_chunks(
        [
            make_chunk("d1", 0, "price list for bolts and nuts", kind="table", tags=("prices",)),
            make_chunk("d1", 1, "prices are fixed for the first year", tags=("terms",)),
            make_chunk("d2", 0, "price of bolts rises with inflation", tags=("terms", "prices")),
        ]
    )
    query = "price of bolts"
    assert {h.kind for h in kb.search(query, SearchFilters(kind="table"))} == {"table"}
    assert {(h.doc_id, h.kind) for h in kb.search(query, SearchFilters(kind="text"))} == {
        ("d1", "text"),
        ("d2", "text"),
    }
    assert {h.doc_id for h in kb.search(query, SearchFilters(doc_ids=["d2"]))} == {"d2"}
    assert len(kb.search(query, SearchFilters(tags=["prices"]))) == 2


def test_hits_carry_regions_pages_and_filename(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks())
    hit = kb.search("courier or registered mail", top_k=1)[0]
    assert hit.chunk_id == contract_chunks()[6].id
    assert (hit.filename, hit.pages, hit.regions) == ("doc-1.pdf", [3], contract_chunks()[6].regions)


def test_unknown_engine_lists_the_known_ones(tmp_path: object) -> None:
    with pytest.raises(UnknownBackend, match="edge, local, server"):
        VectorStore(StoreConfig(engine="faiss"), 384)


def test_filter_conditions_are_all_required() -> None:
    flt = SearchFilters(kb="k", doc_ids=["a"], tags=["t"], kind="table", page_from=2, page_to=None)
    assert filter_conditions(flt) == [
        ("kb", "value", "k"),
        ("doc_id", "any", ["a"]),
        ("tags", "any", ["t"]),
        ("kind", "value", "table"),
        ("pages", "range", (2, None)),
    ]
    assert filter_conditions(SearchFilters()) == []
