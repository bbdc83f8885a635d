"""Search over the knowledge base: hybrid, dense and sparse modes, reranker wiring, LlamaIndex."""

from __future__ import annotations

from collections.abc import Sequence

from llama_index.core.schema import QueryBundle

from retrieval.hits import SearchFilters, SearchHit, hit_page, pages_first
from retrieval.llamaindex import KnowledgeBaseRetriever
from retrieval.rerank import CrossEncoderReranker
from retrieval.search import KnowledgeBase, SearchConfig
from tests.support.chunks import contract_chunks, make_chunk

# Near-identical clauses that differ only by their number: meaning cannot tell them apart, terms can.
CLAUSES = [
    f"Section {n} The obligations under this section survive termination of the Agreement for five years."
    for n in ("14.2.1", "14.2.3", "14.2.5", "12.7.4", "14.2.7", "11.2.7", "14.1.7", "7.14.2")
]
TARGET = 4  # "14.2.7"


def test_hybrid_finds_an_exact_clause_number_that_dense_ranks_lower(kb: KnowledgeBase) -> None:
    chunks = [make_chunk("d", i, text) for i, text in enumerate(CLAUSES)]
    kb.index_chunks(chunks)
    query = "What survives under section 14.2.7?"
    dense = [h.chunk_id for h in kb.search(query, mode="dense", top_k=8)]
    sparse = [h.chunk_id for h in kb.search(query, mode="sparse", top_k=8)]
    hybrid = [h.chunk_id for h in kb.search(query, mode="hybrid", top_k=8)]
    target = chunks[TARGET].id
    assert sparse[0] == target
    assert dense.index(target) > 0
    # RRF can put one chunk above the target: the one dense ranks first *if* it is also second for
    # sparse. The other clauses tie on terms, so which of them is second varies from run to run;
    # what fusion guarantees is the exact clause in the top two, never below where dense put it.
    assert hybrid.index(target) <= min(1, dense.index(target))


def test_rrf_weights_let_one_ranking_lead_and_dbsf_fuses_scores(kb: KnowledgeBase) -> None:
    chunks = [make_chunk("d", i, text) for i, text in enumerate(CLAUSES)]
    kb.index_chunks(chunks)
    query = "What survives under section 14.2.7?"
    dense = [h.chunk_id for h in kb.search(query, mode="dense", top_k=8)]

    def fused(**config: object) -> list[str]:
        kb.config = SearchConfig(**config)  # type: ignore[arg-type]
        return [h.chunk_id for h in kb.search(query, mode="hybrid", top_k=8)]

    assert fused(rrf_weights=(1.0, 0.01))[0] == dense[0] != chunks[TARGET].id
    assert fused(rrf_weights=(0.01, 1.0))[0] == chunks[TARGET].id
    dbsf = fused(fusion="dbsf")
    assert sorted(dbsf) == sorted(c.id for c in chunks) and dbsf[0] == chunks[TARGET].id


def test_modes_rank_by_meaning_and_by_terms(kb: KnowledgeBase) -> None:
    chunks = contract_chunks()
    kb.index_chunks(chunks)
    assert kb.search("Which jurisdiction's law applies?", mode="dense", top_k=1)[0].chunk_id == chunks[2].id
    assert kb.search("courier registered mail", mode="sparse", top_k=1)[0].chunk_id == chunks[6].id
    hits = kb.search("how long until the invoice must be paid", top_k=3)
    assert chunks[3].id in [h.chunk_id for h in hits]
    assert len(hits) == 3 and hits[0].score >= hits[-1].score


# Three passages of one page match the question best; the next pages match it less.
LATE_PAYMENT = [
    ("Late payment bears interest at 1.5% per month on every late payment.", 1),
    ("Interest on a late payment accrues daily.", 1),
    ("Late payment interest is compounded monthly.", 1),
    ("A late payment is one made after thirty days.", 2),
    ("Interest rates are set by the lender.", 3),
]


def test_each_page_comes_once_before_any_page_twice(kb: KnowledgeBase) -> None:
    chunks = [make_chunk("d", i, text, pages=(page,)) for i, (text, page) in enumerate(LATE_PAYMENT)]
    kb.index_chunks(chunks)
    query = "late payment interest"
    ranked = kb.search(query, mode="sparse", top_k=5)
    assert [hit_page(h) for h in ranked] == [1, 1, 1, 2, 3]  # what answers read
    shown = kb.search(query, mode="sparse", top_k=3, distinct_pages=True)
    assert [h.chunk_id for h in shown] == [ranked[0].chunk_id, ranked[3].chunk_id, ranked[4].chunk_id]
    shown = kb.search(query, mode="sparse", top_k=5, distinct_pages=True)
    assert [h.chunk_id for h in shown] == [ranked[i].chunk_id for i in (0, 3, 4, 1, 2)]


def test_pages_are_told_apart_by_document_and_by_where_most_text_lies() -> None:
    def hit(doc: str, n: int, pages: tuple[int, ...], text: str = "") -> SearchHit:
        chunk = make_chunk(doc, n, text, pages=pages)
        return SearchHit(**chunk.model_dump(exclude={"id", "ordinal", "tags"}), chunk_id=chunk.id, score=1.0)

    a1, b1, a1_again = hit("a", 0, (1,)), hit("b", 0, (1,)), hit("a", 1, (1,))
    assert pages_first([a1, a1_again, b1], 3) == [a1, b1, a1_again]
    spanning = hit("a", 2, (1, 2))
    spanning.regions[1].text = "most of the clause lies on the second page"
    assert hit_page(spanning) == 2 and pages_first([a1, spanning, a1_again], 2) == [a1, spanning]


def test_sparse_search_with_no_terms_returns_nothing(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks())
    assert kb.search("?!", mode="sparse") == []


def test_config_mode_and_top_k_are_the_defaults(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks())
    kb.config = kb.config.model_copy(update={"top_k": 2, "mode": "sparse"})
    assert len(kb.search("the party shall")) == 2


class ReverseScorer:
    """A ten-line stand-in cross-encoder: prefers shorter passages, records what it was asked."""

    def __init__(self) -> None:
        self.pairs: list[tuple[str, str]] = []

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        self.pairs.extend(pairs)
        return [-float(len(p)) for _, p in pairs]


def test_reranker_reorders_the_candidates_and_cuts_to_top_k(kb: KnowledgeBase) -> None:
    chunks = contract_chunks()
    kb.index_chunks(chunks)
    scorer = ReverseScorer()
    kb.reranker = CrossEncoderReranker("fake", scorer=scorer)
    kb.config = kb.config.model_copy(update={"rerank_candidates": 6})
    hits = kb.search("agreement", top_k=2)
    assert len(scorer.pairs) == 6 and {q for q, _ in scorer.pairs} == {"agreement"}
    shortest = sorted((p for _, p in scorer.pairs), key=len)[:2]
    assert [h.markdown for h in hits] == shortest
    assert hits[0].score == -len(shortest[0])


def test_reranker_model_in_config_is_wired_and_off_by_default(kb: KnowledgeBase) -> None:
    assert kb.reranker is None
    configured = KnowledgeBase(kb.store, kb.embedder, kb.sparse, SearchConfig(reranker="some/cross-encoder"))
    assert isinstance(configured.reranker, CrossEncoderReranker)
    assert configured.reranker.model_name == "some/cross-encoder"  # loaded lazily, on first rerank


def test_llamaindex_retriever_returns_nodes_with_citation_metadata(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks("doc-a", kb="kb-a") + contract_chunks("doc-b", kb="kb-b"))
    retriever = KnowledgeBaseRetriever(kb, SearchFilters(kb="kb-b"), top_k=3)
    nodes = retriever.retrieve(QueryBundle("governing law"))
    assert len(nodes) == 3
    top = nodes[0]
    assert top.node.node_id == contract_chunks("doc-b")[2].id
    assert top.node.get_content() == contract_chunks()[2].markdown
    meta = top.node.metadata
    assert (meta["doc_id"], meta["filename"], meta["pages"]) == ("doc-b", "doc-b.pdf", [1])
    assert meta["regions"] == [{"page": 1, "bbox": [0.1, 0.2, 0.9, 0.3]}]
    assert isinstance(top.score, float)
    assert all(n.node.metadata["kb"] == "kb-b" for n in nodes)


def test_hits_round_trip_to_public_json(kb: KnowledgeBase) -> None:
    kb.index_chunks(contract_chunks())
    hit: SearchHit = kb.search("warranty defects", top_k=1)[0]
    public = hit.to_public()
    assert public["chunk_id"] == contract_chunks()[5].id and public["regions"][0]["page"] == 2


# Clauses that name an end in passing, and the agreement's own term statement, worded unlike the question.
ENDINGS = [
    "At the end of each calendar quarter the Supplier shall send the Buyer a report of the Goods delivered.",
    "The Buyer may end any purchase order before shipment by written notice to the Supplier.",
    "Products reaching the end of their shelf life shall be destroyed at the Supplier's expense.",
    "Each party shall keep the other's confidential information secret until the end of the relationship.",
    "Invoices issued near the end of a month are due thirty days after the end of that month.",
    "The Supplier shall end deliveries of a discontinued product after six months' notice.",
]
TERM = "This Agreement shall commence on the Effective Date and continue for a period of five (5) years."


def test_an_expiry_question_gets_its_documents_term_statement_first(kb: KnowledgeBase) -> None:
    """ "When does it end?" shares a word with every clause naming an end and none with the term statement;
    the statement still leads its document's hits, and a question that is not about expiry keeps its order."""
    chunks = [make_chunk("supply", i, text, pages=(i + 1,)) for i, text in enumerate([*ENDINGS, TERM])]
    chunks += [make_chunk("other", i, text) for i, text in enumerate(ENDINGS)]
    kb.index_chunks(chunks)
    hits = kb.search("when does it end?", SearchFilters(doc_ids=["supply"]), top_k=3)
    assert hits[0].markdown == TERM and len({h.chunk_id for h in hits}) == 3
    # across the kb, before the other hits of its document (the other document has no term statement)
    hits = kb.search("when does it end?", SearchFilters(kb="kb-a"), top_k=4)
    supply = [h.markdown for h in hits if h.doc_id == "supply"]
    assert supply[0] == TERM and len(supply) > 1 and len({h.chunk_id for h in hits}) == 4
    hits = kb.search("when are invoices due?", SearchFilters(doc_ids=["supply"]), top_k=3)
    assert hits[0].markdown != TERM
