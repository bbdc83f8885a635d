"""Embedded store choice: qdrant-client local mode vs Qdrant Edge, on real MiniLM embeddings.

Real texts: sentences and overlapping 2-4 sentence windows from every PDF under the shared test data, embedded once
(cached as .npy). The 100k set is the real texts plus perturbed copies of their vectors (noise, then
renormalized), since embedding 100k texts on 2 shared cores takes too long.

    .venv/bin/python bench/store_choice.py            # writes bench/results/store_choice.json
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ingest.chunking import Chunk, chunk_id  # noqa: E402
from ingest.layout import BBox, Region  # noqa: E402
from retrieval.hits import SearchFilters  # noqa: E402
from retrieval.sparse import SparseEncoder  # noqa: E402
from retrieval.store import StoreConfig, StoreQuery, VectorStore  # noqa: E402

TESTDATA = ROOT.parent / "shared" / "testdata"
CACHE = Path(os.environ.get("OPTICITE_BENCH_CACHE", "/tmp/opticite_bench"))
N_REAL = 20_000
N_QUERIES = 200
N_KBS = 10
SIZES = (10_000, 100_000)


def real_texts() -> list[str]:
    import pymupdf

    texts: list[str] = []
    for pdf in sorted(TESTDATA.rglob("*.pdf")):
        try:
            doc = pymupdf.open(pdf)
        except Exception:  # the robustness corpus holds files that do not open: skip them
            continue
        with doc:
            for page in doc.pages():
                flat = " ".join(page.get_text().split())
                sentences = [s for s in re.split(r"(?<=[.!?;:])\s+", flat) if len(s) > 20]
                for n in (1, 2, 3, 4):  # overlapping windows: distinct texts, real wording
                    texts += [" ".join(sentences[i : i + n])[:1200] for i in range(len(sentences) - n + 1)]
    return list(dict.fromkeys(texts))


def corpus() -> tuple[list[str], np.ndarray]:
    """Texts and their normalized MiniLM vectors (embedded once, cached)."""
    saved = CACHE / "texts.json"
    if saved.exists():  # lets the bench run where the PDFs are not (a cleaner machine, same 2 cores)
        texts = json.loads(saved.read_text())
    else:
        texts = real_texts()[: N_REAL + N_QUERIES]
        CACHE.mkdir(parents=True, exist_ok=True)
        saved.write_text(json.dumps(texts))
    key = hashlib.sha256("\n".join(texts).encode()).hexdigest()[:12]
    npy = CACHE / f"minilm_{key}.npy"
    if not npy.exists():
        from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder

        CACHE.mkdir(parents=True, exist_ok=True)
        embedder = SentenceTransformerEmbedder(EmbedderConfig(batch_size=64))
        start = time.perf_counter()
        vectors = np.asarray(embedder.embed_passages(texts), dtype=np.float32)
        print(f"embedded {len(texts)} texts in {time.perf_counter() - start:.0f} s", file=sys.stderr)
        np.save(npy, vectors)
    return texts, np.load(npy)


def dataset(size: int) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """(texts, vectors, kb index per point, query vectors): the first N_QUERIES texts are the queries."""
    texts, vectors = corpus()
    is_query = np.zeros(len(texts), dtype=bool)
    is_query[query_rows(len(texts))] = True
    queries, base = vectors[is_query], vectors[~is_query]
    base_texts = [t for t, q in zip(texts, is_query, strict=True) if not q]
    rng = np.random.default_rng(0)
    idx = np.arange(size) % len(base)
    out = base[idx].copy()
    copies = idx != np.arange(size)
    out[copies] += rng.normal(0, 0.03, size=(int(copies.sum()), base.shape[1])).astype(np.float32)
    out /= np.linalg.norm(out, axis=1, keepdims=True)
    kbs = rng.integers(0, N_KBS, size=size)
    return [base_texts[i] for i in idx], out, kbs, queries


def query_rows(n: int) -> list[int]:
    """Queries spread over every source document, held out of the indexed points."""
    return list(range(0, n, n // N_QUERIES))[:N_QUERIES]


def make_chunks(texts: list[str], kbs: np.ndarray) -> list[Chunk]:
    region = [Region(page=1, bbox=BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.2))]
    return [
        Chunk(
            id=chunk_id(f"doc{i // 50}", i),
            doc_id=f"doc{i // 50}",
            kb=f"kb{kbs[i]}",
            ordinal=i,
            kind="text",
            markdown=t,
            regions=region,
            pages=[1 + i % 30],
        )
        for i, t in enumerate(texts)
    ]


def exact_top10(vectors: np.ndarray, queries: np.ndarray, mask: np.ndarray | None) -> list[set[int]]:
    scores = queries @ vectors.T
    if mask is not None:
        scores[:, ~mask] = -np.inf
    return [set(np.argsort(-row)[:10].tolist()) for row in scores]


def timed(fn, n: int) -> tuple[list[float], list]:  # type: ignore[no-untyped-def]
    lat, out = [], []
    for i in range(n):
        start = time.perf_counter()
        out.append(fn(i))
        lat.append((time.perf_counter() - start) * 1000)
    return lat, out


def pct(lat: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(float(np.percentile(lat, 50)), 2),
        "p95_ms": round(float(np.percentile(lat, 95)), 2),
    }


def worker(engine: str, size: int) -> dict[str, object]:
    """One engine at one size, in its own process so RSS is its own."""
    texts, vectors, kbs, queries = dataset(size)
    chunks = make_chunks(texts, kbs)
    encoder = SparseEncoder()
    sparse = [encoder.encode(t) for t in texts]
    position = {c.id: i for i, c in enumerate(chunks)}
    gc.collect()
    rss0 = psutil.Process().memory_info().rss
    with tempfile.TemporaryDirectory() as tmp:
        config = StoreConfig(engine=engine, path=tmp)
        start = time.perf_counter()
        store = VectorStore(config, vectors.shape[1])
        store.upsert(chunks, vectors.tolist(), sparse)
        upsert_s = time.perf_counter() - start
        if hasattr(store.backend, "optimize"):
            store.backend.optimize()
        index_s = time.perf_counter() - start
        rss = (psutil.Process().memory_info().rss - rss0) / 2**20
        store.close()
        gc.collect()
        rss1 = psutil.Process().memory_info().rss
        start = time.perf_counter()
        store = VectorStore(config, vectors.shape[1])
        reload_s = time.perf_counter() - start
        assert store.count() == size
        store.query(StoreQuery(dense=queries[0].tolist(), limit=10))
        rss_open = (psutil.Process().memory_info().rss - rss1) / 2**20
        result: dict[str, object] = {
            "engine": engine,
            "points": size,
            "upsert_s": round(upsert_s, 2),
            "upsert_and_index_s": round(index_s, 2),
            "reload_s": round(reload_s, 3),
            "rss_build_mib": round(rss, 1),  # includes the Python lists handed to upsert
            "rss_open_mib": round(rss_open, 1),  # what reopening the collection and one query add
        }
        n = (
            N_QUERIES if engine == "edge" or size <= 10_000 else 10
        )  # local mode takes seconds a query at 100k
        kb_filter = SearchFilters(kb="kb3")

        def dense(i: int, flt: SearchFilters = SearchFilters()) -> list[int]:  # noqa: B008
            hits = store.query(StoreQuery(dense=queries[i].tolist(), filters=flt, limit=10))
            return [position[h.chunk_id] for h in hits]

        for name, flt, mask in (("dense", SearchFilters(), None), ("dense_kb", kb_filter, kbs == 3)):
            lat, got = timed(lambda i, f=flt: dense(i, f), n)
            truth = exact_top10(vectors, queries[:n], mask)
            recall = np.mean([len(set(g) & t) / 10 for g, t in zip(got, truth, strict=True)])
            result[name] = {**pct(lat), "recall_at_10": round(float(recall), 4)}
        all_texts = corpus()[0]
        q_sparse = [encoder.encode_query(all_texts[r]) for r in query_rows(len(all_texts))[:n]]
        for name, flt in (("hybrid", SearchFilters()), ("hybrid_kb", kb_filter)):
            lat, _ = timed(
                lambda i, f=flt: store.query(
                    StoreQuery(dense=queries[i].tolist(), sparse=q_sparse[i], filters=f, limit=10)
                ),
                n,
            )
            result[name] = pct(lat)
        result["queries"] = n
        store.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--worker", nargs=2, metavar=("ENGINE", "SIZE"))
    parser.add_argument("--engines", default="local,edge")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "store_choice.json"))
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return
    corpus()  # embed once before the workers start
    results = []
    for size in map(int, args.sizes.split(",")):
        for engine in args.engines.split(","):
            cmd = [sys.executable, "-W", "ignore", __file__, "--worker", engine, str(size)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(results[-1]), file=sys.stderr)
    cores = len(os.sched_getaffinity(0))
    real = len(corpus()[0]) - N_QUERIES
    Path(args.out).write_text(
        json.dumps({"real_texts": real, "cpu_cores": cores, "results": results}, indent=2)
    )


if __name__ == "__main__":
    main()
