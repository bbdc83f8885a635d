"""Contract QA retrieval on CUAD (shared test data): page hit@1, hit@5 and MRR per chunking and search mode.

Questions and gold pages come from the shared loader `bench/cuad.py`: one question per labelled span
category ("What is the governing law of this agreement?"), asked within its contract; gold = the pages
holding one of the category's lawyer-marked spans (whitespace-normalized text match). A hit counts for
one page only, the page holding most of the hit's text (`hit_page`), for every chunking alike.
Contracts with an odd number (01, 03, ...) are the tuning half; the even ones are held out.

    .venv/bin/python bench/retrieval_eval.py          # writes bench/results/retrieval_eval.json
    .venv/bin/python bench/retrieval_eval.py --misses # also prints the tuning half's misses
    .venv/bin/python bench/retrieval_eval.py --cjk    # bigram vs jieba on a few Chinese sentences
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cuad import load_questions  # noqa: E402
from ingest.chunking import Chunk, ChunkingConfig, chunk_document, chunk_id  # noqa: E402
from ingest.layout import BBox, PageLayout, Region  # noqa: E402
from ingest.ocr.reading_order import mark_furniture  # noqa: E402
from ingest.ocr.textlayer import TextLayerEngine  # noqa: E402
from ingest.page import PageImage  # noqa: E402
from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder  # noqa: E402
from retrieval.hits import SearchFilters, SearchHit, SearchMode  # noqa: E402
from retrieval.search import KnowledgeBase, SearchConfig  # noqa: E402
from retrieval.sparse import SparseEncoder, tokenize  # noqa: E402
from retrieval.store import StoreConfig, VectorStore  # noqa: E402

CUAD = ROOT.parent / "shared" / "testdata" / "cuad-dev"
NAIVE_SIZES = (512, 254)  # 512 as commonly configured (MiniLM reads the first 256); 254 fits its window
CACHE = Path(tempfile.gettempdir()) / "opticite_retrieval_eval"
Question = tuple[str, str, str, set[int]]  # doc_id, category, question, gold pages


def is_tuning(doc_id: str) -> bool:
    """Odd-numbered contracts tune; even-numbered ones are held out (each half: 2 service, 2 licence, 1 outsourcing)."""
    return int(doc_id.split("_", 1)[0]) % 2 == 1


def layouts_for(path: Path) -> list[PageLayout]:
    cached = CACHE / f"{path.stem}.layouts.json"
    if cached.is_file():
        return [PageLayout.model_validate(d) for d in json.loads(cached.read_text())]
    engine = TextLayerEngine()
    with pymupdf.open(path) as doc:
        sizes = [(p.rect.width, p.rect.height) for p in doc]
    pages = [
        PageImage(
            page=i + 1,
            width=w,
            height=h,
            unit="pt",
            image_png=b"",
            image_size=(int(w * 2), int(h * 2)),
            dpi=144,
            source=path,
        )  # fmt: skip
        for i, (w, h) in enumerate(sizes)
    ]
    layouts = mark_furniture([engine.recognize_sync(p) for p in pages])
    CACHE.mkdir(exist_ok=True)
    cached.write_text(json.dumps([lay.model_dump(mode="json") for lay in layouts]))
    return layouts


class CachedEmbedder:
    """The real embedder; vectors kept on disk by text, so re-runs embed only changed chunks."""

    def __init__(self, inner: SentenceTransformerEmbedder, path: Path) -> None:
        self.inner = inner
        self.path = path
        self.memo: dict[str, list[float]] = json.loads(path.read_text()) if path.is_file() else {}

    @property
    def dim(self) -> int:
        return self.inner.dim

    @property
    def max_tokens(self) -> int:
        return self.inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if todo:
            self.memo.update(zip(todo, self.inner.embed_passages(todo), strict=True))
        return [self.memo[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)

    def save(self) -> None:
        self.path.write_text(json.dumps(self.memo))


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


def hit_page(hit: SearchHit) -> int | None:
    """The one page a hit counts for: the page holding most of its text (ties: the earlier page).

    A chunk spanning two pages is not a hit for both; regions without text weigh one character."""
    weight: dict[int, int] = {}
    for region in hit.regions:
        weight[region.page] = weight.get(region.page, 0) + max(1, len(region.text or ""))
    if not weight:
        return hit.pages[0] if hit.pages else None
    return min(weight, key=lambda p: (-weight[p], p))


def rank_of(hits: list[SearchHit], gold: set[int]) -> int | None:
    return next((i for i, h in enumerate(hits) if hit_page(h) in gold), None)


def scores(ranks: list[int | None]) -> dict[str, float]:
    n = len(ranks) or 1
    return {
        "hit@1": round(sum(r == 0 for r in ranks) / n, 3),
        "hit@5": round(sum(r is not None and r < 5 for r in ranks) / n, 3),
        "mrr": round(sum(1 / (r + 1) for r in ranks if r is not None) / n, 3),
        "questions": len(ranks),
    }


def evaluate(
    kb: KnowledgeBase, questions: list[Question], mode: SearchMode, show_misses: bool = False
) -> dict[str, dict[str, float]]:
    """Scores on all questions and on each half."""
    ranks: list[int | None] = []
    for doc_id, category, question, gold in questions:
        hits = kb.search(question, SearchFilters(doc_ids=[doc_id]), mode=mode, top_k=10)
        ranks.append(rank_of(hits, gold))
        if show_misses and is_tuning(doc_id) and (ranks[-1] is None or ranks[-1] >= 5):
            print_miss(doc_id, category, question, gold, hits)
    tuning = [r for r, q in zip(ranks, questions, strict=True) if is_tuning(q[0])]
    held = [r for r, q in zip(ranks, questions, strict=True) if not is_tuning(q[0])]
    return {"all": scores(ranks), "tuning": scores(tuning), "held_out": scores(held)}


def print_miss(doc_id: str, category: str, question: str, gold: set[int], hits: list[SearchHit]) -> None:
    print(f"\n=== MISS {doc_id} [{category}] {question} gold pages {sorted(gold)}", file=sys.stderr)
    for i, h in enumerate(hits[:5]):
        text = " ".join(h.markdown.split())[:160]
        print(f"  {i + 1}. p{hit_page(h)} {' > '.join(h.heading_path)[:60]!r}: {text}", file=sys.stderr)


def build_setups(
    meta: list[dict[str, str]], config: ChunkingConfig, count_tokens: Callable[[str], int]
) -> list[tuple[str, list[Chunk], tuple[SearchMode, ...]]]:
    structured: list[Chunk] = []
    naive: dict[int, list[Chunk]] = {size: [] for size in NAIVE_SIZES}
    for entry in meta:
        path = CUAD / "contracts" / entry["file"]
        layouts = layouts_for(path)
        structured += chunk_document(path.stem, "cuad", path.name, layouts, config, count_tokens)
        for size in NAIVE_SIZES:
            naive[size] += naive_chunks(path.stem, layouts, size, count_tokens)
    return [
        ("structured", structured, ("hybrid", "dense", "sparse")),
        *((f"naive_{size}", naive[size], ("hybrid", "dense")) for size in NAIVE_SIZES),
    ]


def run_cuad(show_misses: bool) -> dict[str, object]:
    meta = json.loads((CUAD / "metadata.json").read_text())
    CACHE.mkdir(exist_ok=True)
    embedder = CachedEmbedder(
        SentenceTransformerEmbedder(EmbedderConfig(device="cpu")), CACHE / "vectors.json"
    )
    config = ChunkingConfig().fitted(embedder.max_tokens)
    start = time.perf_counter()
    setups = build_setups(meta, config, embedder.count_tokens)
    questions = [(q.file.stem, q.category, q.question, q.gold_pages) for q in load_questions(CUAD)]
    print(f"layouts+chunks {time.perf_counter() - start:.0f} s", file=sys.stderr)
    results: dict[str, object] = {
        "contracts": len(meta),
        "questions": len(questions),
        "tuning_contracts": sorted(Path(e["file"]).stem for e in meta if is_tuning(Path(e["file"]).stem)),
        "hit_page_rule": "each hit counts for one page: the page holding most of its text",
        "chunking": config.model_dump(),
        "search": SearchConfig().model_dump(),
        "chunks": {name: len(chunks) for name, chunks, _ in setups},
    }
    for name, chunks, modes in setups:
        with tempfile.TemporaryDirectory() as tmp:
            store = VectorStore(StoreConfig(path=tmp), embedder.dim)
            kb = KnowledgeBase(store, embedder, SparseEncoder(), SearchConfig())
            t0 = time.perf_counter()
            kb.index_chunks(chunks)
            embedder.save()
            print(
                f"indexed {name}: {len(chunks)} chunks in {time.perf_counter() - t0:.0f} s", file=sys.stderr
            )
            for mode in modes:
                misses = show_misses and name == "structured" and mode == "hybrid"
                results[f"{name}+{mode}"] = evaluate(kb, questions, mode, misses)
                print(name, mode, results[f"{name}+{mode}"], file=sys.stderr)
            store.close()
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--cjk", action="store_true")
    parser.add_argument("--misses", action="store_true", help="print the tuning half's misses (hybrid)")
    args = parser.parse_args()
    name = "sparse_cjk" if args.cjk else "retrieval_eval"
    results = run_cjk() if args.cjk else run_cuad(args.misses)
    (ROOT / "bench" / "results" / f"{name}.json").write_text(json.dumps(results, indent=2))
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
