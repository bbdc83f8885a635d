"""What per-kb IDF costs: hybrid search latency in the store, and upsert time, on a synthetic corpus.

Per-kb IDF (`VectorStore.weigh_terms`) counts each query term's document frequency within the kb
before the query; Qdrant's own IDF modifier did it inside the engine over the whole collection. The
corpus is synthetic (Zipf-distributed words, random unit vectors), so only the store is timed, no
embedder: points spread over 10 kbs, queries of 8 words drawn from the indexed texts.

    .venv/bin/python bench/kb_idf_cost.py --points 10000   # writes bench/results/kb_idf_cost.json

Run the same file on the commit before per-kb IDF for the "before" numbers (`--out` names the file).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

import store_choice  # noqa: E402

from ingest.chunking import Chunk  # noqa: E402
from retrieval.hits import SearchFilters  # noqa: E402
from retrieval.sparse import SparseEncoder  # noqa: E402
from retrieval.store import StoreConfig, StoreQuery, VectorStore  # noqa: E402

DIM = 384
KBS = 10
VOCABULARY = 20_000
QUERY_WORDS = 8


def corpus(points: int, rng: random.Random) -> tuple[list[Chunk], np.ndarray]:
    words = [f"w{n}x" for n in range(VOCABULARY)]
    weights = [1 / (rank + 1) for rank in range(VOCABULARY)]  # Zipf, like natural text
    texts = [" ".join(rng.choices(words, weights, k=rng.randint(60, 140))) for _ in range(points)]
    vectors = np.random.default_rng(0).normal(size=(points, DIM)).astype(np.float32)
    chunks = store_choice.make_chunks(texts, np.arange(points) % KBS)
    return chunks, vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def percentiles(lat: list[float]) -> dict[str, float]:
    return {k: round(float(np.percentile(lat, q)), 2) for k, q in (("p50_ms", 50), ("p95_ms", 95))}


def run(points: int, queries: int) -> dict[str, object]:
    rng = random.Random(0)
    chunks, vectors = corpus(points, rng)
    encoder = SparseEncoder()
    sparse = [encoder.encode(c.markdown) for c in chunks]
    asked = [" ".join(rng.sample(rng.choice(chunks).markdown.split(), QUERY_WORDS)) for _ in range(queries)]
    dense = np.random.default_rng(1).normal(size=(queries, DIM))
    out: dict[str, object] = {"points": points, "kbs": KBS, "queries": queries}
    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore(StoreConfig(path=tmp), DIM)
        start = time.perf_counter()
        store.upsert(chunks, vectors.tolist(), sparse)
        store.optimize()
        out["upsert_and_index_s"] = round(time.perf_counter() - start, 1)
        for name, flt in (("hybrid_kb", SearchFilters(kb="kb3")), ("hybrid", SearchFilters())):
            lat = []
            for text, vector in zip(asked, dense, strict=True):
                query = StoreQuery(dense=vector.tolist(), sparse=encoder.encode_query(text), filters=flt)
                start = time.perf_counter()
                store.query(query)
                lat.append((time.perf_counter() - start) * 1000)
            out[name] = percentiles(lat)
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--points", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--out", default="kb_idf_cost.json", help="file name under bench/results")
    args = parser.parse_args()
    result = run(args.points, args.queries)
    (ROOT / "bench" / "results" / args.out).write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
