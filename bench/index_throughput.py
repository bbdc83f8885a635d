"""Indexing throughput (chunks/s embedded + sparse-encoded + upserted) and end-to-end search latency.

Throughput: real text windows through `KnowledgeBase.index_chunks` with the bundled MiniLM on CPU.
Latency: `KnowledgeBase.search` (query embedding included) over the store_choice data at 10k and 100k
points in the default store, hybrid, hybrid with a kb filter, and dense.

    .venv/bin/python bench/index_throughput.py        # writes bench/results/index_throughput.json
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import store_choice  # noqa: E402

from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder  # noqa: E402
from retrieval.hits import SearchFilters, SearchMode  # noqa: E402
from retrieval.search import KnowledgeBase, SearchConfig  # noqa: E402
from retrieval.sparse import SparseEncoder  # noqa: E402
from retrieval.store import StoreConfig, VectorStore  # noqa: E402

N_INDEX = 1000
N_SEARCH = 50


def throughput(embedder: SentenceTransformerEmbedder) -> dict[str, float]:
    texts, _ = store_choice.corpus()
    sample = texts[1 : 1 + N_INDEX]
    chunks = store_choice.make_chunks(sample, np.zeros(len(sample), dtype=int))
    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore(StoreConfig(path=tmp), embedder.dim)
        kb = KnowledgeBase(store, embedder, SparseEncoder(), SearchConfig())
        start = time.perf_counter()
        kb.index_chunks(chunks)
        total = time.perf_counter() - start
        assert kb.count() == len(chunks)
        store.close()
    tokens = sum(embedder.count_tokens(c.embed_text()) for c in chunks)
    return {
        "chunks": len(chunks),
        "mean_tokens": round(tokens / len(chunks), 1),
        "seconds": round(total, 1),
        "chunks_per_s": round(len(chunks) / total, 1),
        "torch_threads": torch.get_num_threads(),
    }


def latency(embedder: SentenceTransformerEmbedder, size: int) -> dict[str, object]:
    texts, vectors, kbs, _ = store_choice.dataset(size)
    chunks = store_choice.make_chunks(texts, kbs)
    encoder = SparseEncoder()
    all_texts = store_choice.corpus()[0]
    queries = [all_texts[r] for r in store_choice.query_rows(len(all_texts))[:N_SEARCH]]
    out: dict[str, object] = {"points": size}
    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore(StoreConfig(path=tmp), embedder.dim)
        store.upsert(chunks, vectors.tolist(), [encoder.encode(t) for t in texts])
        store.optimize()
        kb = KnowledgeBase(store, embedder, encoder, SearchConfig())
        cases: list[tuple[str, SearchMode, SearchFilters]] = [
            ("hybrid", "hybrid", SearchFilters()),
            ("hybrid_kb", "hybrid", SearchFilters(kb="kb3")),
            ("dense", "dense", SearchFilters()),
        ]
        for name, mode, flt in cases:
            lat = []
            for q in queries:
                start = time.perf_counter()
                kb.search(q, flt, mode=mode, top_k=10)
                lat.append((time.perf_counter() - start) * 1000)
            out[name] = store_choice.pct(lat)
        store.close()
    return out


def main() -> None:
    embedder = SentenceTransformerEmbedder(EmbedderConfig(device="cpu"))
    results = {
        "store_engine": StoreConfig().engine,
        "index": throughput(embedder),
        "search": [latency(embedder, size) for size in store_choice.SIZES],
    }
    (ROOT / "bench" / "results" / "index_throughput.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
