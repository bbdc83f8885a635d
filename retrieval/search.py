"""The knowledge base: index chunks (dense + sparse vectors into the store) and search them.

Hybrid search runs a dense and a sparse prefetch in Qdrant and fuses them with RRF. A search of a whole
knowledge base whose question names documents ("... of the Services Agreement between Acme and Beta")
continues within those documents for the rest of the question (`retrieval.scope`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from pydantic import BaseModel, Field

from ingest.chunking import CARD_HEADING, Chunk
from retrieval.card_fields import asked_field, put_cards_first
from retrieval.cross_script import fuse_across_scripts, has_other_script
from retrieval.embed import Embedder
from retrieval.extractive import asks_expiry, states_term
from retrieval.financial_metrics import (
    Statement,
    input_coverage,
    is_statement,
    statement_kinds,
    statement_query,
    with_metric_inputs,
)
from retrieval.hits import SearchFilters, SearchHit, SearchMode, lead_with, pages_first
from retrieval.rerank import build_reranker
from retrieval.scope import named_documents
from retrieval.sentences import without_instructions
from retrieval.sparse import SparseEncoder, token_index
from retrieval.store import Fusion, StoreQuery, VectorStore
from retrieval.unmentioned import asked_names

CARD_DOCUMENTS = 2  # a card question looks at the cards of this many of the first hits' documents
CARD_STATEMENTS = 4  # statements per card: title, parties, date, effective date
FILING_CARDS = 10  # card statements a search across a kb reads for the filings its question may name
# an expiry question looks for its document's term statement among this many of the document's hits
TERM_CANDIDATES = 20
STATEMENT_CANDIDATES = 30  # table chunks a metric question's statement query looks at
PAGE_POOL = 2  # `distinct_pages` reads this many times top_k hits, so other pages stand in for repeats


class SearchConfig(BaseModel):
    mode: SearchMode = "hybrid"
    top_k: int = Field(default=10, ge=1)
    prefetch_k: int = Field(default=50, ge=1)  # candidates from each of dense and sparse before fusion
    fusion: Fusion = "rrf"
    rrf_k: int | None = None  # None = Qdrant's default
    # (dense, sparse): dense leads, terms break its ties (tuned on the CUAD tuning half, docs/retrieval.md)
    rrf_weights: tuple[float, float] | None = (3.0, 1.0)
    index_batch: int = Field(default=64, ge=1)  # chunks embedded and upserted at a time
    reranker: str | None = None  # a cross-encoder model name or path; None = off
    rerank_candidates: int = Field(default=30, ge=1)
    # a metric question's sparse query also asks for the statement lines of its inputs, and the primary
    # statements holding them come first (retrieval.financial_metrics; measured in docs/benchmarks.md)
    metric_inputs: bool = True


class Reranker(Protocol):
    def rerank(self, query: str, hits: list[SearchHit], top_k: int) -> list[SearchHit]: ...


class KnowledgeBase:
    def __init__(
        self,
        store: VectorStore,
        embedder: Embedder,
        sparse: SparseEncoder,
        config: SearchConfig | None = None,
        reranker: Reranker | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.sparse = sparse
        self.config = config or SearchConfig()
        self.reranker = reranker or build_reranker(self.config.reranker)

    def index_chunks(self, chunks: Sequence[Chunk]) -> int:
        """Embed and upsert; ids are the chunk ids, so indexing a document again replaces it."""
        size = self.config.index_batch
        for i in range(0, len(chunks), size):
            batch = chunks[i : i + size]
            texts = [c.embed_text() for c in batch]
            self.store.upsert(
                batch, self.embedder.embed_passages(texts), [self.sparse.encode(t) for t in texts]
            )
        self.store.optimize()  # edge: a no-op until a segment passes the indexing threshold
        return len(chunks)

    def replace_document(self, doc_id: str, chunks: Sequence[Chunk]) -> int:
        """Index the new chunks, then drop the old ones past them (a re-chunk may make fewer).

        Chunk ids are fixed per (document, ordinal), so the upsert overwrites in place and the
        document stays searchable throughout a reindex."""
        count = self.index_chunks(chunks)
        self.store.delete_document(doc_id, keep_below=len(chunks))
        return count

    def replace_chunks(
        self, doc_id: str, changed: Sequence[Chunk], count: int, previous: Mapping[str, str] | None = None
    ) -> int:
        """Write only `changed` chunks of a document that now has `count`, and drop the ones past them.

        `previous` maps the embedded text of the document's chunks as stored to their ids: a changed
        chunk with the same text (one that only moved to another ordinal) keeps its stored vector instead
        of being embedded again. Returns the number of chunks embedded."""
        previous = previous or {}
        texts = [c.embed_text() for c in changed]
        stored = self.store.dense_vectors(list({previous[t] for t in texts if t in previous}))
        fresh = [t for t in texts if previous.get(t) not in stored]
        embedded = dict(zip(fresh, self.embedder.embed_passages(fresh) if fresh else [], strict=True))
        dense = [embedded[t] if t in embedded else stored[previous[t]] for t in texts]
        # one upsert, and a delete only when there is something past `count`: each is a write to disk
        self.store.upsert(changed, dense, [self.sparse.encode(t) for t in texts])
        if self.store.count(doc_id) > count:
            self.store.delete_document(doc_id, keep_below=count)
        return len(fresh)

    def delete_document(self, doc_id: str) -> None:
        self.store.delete_document(doc_id)

    def count(self, doc_id: str | None = None, kb: str | None = None) -> int:
        return self.store.count(doc_id=doc_id, kb=kb)

    def search(
        self,
        query: str,
        filters: SearchFilters | None = None,
        mode: SearchMode | None = None,
        top_k: int | None = None,
        distinct_pages: bool = False,
    ) -> list[SearchHit]:
        """The `top_k` best hits in rank order, which answers read (a page's second chunk often holds the
        rest of a clause or table). `distinct_pages`: each page once before any page twice
        (`hits.pages_first`), what a reader of search results is shown."""
        filters = filters or SearchFilters()
        top_k = top_k or self.config.top_k
        if distinct_pages:
            return pages_first(self.search(query, filters, mode, top_k * PAGE_POOL), top_k)
        # the statements a question names may be named in its instructions ("Base your answer on the
        # statement of cash flows."), whose other words only pull search away from what is asked
        kinds = statement_kinds(query)
        query = without_instructions(query)
        request = self._request(query, filters, mode, top_k)
        hits = self._search(query, request, top_k)
        if filters.doc_ids is None and (scope := named_documents(query, hits + self._filings(request))):
            query, filters = scope.query, filters.model_copy(update={"doc_ids": scope.doc_ids})
            request = self._request(query, filters, mode, top_k)
            hits = self._search(query, request, top_k)
        if hits and (field := asked_field(query)) is not None:
            hits = put_cards_first(hits, self._cards(request, hits), field)[:top_k]
        elif hits and asks_expiry(query):
            hits = lead_with(hits, self._term_statements(request, hits))[:top_k]
        if hits and self.config.metric_inputs and filters.doc_ids and kinds:
            hits = self._statements_first(query, kinds, request, hits, top_k)
        return hits

    def unmentioned(self, question: str, hits: Sequence[SearchHit]) -> list[str]:
        """The names and years `question` asks about (`asked_names`) that the hits' documents never write:
        in none of their chunks, file names or document names. [] without hits (nothing to answer from)."""
        if not hits:
            return []
        scopes = [
            SearchFilters(kb=kb, doc_ids=sorted({h.doc_id for h in hits if h.kb == kb}))
            for kb in sorted({h.kb for h in hits})
        ]
        named = set(
            self.sparse.terms(" ".join(f"{h.filename} {h.document_name} {h.document_company}" for h in hits))
        )

        def written(term: str) -> bool:
            return term in named or any(self.store.holds(scope, token_index(term)) for scope in scopes)

        return [name for name in asked_names(question) if not all(map(written, self.sparse.terms(name)))]

    def _statements_first(
        self, query: str, kinds: Sequence[Statement], request: StoreQuery, hits: list[SearchHit], top_k: int
    ) -> list[SearchHit]:
        """A metric question's hits within named documents with the primary statements holding its inputs
        first, one table chunk per statement (the part writing most of the input lines). Across a kb whose
        question names no filing nothing moves: the first hit's filing may be another company's."""
        # the first hit's filing: a question naming a company may scope several of its filings (the 10-K
        # and a 10-Q), and the statements of the one search ranks first answer it
        filters = request.filters.model_copy(update={"kind": "table", "doc_ids": [hits[0].doc_id]})
        found: list[SearchHit] = []
        for kind in kinds:
            sparse = self.sparse.encode_query(statement_query(query, kind))
            limit = STATEMENT_CANDIDATES
            candidates = self.store.query(
                StoreQuery(sparse=sparse, filters=filters, limit=limit, prefetch_limit=limit)
            )
            tables = [h for h in candidates if is_statement(h.heading_path, h.markdown, kind)]
            best = max(tables, key=lambda h: input_coverage(query, h.markdown), default=None)
            if best is not None and best.chunk_id not in {h.chunk_id for h in found}:
                found.append(best)
        ids = {h.chunk_id for h in found}
        return [*found, *(h for h in hits if h.chunk_id not in ids)][:top_k]

    def _filings(self, request: StoreQuery) -> list[SearchHit]:
        """Card statements of the filings the question may name by company, wherever its first hits land:
        "Are Best Buy's gross margins consistent?" ranks other companies' margin pages above Best Buy's."""
        update = {"heading": CARD_HEADING, "limit": FILING_CARDS}
        return [h for h in self.store.query(request.model_copy(update=update)) if h.document_company]

    def _cards(self, request: StoreQuery, hits: Sequence[SearchHit]) -> list[SearchHit]:
        """The card statements of the documents the first hits come from (the same query vectors)."""
        docs = _first_documents(hits)
        filters = request.filters.model_copy(update={"doc_ids": docs})
        limit = CARD_STATEMENTS * len(docs)
        return self.store.query(
            request.model_copy(update={"filters": filters, "heading": CARD_HEADING, "limit": limit})
        )

    def _term_statements(self, request: StoreQuery, hits: Sequence[SearchHit]) -> dict[str, SearchHit]:
        """The best-ranked hit stating the agreement's term ("This Agreement shall continue until ...") of
        each of the first hits' documents, where one ranks among its first `TERM_CANDIDATES`: a casual "when
        does it end?" shares few words with it and ranks passing mentions of an end above it."""
        found: dict[str, SearchHit] = {}
        for doc in _first_documents(hits):
            filters = request.filters.model_copy(update={"doc_ids": [doc]})
            candidates = self.store.query(
                request.model_copy(update={"filters": filters, "limit": TERM_CANDIDATES})
            )
            if (term := next((h for h in candidates if states_term(h.markdown)), None)) is not None:
                found[doc] = term
        return found

    def _request(self, query: str, filters: SearchFilters, mode: SearchMode | None, top_k: int) -> StoreQuery:
        mode = mode or self.config.mode
        limit = max(top_k, self.config.rerank_candidates) if self.reranker else top_k
        return StoreQuery(
            dense=self.embedder.embed_query(query) if mode in ("hybrid", "dense") else None,
            sparse=self.sparse.encode_query(self._sparse_text(query, filters))
            if mode in ("hybrid", "sparse")
            else None,
            filters=filters,
            limit=limit,
            prefetch_limit=max(self.config.prefetch_k, limit),
            fusion=self.config.fusion,
            rrf_k=self.config.rrf_k,
            rrf_weights=self.config.rrf_weights,
        )

    def _sparse_text(self, query: str, filters: SearchFilters) -> str:
        """The query's text for BM25: a metric question also names its inputs' statement lines once the
        search is within named documents (the lines would otherwise pick another company's filing)."""
        return with_metric_inputs(query) if self.config.metric_inputs and filters.doc_ids else query

    def _search(self, query: str, request: StoreQuery, top_k: int) -> list[SearchHit]:
        if request.sparse is not None and not request.sparse.indices and request.dense is None:
            return []  # nothing to match on (only punctuation)
        hits = self._hybrid_across_scripts(query, request) or self.store.query(request)
        return self.reranker.rerank(query, hits, top_k) if self.reranker else hits[:top_k]

    def _hybrid_across_scripts(self, query: str, request: StoreQuery) -> list[SearchHit] | None:
        """Fusion with imputed sparse ranks when the dense candidates hold another script (cross_script)."""
        if request.dense is None or request.sparse is None or request.fusion != "rrf":
            return None
        wide = {"limit": request.prefetch_limit}
        dense = self.store.query(request.model_copy(update={"sparse": None, **wide}))
        if not has_other_script(query, dense):
            return None
        sparse = self.store.query(request.model_copy(update={"dense": None, **wide}))
        fused = fuse_across_scripts(query, dense, sparse, request.rrf_weights, request.rrf_k)
        return fused[: request.limit]


def _first_documents(hits: Sequence[SearchHit]) -> list[str]:
    """The first `CARD_DOCUMENTS` documents the hits come from, in their order."""
    return list(dict.fromkeys(h.doc_id for h in hits))[:CARD_DOCUMENTS]
