"""The embedding and indexing stages on a GPU beside the CPU: same chunks, same embedder, same store.

    # here: chunk the CUAD contracts through the text layer, keep chunks + reference CPU vectors
    .venv/bin/python -m bench.gpu_index export --out .gpu
    # anywhere: embed (timed), sparse-encode (timed), upsert into the embedded store (timed)
    python -m bench.gpu_index run --chunks .gpu/chunks.json --device cuda --model .gpu/minilm-fp16 --repeat 20

`run` writes bench/results/gpu_index_<device>.json with chunks/s per stage and, when reference vectors are
given, the cosine similarity of this run's vectors to the CPU float32 ones (the GPU copy of the model is
float16, so the same weights travel in under half the size).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ingest.chunking import Chunk, chunk_id
from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder
from retrieval.sparse import SparseEncoder
from retrieval.store import StoreConfig, VectorStore

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE_COUNT = 256


def export(out: Path, testdata: Path) -> None:
    """CUAD contracts → text-layer layouts → opticite chunks (JSON), plus CPU float32 reference vectors."""
    from ingest.chunking import ChunkingConfig, chunk_document
    from ingest.ocr.engine import OcrOptions
    from ingest.ocr.textlayer import TextLayerConfig, TextLayerEngine, mark_furniture
    from ingest.sources import open_source

    engine = TextLayerEngine(TextLayerConfig())
    embedder = SentenceTransformerEmbedder(EmbedderConfig(device="cpu"))
    chunks: list[Chunk] = []
    for i, path in enumerate(sorted((testdata / "cuad-dev/contracts").glob("*.pdf"))):
        with open_source(path) as doc:
            pages = [doc.render_page(n) for n in range(1, doc.page_count + 1)]
        layouts = mark_furniture([asyncio.run(engine.recognize(p, OcrOptions())) for p in pages])
        config = ChunkingConfig().fitted(embedder.max_tokens)
        chunks += chunk_document(f"cuad{i:02d}", "bench", path.name, layouts, config, embedder.count_tokens)
    out.mkdir(parents=True, exist_ok=True)
    (out / "chunks.json").write_text(
        json.dumps([c.model_dump(mode="json") for c in chunks]), encoding="utf-8"
    )
    reference = embedder.embed_passages([c.embed_text() for c in chunks[:REFERENCE_COUNT]])
    np.save(out / "reference_cpu_fp32.npy", np.asarray(reference, dtype=np.float32))
    embedder.model.half().save(str(out / "minilm-fp16"))
    print(f"{len(chunks)} chunks → {out}")


def replicate(chunks: list[Chunk], repeat: int) -> list[Chunk]:
    """`repeat` copies under new document ids, so the store holds repeat × as many distinct points."""
    out: list[Chunk] = []
    for r in range(repeat):
        for c in chunks:
            doc_id = f"{c.doc_id}-r{r}"
            out.append(c.model_copy(update={"doc_id": doc_id, "id": chunk_id(doc_id, c.ordinal)}))
    return out


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - started


def run(
    chunks_path: Path, device: str, model: str, repeat: int, batch: int, reference: Path | None
) -> dict[str, Any]:
    base = [Chunk.model_validate(c) for c in json.loads(chunks_path.read_text(encoding="utf-8"))]
    chunks = replicate(base, repeat)
    texts = [c.embed_text() for c in chunks]
    embedder = SentenceTransformerEmbedder(EmbedderConfig(model=model, device=device, batch_size=batch))
    _, load_s = timed(lambda: embedder.dim)
    embedder.embed_passages(texts[:batch])  # warm-up: kernels, tokenizer caches
    dense, embed_s = timed(embedder.embed_passages, texts)
    sparse, sparse_s = timed(lambda: [SparseEncoder().encode(t) for t in texts])
    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore(StoreConfig(path=tmp), embedder.dim)
        _, upsert_s = timed(
            lambda: [
                store.upsert(chunks[i : i + 256], dense[i : i + 256], sparse[i : i + 256])
                for i in range(0, len(chunks), 256)
            ]
        )
        count = store.count()
        store.close()
    result: dict[str, Any] = {
        "device": device,
        "gpu": _gpu_name() if device.startswith("cuda") else None,
        "machine": f"{platform.machine()}, python {platform.python_version()}",
        "model": model or "bundled all-MiniLM-L6-v2 (float32)",
        "batch_size": batch,
        "chunks": len(chunks),
        "points_in_store": count,
        "model_load_s": round(load_s, 2),
        "embed_chunks_per_s": round(len(chunks) / embed_s, 1),
        "sparse_chunks_per_s": round(len(chunks) / sparse_s, 1),
        "upsert_chunks_per_s": round(len(chunks) / upsert_s, 1),
        "index_chunks_per_s": round(len(chunks) / (embed_s + sparse_s + upsert_s), 1),
    }
    if reference is not None and reference.exists():
        ref = np.load(reference)
        mine = np.asarray(dense[: len(ref)], dtype=np.float32)
        cos = (ref * mine).sum(1) / (np.linalg.norm(ref, axis=1) * np.linalg.norm(mine, axis=1))
        result["cosine_to_cpu_fp32"] = {
            "min": round(float(cos.min()), 5),
            "mean": round(float(cos.mean()), 5),
        }
    return result


def _gpu_name() -> str:
    import torch

    return str(torch.cuda.get_device_name(0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    ex = sub.add_parser("export")
    ex.add_argument("--out", type=Path, default=Path(".gpu"))
    ex.add_argument("--testdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared/testdata")
    rn = sub.add_parser("run")
    rn.add_argument("--chunks", type=Path, default=Path(".gpu/chunks.json"))
    rn.add_argument("--device", default="cpu")
    rn.add_argument("--model", default="")
    rn.add_argument("--repeat", type=int, default=5)
    rn.add_argument("--batch", type=int, default=64)
    rn.add_argument("--reference", type=Path, default=Path(".gpu/reference_cpu_fp32.npy"))
    rn.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if args.cmd == "export":
        export(args.out, args.testdata)
        return
    result = run(args.chunks, args.device, args.model, args.repeat, args.batch, args.reference)
    print(json.dumps(result, indent=1))
    args.out.mkdir(parents=True, exist_ok=True)
    name = "gpu_index_" + ("cuda" if args.device.startswith("cuda") else args.device)
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
