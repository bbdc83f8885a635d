"""The Qdrant vector store: one collection, named vectors `dense` (cosine) and `sparse` (BM25 term weights).

A query's IDF is counted within its kb (`VectorStore.weigh_terms`): each point carries its term ids in
the `terms` payload, so document frequencies are payload counts filtered by kb. Qdrant's own IDF
modifier counts the whole collection, which lets one kb's scores reveal another kb's content.

Engines: "edge" (Qdrant Edge, the Rust engine in process), "local" (qdrant-client's embedded
Python mode) and "server" (a Qdrant server by URL). The embedded default was chosen by
measurement (bench/store_choice.py, docs/retrieval.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field

from ingest.chunking import Chunk
from retrieval.errors import DimensionMismatch, OutdatedCollection, UnknownBackend
from retrieval.hits import SearchFilters, SearchHit
from retrieval.sparse import SparseVector, bm25_idf

DENSE = "dense"
SPARSE = "sparse"
KEYWORD_FIELDS = ("kb", "doc_id", "kind", "tags")
TERMS = "terms"  # payload: the point's sparse term ids, counted per kb for IDF
INTEGER_FIELDS = ("pages", TERMS)
UPSERT_BATCH = 256
Fusion = Literal["rrf", "dbsf"]  # reciprocal rank fusion, or distribution-based score fusion


class StoreConfig(BaseModel):
    engine: str = "edge"  # "edge" | "local" | "server"
    path: str = "data/qdrant"  # embedded engines: folder (a collection is a subfolder for edge)
    url: str | None = None  # server engine
    api_key: str | None = None
    collection: str = "opticite"
    timeout_s: int = 10


class StoreQuery(BaseModel):
    """One search: either vector may be absent (dense-only, sparse-only); both means RRF fusion."""

    dense: list[float] | None = None
    sparse: SparseVector | None = None
    filters: SearchFilters = Field(default_factory=SearchFilters)
    limit: int = 10
    prefetch_limit: int = 50
    fusion: Fusion = "rrf"
    rrf_k: int | None = None  # None = Qdrant's default (2)
    # RRF weights of the dense and the sparse ranking; None = equal
    rrf_weights: tuple[float, float] | None = None
    heading: str | None = None  # only chunks under this heading (the document card)


class StoreBackend(Protocol):
    def upsert(
        self, chunks: Sequence[Chunk], dense: Sequence[list[float]], sparse: Sequence[SparseVector]
    ) -> None: ...

    def delete(self, filters: SearchFilters, ordinal_from: int | None = None) -> None: ...

    def count(self, filters: SearchFilters, term: int | None = None) -> int: ...

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]: ...

    def query(self, query: StoreQuery) -> list[SearchHit]: ...

    def close(self) -> None: ...


# --- pure pieces shared by every engine --------------------------------------------------------

Condition = tuple[str, Literal["value", "any", "range"], Any]


def filter_conditions(
    filters: SearchFilters,
    ordinal_from: int | None = None,
    heading: str | None = None,
    term: int | None = None,
) -> list[Condition]:
    """The filter as engine-neutral conditions, all of which must hold; `ordinal_from` keeps only
    chunks at or past that ordinal (the stale tail of a re-chunked document), `heading` only chunks
    whose heading path holds it, `term` only chunks holding that sparse term id."""
    out: list[Condition] = []
    if heading is not None:
        out.append(("heading_path", "value", heading))
    if ordinal_from is not None:
        out.append(("ordinal", "range", (ordinal_from, None)))
    if term is not None:
        out.append((TERMS, "value", term))
    if filters.kb is not None:
        out.append(("kb", "value", filters.kb))
    if filters.doc_ids is not None:
        out.append(("doc_id", "any", list(filters.doc_ids)))
    if filters.tags:
        out.append(("tags", "any", list(filters.tags)))
    if filters.kind is not None:
        out.append(("kind", "value", filters.kind))
    if filters.page_from is not None or filters.page_to is not None:
        # a chunk matches when any of its pages lies in the range
        out.append(("pages", "range", (filters.page_from, filters.page_to)))
    return out


def chunk_payload(chunk: Chunk, sparse: SparseVector) -> dict[str, Any]:
    return chunk.model_dump(mode="json", exclude_none=True) | {TERMS: sparse.indices}


def hit_from_payload(score: float, payload: dict[str, Any]) -> SearchHit:
    return SearchHit(
        chunk_id=str(payload["id"]),
        doc_id=payload["doc_id"],
        kb=payload["kb"],
        filename=payload.get("filename", ""),
        score=float(score),
        kind=payload["kind"],
        markdown=payload["markdown"],
        heading_path=payload.get("heading_path", []),
        clause=payload.get("clause"),
        regions=payload.get("regions", []),
        pages=payload.get("pages", []),
        document_name=payload.get("document_name", ""),
        document_company=payload.get("document_company", ""),
    )


def _weights(query: StoreQuery) -> list[float] | None:
    """RRF weights in prefetch order (dense first), for the sources the query has."""
    return list(query.rrf_weights) if query.rrf_weights is not None else None


def _mismatch(found: int, dim: int, where: str) -> DimensionMismatch:
    return DimensionMismatch(
        f"the vector collection at {where} holds {found}-dimensional vectors but the embedder makes "
        f"{dim}-dimensional ones; set embedder.model back to the model that built it, or point "
        "store.collection (or store.path) at a new collection and re-index the documents"
    )


def _outdated(where: str) -> OutdatedCollection:
    return OutdatedCollection(
        f"the vector collection at {where} was built with Qdrant's collection-wide IDF, which lets one kb's "
        "scores depend on another kb's documents; point store.collection at a new name and re-index every "
        "kb (`opticite reindex --kb KB`)"
    )


# --- qdrant-client: embedded Python mode ("local") and server ----------------------------------


class QdrantClientStore:
    def __init__(self, config: StoreConfig, dim: int, client: Any = None) -> None:
        from qdrant_client import QdrantClient, models

        self._m = models
        self.config = config
        self._local = config.engine == "local"
        if client is None:
            client = (
                QdrantClient(path=config.path)
                if self._local
                else QdrantClient(url=config.url, api_key=config.api_key, timeout=config.timeout_s)
            )
        self.client = client
        self._ensure_collection(dim)

    def _ensure_collection(self, dim: int) -> None:
        m, name = self._m, self.config.collection
        if self.client.collection_exists(name):
            params = self.client.get_collection(name).config.params
            where = f"{self.config.url or self.config.path} ({name})"
            if params.vectors[DENSE].size != dim:
                raise _mismatch(params.vectors[DENSE].size, dim, where)
            if params.sparse_vectors[SPARSE].modifier == m.Modifier.IDF:
                raise _outdated(where)
            return
        self.client.create_collection(
            name,
            vectors_config={DENSE: m.VectorParams(size=dim, distance=m.Distance.COSINE)},
            sparse_vectors_config={SPARSE: m.SparseVectorParams()},
        )
        if not self._local:  # local mode ignores payload indexes and warns about them
            for key in KEYWORD_FIELDS:
                self.client.create_payload_index(name, key, m.PayloadSchemaType.KEYWORD)
            for key in INTEGER_FIELDS:
                self.client.create_payload_index(name, key, m.PayloadSchemaType.INTEGER)

    def _filter(
        self,
        filters: SearchFilters,
        ordinal_from: int | None = None,
        heading: str | None = None,
        term: int | None = None,
    ) -> Any:
        m = self._m
        must: list[Any] = []
        for key, op, value in filter_conditions(filters, ordinal_from, heading, term):
            if op == "value":
                must.append(m.FieldCondition(key=key, match=m.MatchValue(value=value)))
            elif op == "any":
                must.append(m.FieldCondition(key=key, match=m.MatchAny(any=value)))
            else:
                must.append(m.FieldCondition(key=key, range=m.Range(gte=value[0], lte=value[1])))
        return m.Filter(must=must) if must else None

    def upsert(
        self, chunks: Sequence[Chunk], dense: Sequence[list[float]], sparse: Sequence[SparseVector]
    ) -> None:
        m = self._m
        points = [
            m.PointStruct(
                id=c.id,
                vector={DENSE: d, SPARSE: m.SparseVector(indices=s.indices, values=s.values)},
                payload=chunk_payload(c, s),
            )
            for c, d, s in zip(chunks, dense, sparse, strict=True)
        ]
        for i in range(0, len(points), UPSERT_BATCH):
            self.client.upsert(self.config.collection, points[i : i + UPSERT_BATCH], wait=True)

    def delete(self, filters: SearchFilters, ordinal_from: int | None = None) -> None:
        selector = self._m.FilterSelector(filter=self._filter(filters, ordinal_from))
        self.client.delete(self.config.collection, points_selector=selector, wait=True)

    def count(self, filters: SearchFilters, term: int | None = None) -> int:
        flt = self._filter(filters, term=term)
        return int(self.client.count(self.config.collection, count_filter=flt, exact=True).count)

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        records = self.client.retrieve(
            self.config.collection, list(ids), with_payload=False, with_vectors=[DENSE]
        )
        return {str(r.id): list(r.vector[DENSE]) for r in records if isinstance(r.vector, dict)}

    def query(self, query: StoreQuery) -> list[SearchHit]:
        m = self._m
        flt = self._filter(query.filters, heading=query.heading)
        sources = []
        if query.dense is not None:
            sources.append((query.dense, DENSE))
        if query.sparse is not None:
            sources.append((m.SparseVector(indices=query.sparse.indices, values=query.sparse.values), SPARSE))
        if len(sources) == 1:
            vector, using = sources[0]
            kwargs: dict[str, Any] = {"query": vector, "using": using, "query_filter": flt}
        else:
            fusion: Any
            if query.fusion == "dbsf":
                fusion = m.FusionQuery(fusion=m.Fusion.DBSF)
            elif query.rrf_k is None and query.rrf_weights is None:
                fusion = m.FusionQuery(fusion=m.Fusion.RRF)
            else:
                fusion = m.RrfQuery(rrf=m.Rrf(k=query.rrf_k, weights=_weights(query)))
            prefetch = [
                m.Prefetch(query=v, using=u, filter=flt, limit=query.prefetch_limit) for v, u in sources
            ]
            kwargs = {"query": fusion, "prefetch": prefetch}
        result = self.client.query_points(
            self.config.collection,
            limit=query.limit,
            with_payload=m.PayloadSelectorExclude(exclude=[TERMS]),  # only the store reads the term ids
            **kwargs,
        )
        return [hit_from_payload(p.score, p.payload or {}) for p in result.points]

    def close(self) -> None:
        self.client.close()


# --- Qdrant Edge: the Rust engine in process ---------------------------------------------------


class EdgeStore:
    def __init__(self, config: StoreConfig, dim: int) -> None:
        import qdrant_edge as qe

        self._q = qe
        self.config = config
        self.path = Path(config.path) / config.collection
        edge_config = qe.EdgeConfig(
            vectors={DENSE: qe.EdgeVectorParams(size=dim, distance=qe.Distance.Cosine)},
            sparse_vectors={SPARSE: qe.EdgeSparseVectorParams()},
        )
        saved = self.path / "edge_config.json"
        if saved.exists():
            found = json.loads(saved.read_text())
            if found["vectors"][DENSE]["size"] != dim:
                raise _mismatch(found["vectors"][DENSE]["size"], dim, str(self.path))
            if found["sparse_vectors"][SPARSE].get("modifier"):
                raise _outdated(str(self.path))
            self.shard = qe.EdgeShard.load(str(self.path))
        else:
            self.shard = qe.EdgeShard.create(str(self.path), edge_config)
            for key in KEYWORD_FIELDS:
                self.shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Keyword))
            for key in INTEGER_FIELDS:
                self.shard.update(qe.UpdateOperation.create_field_index(key, qe.PayloadSchemaType.Integer))

    def _filter(
        self,
        filters: SearchFilters,
        ordinal_from: int | None = None,
        heading: str | None = None,
        term: int | None = None,
    ) -> Any:
        q = self._q
        must: list[Any] = []
        for key, op, value in filter_conditions(filters, ordinal_from, heading, term):
            if op == "value":
                must.append(q.FieldCondition(key=key, match=q.MatchValue(value)))
            elif op == "any":
                must.append(q.FieldCondition(key=key, match=q.MatchAny(value)))
            else:
                must.append(q.FieldCondition(key=key, range=q.RangeFloat(gte=value[0], lte=value[1])))
        return q.Filter(must=must) if must else None

    def upsert(
        self, chunks: Sequence[Chunk], dense: Sequence[list[float]], sparse: Sequence[SparseVector]
    ) -> None:
        q = self._q
        points = [
            q.Point(
                id=c.id,
                vector={DENSE: d, SPARSE: q.SparseVector(indices=s.indices, values=s.values)},
                payload=chunk_payload(c, s),
            )
            for c, d, s in zip(chunks, dense, sparse, strict=True)
        ]
        for i in range(0, len(points), UPSERT_BATCH):
            self.shard.update(q.UpdateOperation.upsert_points(points[i : i + UPSERT_BATCH]))
        self.shard.flush()

    def optimize(self) -> None:
        """Build the HNSW index over what was upserted (blocking)."""
        self.shard.optimize()

    def delete(self, filters: SearchFilters, ordinal_from: int | None = None) -> None:
        self.shard.update(
            self._q.UpdateOperation.delete_points_by_filter(self._filter(filters, ordinal_from))
        )
        self.shard.flush()

    def count(self, filters: SearchFilters, term: int | None = None) -> int:
        return int(
            self.shard.count(self._q.CountRequest(exact=True, filter=self._filter(filters, term=term)))
        )

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        records = self.shard.retrieve(list(ids), with_payload=False, with_vector=[DENSE])
        vectors: dict[str, Any] = {str(r.id): r.vector for r in records if isinstance(r.vector, dict)}
        return {id_: list(vector[DENSE]) for id_, vector in vectors.items()}

    def query(self, query: StoreQuery) -> list[SearchHit]:
        q = self._q
        flt = self._filter(query.filters, heading=query.heading)
        payload = q.PayloadSelector.Exclude([TERMS])  # only the store reads the term ids
        sources: list[Any] = []
        if query.dense is not None:
            sources.append(q.Query.Nearest(query.dense, using=DENSE))
        if query.sparse is not None:
            vector = q.SparseVector(indices=query.sparse.indices, values=query.sparse.values)
            sources.append(q.Query.Nearest(vector, using=SPARSE))
        if len(sources) == 1:
            request = q.QueryRequest(limit=query.limit, query=sources[0], filter=flt, with_payload=payload)
        else:
            prefetches = [q.Prefetch(limit=query.prefetch_limit, query=s, filter=flt) for s in sources]
            fusion = (
                q.Fusion.Dbsf()
                if query.fusion == "dbsf"
                else q.Fusion.Rrf(k=query.rrf_k if query.rrf_k is not None else 2, weights=_weights(query))
            )
            request = q.QueryRequest(
                limit=query.limit, query=fusion, prefetches=prefetches, with_payload=payload
            )
        return [hit_from_payload(p.score, p.payload or {}) for p in self.shard.query(request)]

    def close(self) -> None:
        self.shard.close()


STORES: dict[str, Callable[[StoreConfig, int], StoreBackend]] = {
    "edge": EdgeStore,
    "local": QdrantClientStore,
    "server": QdrantClientStore,
}


class VectorStore:
    """The store the knowledge base talks to, whatever the engine behind it."""

    def __init__(self, config: StoreConfig, dim: int) -> None:
        try:
            factory = STORES[config.engine]
        except KeyError:
            known = ", ".join(sorted(STORES))
            raise UnknownBackend(
                f"unknown store engine {config.engine!r}; set store.engine to one of: {known}"
            ) from None
        self.config = config
        self.dim = dim
        self.backend = factory(config, dim)

    def upsert(
        self, chunks: Sequence[Chunk], dense: Sequence[list[float]], sparse: Sequence[SparseVector]
    ) -> None:
        if chunks:
            self.backend.upsert(chunks, dense, sparse)

    def optimize(self) -> None:
        """Let the engine index what was written (Qdrant Edge builds HNSW here; a no-op elsewhere)."""
        optimize = getattr(self.backend, "optimize", None)
        if optimize is not None:
            optimize()

    def delete_document(self, doc_id: str, keep_below: int = 0) -> None:
        """The document's points, or only those whose chunk ordinal is `keep_below` or more."""
        self.backend.delete(SearchFilters(doc_ids=[doc_id]), ordinal_from=keep_below or None)

    def count(self, doc_id: str | None = None, kb: str | None = None) -> int:
        return self.backend.count(SearchFilters(kb=kb, doc_ids=[doc_id] if doc_id is not None else None))

    def holds(self, filters: SearchFilters, term: int) -> bool:
        """Whether any chunk within `filters` has the sparse term `term` (`retrieval.sparse.token_index`)."""
        return self.backend.count(filters, term=term) > 0

    def dense_vectors(self, ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored dense vectors of these points (ids not stored are left out)."""
        return self.backend.dense_vectors(ids) if ids else {}

    def query(self, query: StoreQuery) -> list[SearchHit]:
        if query.sparse is not None:
            query = query.model_copy(update={"sparse": self.weigh_terms(query.sparse, query.filters.kb)})
        return self.backend.query(query)

    def weigh_terms(self, sparse: SparseVector, kb: str | None) -> SparseVector:
        """The query's term weights times their BM25 IDF among the chunks of `kb` (every kb when None).

        Counted per kb, never over the collection, so a kb's scores do not depend on other kbs'
        content; one exact indexed count per term."""
        scope = SearchFilters(kb=kb)
        total = self.backend.count(scope)
        values = [
            weight * bm25_idf(total, self.backend.count(scope, term=index))
            for index, weight in zip(sparse.indices, sparse.values, strict=True)
        ]
        return SparseVector(indices=sparse.indices, values=values)

    def close(self) -> None:
        self.backend.close()
