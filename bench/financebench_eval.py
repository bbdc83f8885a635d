"""Financial filings (FinanceBench dev sample, shared test data): gold-page search and cited answers.

Nine SEC filings (10-K, 10-Q, 8-K, earnings releases; 1,022 born-digital pages) and their 25 questions
with 1-based gold pages. Pipeline: text-layer engine (+ furniture marks) -> chunker (document card
included) -> one knowledge base of all nine filings (embedded Qdrant in a temporary folder) ->
hybrid search -> ExtractiveAnswerer, as `opticite ask` runs it (top 8 hits, layout text attached).

Split by document, deterministic: the filings sorted by file name, alternately tuning (1st, 3rd, ...)
and held out (2nd, 4th, ...); `HALVES` in the results lists them. Tune on the tuning half only.

Per scope (`within`: the filing's doc filter; `across`: no filter, the question names the company),
for all / tuning / held-out:
  hit@1, hit@5   a search result's page (`hit_page`: the page holding most of its text) is a gold page;
                 results as `opticite search` shows them (each page once before any page twice)
  cites_gold     `ask` cites a region on a gold page of the question's filing
  refused        `ask` declined (every question here is answerable)
  unanswerable   the share of UNANSWERABLE (questions written about these filings that they do not answer)
                 `ask` refuses; a tuning set's own from its unanswerable.json (bench.financebench_sets)
  other_company  `ask` cites a filing of another company than the one the question names

    .venv/bin/python bench/financebench_eval.py                    # bench/results/financebench_eval.json
    .venv/bin/python bench/financebench_eval.py --misses           # also prints the tuning half's misses
    .venv/bin/python bench/financebench_eval.py --speed            # text-layer pages/s, every 8th page
    .venv/bin/python bench/financebench_eval.py --tables           # hand-checked statement cells found
    .venv/bin/python bench/financebench_eval.py --cards            # each filing's card: company, ticker, ...
    .venv/bin/python bench/financebench_eval.py --sparse --out bench/results/financebench_eval_sparse.json
                                         # BM25 search only: 6,100 chunks need no e5 passage vectors
    .venv/bin/python bench/financebench_eval.py --sparse --metric-inputs both --out ...
                                         # without and with SearchConfig.metric_inputs (the default: metric
                                         # questions ask for their inputs' statement lines, and the
                                         # statements holding them come first), on the same index

Layouts are cached under /tmp/opticite_retrieval_eval keyed by a hash of the page-reading code
(ingest/ocr, ingest/layout.py, ingest/page.py); vectors by text (bench/cuad_kb.py's cache).
$FINANCEBENCH_DIR overrides where the filings are (to run a copy of older code beside this one).
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import pymupdf  # noqa: E402

from bench.answer_eval import with_layout_text  # noqa: E402
from bench.cuad_kb import CACHE, EMBEDDERS, CachedEmbedder, cached_embedder  # noqa: E402
from ingest.card import read_card  # noqa: E402
from ingest.chunking import Chunk, ChunkingConfig, chunk_document  # noqa: E402
from ingest.layout import PageLayout  # noqa: E402
from ingest.ocr.reading_order import mark_furniture  # noqa: E402
from ingest.ocr.tables import table_blocks  # noqa: E402
from ingest.ocr.textlayer import TextLayerEngine  # noqa: E402
from ingest.page import PageImage  # noqa: E402
from ingest.sources import open_source  # noqa: E402
from retrieval.answer import Answer, AnswerConfig, ExtractiveAnswerer, unmentioned_refusal  # noqa: E402
from retrieval.hits import SearchFilters, SearchHit, SearchMode, hit_page  # noqa: E402
from retrieval.search import KnowledgeBase, SearchConfig  # noqa: E402
from retrieval.sparse import SparseEncoder  # noqa: E402
from retrieval.store import StoreConfig, VectorStore  # noqa: E402
from tests.support.statement_cells import STATEMENT_CELLS, cell_of, markdown_rows  # noqa: E402

DEV = ROOT.parent / "shared" / "testdata" / "financebench-dev"
DATA = Path(os.environ.get("FINANCEBENCH_DIR", DEV))
KB = "financebench"
SEARCH_K = 10
ASK_K = 8  # what `opticite ask` searches
SCOPES = ("within", "across")
SPEED_STEP = 8  # --speed reads every 8th page of each filing
CARD_PAGES = 3  # --cards reads the pages the card is read from (ingest.card.read_card)
# --metric-inputs: SearchConfig.metric_inputs for the run; "both" adds the "on" run as "metric_inputs_on"
METRIC_SETTINGS = {"off": (False,), "on": (True,), "both": (False, True)}
# Questions these filings do not answer, written by hand (session 13) about financebench-dev's filings; each
# one's key word was checked absent from its filing's text ("cryptocurrenc", "canada", "metaverse", ...).
# `ask` should refuse them: their refusal rate is reported beside the answerable questions'.
UNANSWERABLE = (
    ("3M_2022_10K", "How much did 3M invest in cryptocurrency in 2022?"),
    ("CVSHEALTH_2022_10K", "How many pharmacies does CVS Health operate in Canada?"),
    (
        "JOHNSON_JOHNSON_2022Q4_EARNINGS",
        "How much revenue did Johnson & Johnson earn from metaverse products?",
    ),
    ("JOHNSON_JOHNSON_2022_10K", "How many research stations does Johnson & Johnson run in Antarctica?"),
    (
        "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30",
        "What dividend did Johnson & Johnson declare for the third quarter of 2024?",
    ),
    ("PEPSICO_2023Q1_EARNINGS", "What were PepsiCo's net revenues in the fourth quarter of 2023?"),
    ("PFIZER_2021_10K", "How many bitcoins does Pfizer hold on its balance sheet?"),
    ("Pfizer_2023Q2_10Q", "How much did Pfizer spend on space tourism in the second quarter of 2023?"),
    ("VERIZON_2022_10K", "What is Verizon's market share in Japan?"),
    # the same nine asked another way, written in session 14 after the refusal of names the documents never
    # write (retrieval.unmentioned) was built on the tuning set's own questions, before their first run
    ("3M_2022_10K", "What were 3M's cryptocurrency holdings at the end of 2022?"),
    ("CVSHEALTH_2022_10K", "Does CVS Health run any pharmacies in the Canadian provinces?"),
    ("JOHNSON_JOHNSON_2022Q4_EARNINGS", "What share of Johnson & Johnson's sales came from the metaverse?"),
    ("JOHNSON_JOHNSON_2022_10K", "Does Johnson & Johnson operate research stations in Antarctica?"),
    (
        "JOHNSON_JOHNSON_2023_8K_dated-2023-08-30",
        "How much was the dividend Johnson & Johnson declared for Q3 2024?",
    ),
    ("PEPSICO_2023Q1_EARNINGS", "How much net revenue did PepsiCo report for Q4 2023?"),
    ("PFIZER_2021_10K", "What is the value of Pfizer's bitcoin holdings?"),
    ("Pfizer_2023Q2_10Q", "What did Pfizer spend on space tourism during Q2 2023?"),
    ("VERIZON_2022_10K", "How large is Verizon's share of the Japanese wireless market?"),
)


@dataclass(frozen=True)
class Question:
    id: str
    doc_id: str  # the filing's file stem
    company: str
    question: str
    gold_pages: frozenset[int]


def unanswerable_questions() -> list[tuple[str, str]]:
    """financebench-dev's `UNANSWERABLE`, or a tuning set's own (`bench.financebench_sets`)."""
    if DATA == DEV:
        return list(UNANSWERABLE)
    listed = DATA / "unanswerable.json"
    return [(q["doc_name"], q["question"]) for q in json.loads(listed.read_text())] if listed.exists() else []


def filings() -> list[Path]:
    return sorted((DATA / "pdfs").glob("*.pdf"), key=lambda p: p.name)


def halves() -> dict[str, list[str]]:
    """The deterministic split: sorted by file name, alternately tuning and held out."""
    docs = [p.stem for p in filings()]
    return {"tuning": docs[0::2], "held_out": docs[1::2]}


def load_questions() -> list[Question]:
    rows = json.loads((DATA / "questions.json").read_text())
    return [
        Question(r["id"], r["doc_name"], r["company"], r["question"], frozenset(r["gold_pages"]))
        for r in rows
    ]


@functools.cache
def reading_hash() -> str:
    """Hash of the code that turns a PDF page into a layout; chunking changes keep the cached layouts."""
    files = sorted((ROOT / "ingest" / "ocr").rglob("*.py")) + [
        ROOT / "ingest/layout.py",
        ROOT / "ingest/page.py",
    ]
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def pages_of(path: Path, step: int = 1) -> list[PageImage]:
    """Pages for the text-layer engine, which reads the PDF itself (no pixels rendered)."""
    with open_source(path) as doc:
        return [doc.render_page(n, pixels=False) for n in range(1, doc.page_count + 1, step)]


def layouts_for(path: Path) -> list[PageLayout]:
    cached = CACHE / f"fb.{path.stem}.{reading_hash()}.layouts.json"
    if cached.is_file():
        return [PageLayout.model_validate(d) for d in json.loads(cached.read_text())]
    engine = TextLayerEngine()
    layouts = mark_furniture([engine.recognize_sync(p) for p in pages_of(path)])
    CACHE.mkdir(exist_ok=True)
    for stale in CACHE.glob(f"fb.{path.stem}.*.layouts.json"):
        stale.unlink()
    cached.write_text(json.dumps([lay.model_dump(mode="json") for lay in layouts]))
    return layouts


def speed() -> dict[str, Any]:
    """Text-layer pages/s over every SPEED_STEP-th page of every filing (no cache)."""
    engine = TextLayerEngine()
    pages = [p for path in filings() for p in pages_of(path, SPEED_STEP)]
    start = time.perf_counter()
    for page in pages:
        engine.recognize_sync(page)
    seconds = time.perf_counter() - start
    return {"pages": len(pages), "seconds": round(seconds, 1), "pages_per_s": round(len(pages) / seconds, 2)}


def filing_cards() -> dict[str, dict[str, str]]:
    """Each filing's card fields (company, ticker, form, period) read off its first pages."""
    engine = TextLayerEngine()
    cards: dict[str, dict[str, str]] = {}
    for path in filings():
        card = read_card(mark_furniture([engine.recognize_sync(p) for p in pages_of(path)[:CARD_PAGES]]))
        cards[path.stem] = {f.name: f.value for f in card.filing}
    return cards


def table_cells() -> dict[str, Any]:
    """Share of the hand-checked statement cells (tests/support/statement_cells.py) that this code's
    table blocks put under their row and column header, per page; PyMuPDF's `find_tables` cells
    (`Table.extract()`, its first row as the header) on the same pages beside them."""
    out: dict[str, Any] = {}
    totals = {"ours": 0, "find_tables": 0, "cells": 0}
    for filing, page, cells in STATEMENT_CELLS:
        with pymupdf.open(DATA / "pdfs" / f"{filing}.pdf") as doc:
            pdf_page = doc[page - 1]
            ours = [
                markdown_rows(b.markdown)
                for b in table_blocks(pdf_page, (pdf_page.rect.width, pdf_page.rect.height))
            ]
            raw = [[[c or "" for c in r] for r in t.extract()] for t in pdf_page.find_tables().tables]
        found = {
            name: sum(
                any(cell_of(t[0], t[1:], lab, col) == val for t in tables if t) for lab, col, val in cells
            )
            for name, tables in (("ours", ours), ("find_tables", raw))
        }
        out[f"{filing}:p{page}"] = {**found, "cells": len(cells)}
        for key in totals:
            totals[key] += out[f"{filing}:p{page}"][key]
    share = {k: round(totals[k] / totals["cells"], 3) for k in ("ours", "find_tables")}
    return {"pages": out, "cells": totals["cells"], "share_right": share}


def filters_for(q: Question, scope: str) -> SearchFilters:
    return SearchFilters(kb=KB, doc_ids=[q.doc_id] if scope == "within" else None)


def rank_of(hits: list[SearchHit], q: Question) -> int | None:
    return next((i for i, h in enumerate(hits) if h.doc_id == q.doc_id and hit_page(h) in q.gold_pages), None)


def company_of(doc_id: str) -> str:
    return doc_id.split("_")[0].upper()


def score(q: Question, hits: list[SearchHit], answer: Answer) -> dict[str, Any]:
    rank = rank_of(hits, q)
    cited = [(c.doc_id, r.page) for c in answer.citations for r in c.regions]
    return {
        "id": q.id,
        "doc": q.doc_id,
        "question": q.question,
        "gold_pages": sorted(q.gold_pages),
        "rank": rank,
        "top": [f"{h.doc_id}:p{hit_page(h)}" for h in hits[:5]],
        "answer": answer.answer,
        "cited": sorted({f"{d}:p{p}" for d, p in cited}),
        "hit@1": rank == 0,
        "hit@5": rank is not None and rank < 5,
        "cites_gold": any(d == q.doc_id and p in q.gold_pages for d, p in cited),
        "refused": answer.refused,
        "other_company": any(company_of(d) != company_of(q.doc_id) for d, _ in cited),
    }


METRICS = ("hit@1", "hit@5", "cites_gold", "refused", "other_company")


def metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    n = len(rows)
    return {"n": n, **{k: round(sum(r[k] for r in rows) / n, 3) if n else None for k in METRICS}}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    split = halves()
    return {
        "all": metrics(rows),
        "tuning": metrics([r for r in rows if r["doc"] in split["tuning"]]),
        "held_out": metrics([r for r in rows if r["doc"] in split["held_out"]]),
        "rows": rows,
    }


class NoPassageVectors:
    """`--sparse`: one constant passage vector, so indexing embeds nothing (BM25 alone ranks); the real
    embedder still serves the answerer's re-scoring."""

    def __init__(self, inner: CachedEmbedder) -> None:
        self.inner = inner
        self.dim = inner.dim
        self.max_tokens = inner.max_tokens

    def count_tokens(self, text: str) -> int:
        return self.inner.count_tokens(text)

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0] + [0.0] * (self.dim - 1) for _ in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def build_kb(
    tmp: str, embedder: CachedEmbedder, sparse_only: bool
) -> tuple[KnowledgeBase, dict[str, list[PageLayout]], int]:
    config = ChunkingConfig().fitted(embedder.max_tokens)
    layouts: dict[str, list[PageLayout]] = {}
    chunks: list[Chunk] = []
    for path in filings():
        layouts[path.stem] = layouts_for(path)
        chunks += chunk_document(path.stem, KB, path.name, layouts[path.stem], config, embedder.count_tokens)
    indexer = NoPassageVectors(embedder) if sparse_only else embedder
    store = VectorStore(StoreConfig(path=tmp), embedder.dim)
    kb = KnowledgeBase(store, indexer, SparseEncoder(), SearchConfig())
    kb.index_chunks(chunks)
    embedder.save()
    return kb, layouts, len(chunks)


def print_miss(row: dict[str, Any]) -> None:
    print(
        f"\n=== {row['doc']} gold {row['gold_pages']} rank {row['rank']}: {row['question'][:90]}",
        file=sys.stderr,
    )
    print(f"  top: {row['top']}", file=sys.stderr)
    print(f"  answer: {row['answer'][:200]!r} cited {row['cited']}", file=sys.stderr)


def ask(
    kb: KnowledgeBase, answerer: ExtractiveAnswerer, layouts: dict[str, list[PageLayout]], question: str,
    filters: SearchFilters, mode: SearchMode,
) -> tuple[list[SearchHit], list[SearchHit], Answer]:  # fmt: skip
    """The search results (each page once before any twice, as `opticite search` shows them), the hits
    answered from (the top ASK_K in rank order, with their layout text) and the answer, as `opticite ask`
    gives it (refusing a question naming what those hits' documents never write)."""
    results = kb.search(question, filters, mode=mode, top_k=SEARCH_K, distinct_pages=True)
    ranked = kb.search(question, filters, mode=mode, top_k=SEARCH_K)
    asked = [with_layout_text(h, layouts) for h in ranked[:ASK_K]]
    if missing := kb.unmentioned(question, asked):
        return results, asked, unmentioned_refusal(answerer.config, missing)
    return results, asked, asyncio.run(answerer.answer(question, asked))


def unanswerable(
    kb: KnowledgeBase, answerer: ExtractiveAnswerer, layouts: dict[str, list[PageLayout]], scope: str,
    mode: SearchMode,
) -> dict[str, Any]:  # fmt: skip
    """The share of the unanswerable questions `ask` refuses, each asked as the answerable ones are; and
    `refused_by_answerer`, the share the answerer alone refuses (without `KnowledgeBase.unmentioned`)."""
    rows: list[dict[str, Any]] = []
    for doc, question in unanswerable_questions():
        filters = SearchFilters(kb=KB, doc_ids=[doc] if scope == "within" else None)
        _, asked, answer = ask(kb, answerer, layouts, question, filters, mode)
        alone = answer  # the answerer's own, unless `ask` refused before it ran
        if "unmentioned" in answer.flags:
            alone = asyncio.run(answerer.answer(question, asked))
        rows.append(
            {
                "doc": doc,
                "question": question,
                "refused": answer.refused,
                "refused_by_answerer": alone.refused,
                "answer": answer.answer,
            }
        )
    n = len(rows)
    return {
        "n": n,
        "refused": round(sum(r["refused"] for r in rows) / n, 3),
        "refused_by_answerer": round(sum(r["refused_by_answerer"] for r in rows) / n, 3),
        "rows": rows,
    }


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    embedder = cached_embedder(args.embedder)
    questions = load_questions()
    answerer = ExtractiveAnswerer(AnswerConfig(), embedder)
    started = time.perf_counter()
    mode: SearchMode = "sparse" if args.sparse else "hybrid"
    out: dict[str, Any] = {
        "search_mode": mode,
        "halves": halves(),
        "embedder": {
            "name": args.embedder,
            **EMBEDDERS[args.embedder].model_dump(include={"backend", "model"}),
        },
        "reading_code": reading_hash(),
        "metric_inputs": args.metric_inputs,
        "hit_page_rule": "each hit counts for one page: the page holding most of its text, in the question's filing",
    }
    with tempfile.TemporaryDirectory(prefix="financebench-") as tmp:
        kb, layouts, out["chunks"] = build_kb(tmp, embedder, args.sparse)
        out["index_s"] = round(time.perf_counter() - started)
        for setting in METRIC_SETTINGS[args.metric_inputs]:
            kb.config = SearchConfig(metric_inputs=setting)  # a query setting: the one index serves both
            runs = out.setdefault("metric_inputs_on", {}) if setting and args.metric_inputs == "both" else out
            for scope in SCOPES:
                rows = []
                for q in questions:
                    results, _, answer = ask(kb, answerer, layouts, q.question, filters_for(q, scope), mode)
                    rows.append(score(q, results, answer))
                    if args.misses and rows[-1]["doc"] in halves()["tuning"] and not rows[-1]["cites_gold"]:
                        print_miss(rows[-1])
                runs[scope] = summarize(rows)
                if unanswerable_questions():
                    runs[scope]["unanswerable"] = unanswerable(kb, answerer, layouts, scope, mode)
        kb.store.close()
    embedder.save()
    out["seconds"] = round(time.perf_counter() - started)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="default")
    parser.add_argument("--misses", action="store_true", help="print the tuning half's questions not cited")
    parser.add_argument("--speed", action="store_true", help="only text-layer pages/s (no cache)")
    parser.add_argument("--cards", action="store_true", help="only each filing's card fields")
    parser.add_argument("--tables", action="store_true", help="only the hand-checked statement cells")
    parser.add_argument(
        "--sparse",
        action="store_true",
        help="BM25 search only: no passage embeddings (minutes, not an hour on 2 CPUs)",
    )
    parser.add_argument(
        "--metric-inputs",
        choices=sorted(METRIC_SETTINGS),
        default="on",
        help="SearchConfig.metric_inputs (on by default): metric questions reach their inputs' statements",
    )
    parser.add_argument(
        "--out", type=Path, help="results file (default bench/results/financebench_eval.json)"
    )
    args = parser.parse_args()
    if not DATA.is_dir():
        raise SystemExit(f"{DATA} is absent: the shared test data is needed")
    if args.speed:
        print(json.dumps(speed()))
        return
    if args.cards:
        cards = filing_cards()
        (ROOT / "bench" / "results" / "financebench_cards.json").write_text(json.dumps(cards, indent=2))
        print(f"{sum('ticker' in c for c in cards.values())} of {len(cards)} cards with a ticker")
        return
    if args.tables:
        result = table_cells()
        (ROOT / "bench" / "results" / "financebench_tables.json").write_text(json.dumps(result, indent=2))
        print(json.dumps(result["share_right"]))
        return
    result = evaluate(args)
    out = args.out or ROOT / "bench" / "results" / "financebench_eval.json"
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False))
    for runs in [result] + ([result["metric_inputs_on"]] if "metric_inputs_on" in result else []):
        for scope in SCOPES:
            print(scope, {h: runs[scope][h] for h in ("all", "tuning", "held_out")})


if __name__ == "__main__":
    main()
