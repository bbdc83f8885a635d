"""Contract QA retrieval on CUAD (shared test data): page hit@1, hit@5 and MRR per chunking, search mode and scope.

Questions and gold pages come from the shared loader `bench/cuad.py`: each labelled span category asked
in three phrasings (formal, plain, terse), within its contract (doc filter, "this agreement") and across
one knowledge base of all contracts (no filter, the question names the agreement and its parties). Gold
= the pages holding one of the category's lawyer-marked spans. A hit counts for one page only, the page
holding most of its text (`hit_page`), and only in the question's contract; results as search shows them,
each page once before any page twice (`distinct_pages`). Contracts with an odd number
(01, 03, ...) are the tuning half; the even ones are held out. Scores per half, category and phrasing.

    .venv/bin/python bench/retrieval_eval.py                  # writes bench/results/retrieval_eval.json
    .venv/bin/python bench/retrieval_eval.py --embedder e5 --out bench/results/retrieval_eval_e5.json
    .venv/bin/python bench/retrieval_eval.py --fusion rrf --rrf-weights 1,2   # tune on the tuning half
    .venv/bin/python bench/retrieval_eval.py --baselines      # also naive fixed-size chunks
    .venv/bin/python bench/retrieval_eval.py --misses         # also prints the tuning half's misses
    .venv/bin/python bench/retrieval_eval.py --cjk            # bigram vs jieba on a few Chinese sentences
    .venv/bin/python bench/retrieval_eval.py --scans ocr      # scanned copies read by RapidOCR (bench/scans.py)
    .venv/bin/python bench/retrieval_eval.py --scans pdf      # the text layer of the same pages, like for like
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cuad import PHRASINGS, UNSEEN, CuadQuestion, is_tuning, load_questions  # noqa: E402
from bench.cuad_kb import (  # noqa: E402
    EMBEDDERS,
    CachedEmbedder,
    cached_embedder,
    filters_for,
    ingest_hash,
    rank_of,
    search_config,
)
from bench.scan_cache import is_scanned  # noqa: E402
from bench.scans import bench_layouts  # noqa: E402
from ingest.chunking import Chunk, ChunkingConfig, chunk_document, chunk_id  # noqa: E402
from ingest.layout import BBox, PageLayout, Region  # noqa: E402
from retrieval.hits import SearchHit, SearchMode, hit_page  # noqa: E402
from retrieval.search import KnowledgeBase, SearchConfig  # noqa: E402
from retrieval.sparse import SparseEncoder, tokenize  # noqa: E402
from retrieval.store import StoreConfig, VectorStore  # noqa: E402

CUAD = ROOT.parent / "shared" / "testdata" / "cuad-dev"
NAIVE_SIZES = (512, 254)  # 512 as commonly configured (MiniLM reads the first 256); 254 fits its window
TOP_K = 10
Setup = tuple[str, list[Chunk], tuple[SearchMode, ...]]


def naive_chunks(
    doc_id: str, layouts: list[PageLayout], size: int, count_tokens: Callable[[str], int]
) -> list[Chunk]:
    """Fixed windows of `size` word pieces over the raw page text, no structure; each page's words are
    that page's region text (so `hit_page` sees where the window's text lies)."""
    words = [(lay.page, w) for lay in layouts for w in lay.raw.split()]
    chunks: list[Chunk] = []
    start = 0
    while start < len(words):
        end, used = start, 0
        while end < len(words) and used < size:
            used += count_tokens(words[end][1])
            end += 1
        window = words[start:end]
        pages = sorted({p for p, _ in window})
        regions = [
            Region(page=p, bbox=BBox(x0=0, y0=0, x1=1, y1=1), text=" ".join(w for q, w in window if q == p))
            for p in pages
        ]
        n = len(chunks)
        chunks.append(
            Chunk(
                id=chunk_id(doc_id, n),
                doc_id=doc_id,
                kb="cuad",
                ordinal=n,
                kind="text",
                markdown=" ".join(w for _, w in window),
                regions=regions,
                pages=pages,
            )  # fmt: skip
        )
        start = end
    return chunks


def scores(ranks: list[int | None]) -> dict[str, float]:
    if not ranks:
        return {"questions": 0}  # a category with no span in this half: no score, not a zero
    n = len(ranks)
    return {
        "hit@1": round(sum(r == 0 for r in ranks) / n, 3),
        "hit@5": round(sum(r is not None and r < 5 for r in ranks) / n, 3),
        "mrr": round(sum(1 / (r + 1) for r in ranks if r is not None) / n, 3),
        "questions": len(ranks),
    }


def halves(pairs: list[tuple[CuadQuestion, int | None]]) -> dict[str, dict[str, float]]:
    """Scores on all the pairs' questions, the tuning half and the held-out half."""
    return {
        "all": scores([r for _, r in pairs]),
        "tuning": scores([r for q, r in pairs if is_tuning(q.doc_id)]),
        "held_out": scores([r for q, r in pairs if not is_tuning(q.doc_id)]),
    }


def report(questions: list[CuadQuestion], ranks: list[int | None]) -> dict[str, Any]:
    """All / tuning / held-out, then the same per category and per phrasing index."""
    pairs = list(zip(questions, ranks, strict=True))
    return halves(pairs) | {
        "by_category": {c: halves([p for p in pairs if p[0].category == c]) for c in PHRASINGS},
        "by_phrasing": {
            str(i): halves([p for p in pairs if p[0].phrasing == i])
            for i in sorted({q.phrasing for q in questions})
        },
    }


def evaluate(
    kb: KnowledgeBase, questions: list[CuadQuestion], mode: SearchMode, show_misses: bool = False
) -> dict[str, Any]:
    ranks: list[int | None] = []
    for q in questions:
        hits = kb.search(q.question, filters_for(q), mode=mode, top_k=TOP_K, distinct_pages=True)
        ranks.append(rank_of(hits, q))
        if show_misses and is_tuning(q.doc_id) and (ranks[-1] is None or ranks[-1] >= 5):
            print_miss(q, hits)
    return report(questions, ranks)


def print_miss(q: CuadQuestion, hits: list[SearchHit]) -> None:
    print(
        f"\n=== MISS {q.doc_id} [{q.category}] {q.question} gold pages {sorted(q.gold_pages)}",
        file=sys.stderr,
    )
    for i, h in enumerate(hits[:5]):
        text = " ".join(h.markdown.split())[:140]
        where = f"{h.doc_id[:12]} p{hit_page(h)}"
        print(f"  {i + 1}. {where} {' > '.join(h.heading_path)[:50]!r}: {text}", file=sys.stderr)


def build_setups(
    meta: list[dict[str, str]],
    config: ChunkingConfig,
    count_tokens: Callable[[str], int],
    baselines: bool,
    scans: str | None = None,
    cuad: Path = CUAD,
) -> list[Setup]:
    code = ingest_hash()
    structured: list[Chunk] = []
    naive: dict[int, list[Chunk]] = {size: [] for size in NAIVE_SIZES} if baselines else {}
    for entry in meta:
        path = cuad / "contracts" / entry["file"]
        layouts = bench_layouts(path, scans, code)
        structured += chunk_document(path.stem, "cuad", path.name, layouts, config, count_tokens)
        for size in naive:
            naive[size] += naive_chunks(path.stem, layouts, size, count_tokens)
    return [
        ("structured", structured, ("hybrid", "dense", "sparse")),
        *((f"naive_{size}", chunks, ("hybrid", "dense")) for size, chunks in naive.items()),
    ]


def run_setup(
    setup: Setup,
    embedder: CachedEmbedder,
    search: SearchConfig,
    scopes: dict[str, list[CuadQuestion]],
    misses: bool,
) -> dict[str, Any]:
    """Index one chunking into one knowledge base of all contracts; every mode, every scope."""
    name, chunks, modes = setup
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = VectorStore(StoreConfig(path=tmp), embedder.dim)
        kb = KnowledgeBase(store, embedder, SparseEncoder(), search)
        t0 = time.perf_counter()
        kb.index_chunks(chunks)
        embedder.save()
        print(f"indexed {name}: {len(chunks)} chunks in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        for mode in modes:
            out[f"{name}+{mode}"] = {
                scope: evaluate(kb, qs, mode, misses and name == "structured" and mode == "hybrid")
                for scope, qs in scopes.items()
            }
            print_summary(f"{name}+{mode}", out[f"{name}+{mode}"])
        embedder.save()
        store.close()
    return out


def print_summary(label: str, by_scope: dict[str, Any]) -> None:
    for scope, rep in by_scope.items():
        cells = "  ".join(
            f"{h}: {rep[h]['hit@1']:.3f}/{rep[h]['hit@5']:.3f}/{rep[h]['mrr']:.3f}"
            for h in ("all", "tuning", "held_out")
        )
        print(f"{label:20} {scope:7} hit@1/hit@5/mrr  {cells}", file=sys.stderr)


def run_cuad(args: argparse.Namespace) -> dict[str, Any]:
    meta = json.loads((args.cuad / "metadata.json").read_text())
    if args.scans:  # only the contracts with scanned copies, on both sides of the comparison
        meta = [e for e in meta if is_scanned(Path(e["file"]), args.scans == "ocr-all")]
    embedder = cached_embedder(args.embedder)
    search = search_config(args.fusion, args.rrf_weights)
    config = ChunkingConfig().fitted(embedder.max_tokens)
    start = time.perf_counter()
    setups = build_setups(meta, config, embedder.count_tokens, args.baselines, args.scans, args.cuad)
    scopes = {
        scope: [
            q
            for q in load_questions(args.cuad, scope, args.unseen)
            if not args.scans or is_scanned(q.file, args.scans == "ocr-all")
        ]  # type: ignore[arg-type]
        for scope in args.scope.split(",")
    }
    print(f"layouts+chunks+questions {time.perf_counter() - start:.0f} s", file=sys.stderr)
    results: dict[str, Any] = {
        "contracts": len(meta),
        "scans": args.scans,
        "questions": {scope: len(qs) for scope, qs in scopes.items()},
        "phrasings": {
            c: [w for w, _ in forms] for c, forms in (UNSEEN if args.unseen else PHRASINGS).items()
        },
        "tuning_contracts": sorted(Path(e["file"]).stem for e in meta if is_tuning(Path(e["file"]).stem)),
        "hit_page_rule": "each hit counts for one page: the page holding most of its text, in the question's contract",
        "embedder": {
            "name": args.embedder,
            **EMBEDDERS[args.embedder].model_dump(include={"backend", "model", "dtype"}),
        },
        "ingest_code": ingest_hash(),
        "chunking": config.model_dump(),
        "search": search.model_dump(),
        "top_k": TOP_K,
        "chunks": {name: len(chunks) for name, chunks, _ in setups},
    }
    for setup in setups:
        results |= run_setup(setup, embedder, search, scopes, args.misses)
    results["seconds"] = round(time.perf_counter() - start)
    return results


# --- CJK tokenizer choice: a few Chinese contract sentences, BM25 only --------------------------------

CJK_DOCS = [
    "本合同自双方签字盖章之日起生效，有效期为三年。",
    "任何一方可提前三十日书面通知对方解除本合同。",
    "本合同适用中华人民共和国法律，争议提交上海仲裁委员会仲裁。",
    "买方应在收到发票后六十日内支付全部货款。",
    "卖方保证所交付的货物符合国家质量标准。",
    "因不可抗力导致无法履行合同的，双方均不承担违约责任。",
    "双方应对在合作中知悉的商业秘密承担保密义务。",
    "合同期满前一个月，双方可协商续签事宜。",
    "知识产权归甲方所有，乙方不得擅自使用。",
    "违约方应向守约方支付合同总金额百分之十的违约金。",
]
CJK_QUERIES = [  # (query, index of the document that answers it)
    ("合同什么时候生效", 0),
    ("提前多久通知可以解除合同", 1),
    ("适用哪国法律", 2),
    ("货款的付款期限", 3),
    ("货物质量保证", 4),
    ("不可抗力", 5),
    ("保密义务", 6),
    ("续签", 7),
    ("知识产权归属", 8),
    ("违约金是多少", 9),
    ("仲裁机构", 2),
    ("解除合同需要书面通知吗", 1),
    ("合同有效期几年", 0),
    ("上海仲裁委", 2),
    ("发票", 3),
    ("国家标准", 4),
    ("商业秘密", 6),
    ("协商续签", 7),
    ("甲方所有", 8),
    ("百分之十", 9),
    ("签字盖章", 0),
    ("三十日", 1),
    ("守约方", 9),
    ("擅自使用", 8),
]


def run_cjk() -> dict[str, object]:
    out: dict[str, object] = {}
    for method in ("bigram", "jieba"):
        tokenize(CJK_DOCS[0], method)  # type: ignore[arg-type]  # jieba loads its dictionary once
        start = time.perf_counter()
        for _ in range(50):
            docs = [tokenize(d, method) for d in CJK_DOCS]  # type: ignore[arg-type]
        tok_s = (time.perf_counter() - start) / 50
        df: dict[str, int] = {}
        for d in docs:
            for t in set(d):
                df[t] = df.get(t, 0) + 1
        avg = sum(len(d) for d in docs) / len(docs)
        rr = hit1 = 0.0
        for query, gold in CJK_QUERIES:
            terms = set(tokenize(query, method))  # type: ignore[arg-type]
            scores = [_bm25(terms, d, df, len(docs), avg) for d in docs]
            order = sorted(range(len(docs)), key=lambda i: -scores[i])
            rank = order.index(gold) if scores[gold] > 0 else None
            hit1 += rank == 0
            rr += 1 / (rank + 1) if rank is not None else 0
        n = len(CJK_QUERIES)
        out[method] = {
            "hit@1": round(hit1 / n, 3),
            "mrr": round(rr / n, 3),
            "tokenize_ms_10_docs": round(tok_s * 1000, 2),
        }
    return out


def _bm25(terms: set[str], doc: list[str], df: dict[str, int], n: int, avg: float, k1: float = 1.2) -> float:
    score = 0.0
    for t in terms:
        tf = doc.count(t)
        if tf:
            idf = math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5))  # Qdrant's IDF modifier formula
            score += idf * tf * (k1 + 1) / (tf + k1 * (0.25 + 0.75 * len(doc) / avg))
    return score


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cjk", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print the tuning half's misses (hybrid)")
    parser.add_argument("--baselines", action="store_true", help="also naive fixed-size chunks (512, 254)")
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="default")
    parser.add_argument("--cuad", type=Path, default=CUAD, help="a folder laid out as cuad-dev")
    parser.add_argument("--scope", default="within,across", help="within, across or both (comma-separated)")
    parser.add_argument(
        "--unseen", action="store_true", help="ask bench.cuad.UNSEEN phrasings (never tuned on)"
    )
    parser.add_argument("--fusion", choices=["rrf", "dbsf"], help="override SearchConfig.fusion")
    parser.add_argument(
        "--rrf-weights", metavar="D,S", help="override SearchConfig.rrf_weights (dense,sparse)"
    )
    parser.add_argument(
        "--scans",
        choices=["ocr", "ocr-before", "ocr-all", "pdf"],
        help="the scanned pages of bench/scans.py: read by RapidOCR (ocr; ocr-before: grouped without paragraph splitting; ocr-all: every page of all ten) or from the text layer (pdf)",
    )
    parser.add_argument("--out", type=Path, help="results file (default bench/results/retrieval_eval.json)")
    args = parser.parse_args()
    name = "sparse_cjk" if args.cjk else "retrieval_eval"
    results = run_cjk() if args.cjk else run_cuad(args)
    out = args.out or ROOT / "bench" / "results" / f"{name}.json"
    out.write_text(json.dumps(results, indent=2))
    if args.cjk:
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
