"""LlamaIndex interop: a `BaseRetriever` over the knowledge base, so LlamaIndex query engines can use it.

Each hit becomes `NodeWithScore(TextNode)` whose metadata carries doc_id, filename, pages and regions.
"""

from __future__ import annotations

from llama_index.core.retrievers import BaseRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode

from retrieval.hits import SearchFilters, SearchHit, SearchMode
from retrieval.search import KnowledgeBase


class KnowledgeBaseRetriever(BaseRetriever):
    def __init__(
        self,
        kb: KnowledgeBase,
        filters: SearchFilters | None = None,
        mode: SearchMode | None = None,
        top_k: int | None = None,
    ) -> None:
        super().__init__()
        self.kb = kb
        self.filters = filters or SearchFilters()
        self.mode = mode
        self.top_k = top_k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self.kb.search(query_bundle.query_str, self.filters, mode=self.mode, top_k=self.top_k)
        return [NodeWithScore(node=hit_to_node(h), score=h.score) for h in hits]


def hit_to_node(hit: SearchHit) -> TextNode:
    public = hit.to_public()
    metadata = {
        "doc_id": hit.doc_id,
        "kb": hit.kb,
        "filename": hit.filename,
        "kind": hit.kind,
        "heading_path": hit.heading_path,
        "pages": hit.pages,
        "regions": public["regions"],
    }
    # regions are for citations, not for the LLM's prompt or embeddings
    return TextNode(
        id_=hit.chunk_id,
        text=hit.markdown,
        metadata=metadata,
        excluded_llm_metadata_keys=["regions", "kb", "kind"],
        excluded_embed_metadata_keys=list(metadata),
    )
