"""Do extractive answers cite the right place? CUAD contract questions, gold page and gold span box.

Pipeline: text-layer engine (+ furniture marks) -> chunker -> KnowledgeBase of all contracts (embedded
Qdrant in a temporary folder; caches in bench/cuad_kb.py) -> ExtractiveAnswerer. Every labelled
(contract, category) is asked in three phrasings (bench/cuad.py), within its contract (doc filter) and
across the knowledge base (no filter, the question names the agreement and its parties). A citation
counts only in the question's contract. Per scope, for all / tuning (odd contracts) / held-out (even):
  region_hit      headline: a citation's union box on a gold page (the union of its regions there) has
                  IoU >= 0.5 with a gold span's box, or covers >= 80% of it while at most 4x its area
                  (the span's box: the union of its `search_for` rects)
  region_loose    IoU >= 0.5 or containment, against the span's union or any one of its rects (the old rule)
  region_strict   IoU >= 0.5 or containment, against the span's union only
  region_iou      IoU >= 0.5 only
  page_hit        a citation's region lies on a gold page
  mean_cited_area mean area (share of the page) of the cited union boxes on gold pages
  retrieval_page  a top-k hit has a region on a gold page (what the answerer could reach)
  refused         the answerer declined

    .venv/bin/python bench/answer_eval.py [--embedder minilm|e5] [--scope within,across] [--top-k 8]
                                          [--no-rerank] [--no-layout-text] [--cache /tmp/answer_eval_cache.json]
                                          [--scans ocr|ocr-before|pdf]   # scanned copies: bench/scans.py

Writes bench/results/answer_eval.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cuad import PHRASINGS, CuadQuestion, is_tuning, load_questions  # noqa: E402
from bench.cuad_kb import (  # noqa: E402
    EMBEDDERS,
    KB,
    CachedEmbedder,
    cached_embedder,
    filters_for,
    ingest_hash,
)
from bench.scan_cache import is_scanned  # noqa: E402
from bench.scans import bench_layouts  # noqa: E402
from ingest.chunking import ChunkingConfig, chunk_document  # noqa: E402
from ingest.layout import BBox, PageLayout  # noqa: E402
from retrieval.answer import Answer, AnswerConfig, ExtractiveAnswerer, unmentioned_refusal  # noqa: E402
from retrieval.citations import attach_layout_text  # noqa: E402
from retrieval.hits import SearchHit  # noqa: E402

IOU_MIN = 0.5
COVER_MIN = 0.8  # share of the span's box the cited union must cover ...
AREA_MAX = 4.0  # ... while at most this many times its area
CONTAIN_TOL = 0.003  # of the page: rounding between the text layer's and search_for's boxes (old rules)
METRICS = (
    "page_hit",
    "region_hit",
    "region_loose",
    "region_strict",
    "region_iou",
    "retrieval_page",
    "refused",
)
Layouts = dict[str, list[PageLayout]]


def region_hit(cited: BBox, span: BBox) -> bool:
    """The headline rule: IoU >= 0.5, or the cited box covers >= 80% of the span at most 4x its area."""
    if cited.iou(span) >= IOU_MIN:
        return True
    return (
        span.area > 0
        and cited.intersection(span) >= COVER_MIN * span.area
        and cited.area <= AREA_MAX * span.area
    )


def old_match(cited: BBox, gold: BBox) -> bool:
    return cited.iou(gold) >= IOU_MIN or cited.contains(gold, tol=CONTAIN_TOL)


def with_layout_text(hit: SearchHit, layouts: Layouts) -> SearchHit:
    """The hit with its regions carrying their lines' text (a no-op when the chunker fills Region.text)."""
    return hit.model_copy(update={"regions": attach_layout_text(hit.regions, layouts[hit.doc_id])})


def cited_boxes(answer: Answer, doc_id: str) -> list[tuple[int, BBox]]:
    """Each citation's box per page, in the question's contract: the union of its regions there."""
    out: list[tuple[int, BBox]] = []
    for citation in answer.citations:
        if citation.doc_id != doc_id:
            continue
        per_page: dict[int, list[BBox]] = defaultdict(list)
        for region in citation.regions:
            per_page[region.page].append(region.bbox)
        out += [(page, BBox.union(boxes)) for page, boxes in per_page.items()]
    return out


def region_scores(question: CuadQuestion, boxes: list[tuple[int, BBox]]) -> dict[str, bool]:
    hit = loose = strict = iou = False
    for span in question.gold:
        if not span.boxes:
            continue
        union = BBox.union(span.boxes)
        on_page = [box for page, box in boxes if page == span.page]
        hit = hit or any(region_hit(c, union) for c in on_page)
        strict = strict or any(old_match(c, union) for c in on_page)
        loose = loose or any(old_match(c, g) for c in on_page for g in [union, *span.boxes])
        iou = iou or any(c.iou(g) >= IOU_MIN for c in on_page for g in [union, *span.boxes])
    return {"region_hit": hit, "region_loose": loose, "region_strict": strict, "region_iou": iou}


def score(question: CuadQuestion, answer: Answer, hits: list[SearchHit]) -> dict[str, Any]:
    boxes = cited_boxes(answer, question.doc_id)
    gold_pages = question.gold_pages
    on_gold = [box.area for page, box in boxes if page in gold_pages]
    reachable = [r for h in hits if h.doc_id == question.doc_id for r in h.regions]
    return {
        "file": question.file.name,
        "category": question.category,
        "phrasing": question.phrasing,
        "question": question.question,
        "answer": answer.answer,
        "refused": answer.refused,
        "gold_pages": sorted(gold_pages),
        "cited": sorted({f"{c.doc_id}:p{r.page}" for c in answer.citations for r in c.regions}),
        "page_hit": any(page in gold_pages for page, _ in boxes),
        **region_scores(question, boxes),
        "cited_area": round(sum(on_gold) / len(on_gold), 4) if on_gold else None,
        "retrieval_page": any(r.page in gold_pages for r in reachable),
    }


def retrieve(
    scopes: dict[str, list[CuadQuestion]], top_k: int, embedder: CachedEmbedder, scans: str | None = None
) -> tuple[Layouts, dict[str, list[list[SearchHit]]], dict[str, list[list[str]]], dict[str, float]]:
    """Read, chunk and index every contract into one knowledge base, then search each question and find
    the names and years it asks about that its hits' documents never write."""
    from retrieval.search import KnowledgeBase, SearchConfig
    from retrieval.sparse import SparseEncoder
    from retrieval.store import StoreConfig, VectorStore

    started = time.perf_counter()
    code = ingest_hash()
    paths = sorted({q.file for qs in scopes.values() for q in qs})
    layouts = {path.stem: bench_layouts(path, scans, code) for path in paths}
    timing = {"layouts": time.perf_counter() - started}
    with tempfile.TemporaryDirectory(prefix="answer-eval-") as tmp:
        store = VectorStore(StoreConfig(path=tmp), embedder.dim)
        kb = KnowledgeBase(store, embedder, SparseEncoder(), SearchConfig())
        chunking = ChunkingConfig().fitted(embedder.max_tokens)
        for path in paths:
            pages = layouts[path.stem]
            kb.index_chunks(chunk_document(path.stem, KB, path.name, pages, chunking, embedder.count_tokens))
        timing["index"] = time.perf_counter() - started - timing["layouts"]
        hits = {
            scope: [kb.search(q.question, filters_for(q), mode="hybrid", top_k=top_k) for q in qs]
            for scope, qs in scopes.items()
        }
        # what `opticite ask` refuses before answering: names and years the hits' documents never write
        missing = {
            scope: [kb.unmentioned(q.question, h) for q, h in zip(qs, hits[scope], strict=True)]
            for scope, qs in scopes.items()
        }
        store.close()
    embedder.save()
    return layouts, hits, missing, timing


def load_or_retrieve(
    scopes: dict[str, list[CuadQuestion]], args: argparse.Namespace, embedder: CachedEmbedder
) -> tuple[Layouts, dict[str, list[list[SearchHit]]], dict[str, list[list[str]]], dict[str, float]]:
    """`--cache FILE` keeps layouts, hits and unmentioned names, so answerer changes are measured in
    seconds."""
    cache: Path | None = args.cache
    asked = {scope: [q.question for q in qs] for scope, qs in scopes.items()} | {"scans": args.scans}
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        if data.get("asked") == asked and "missing" in data:
            layouts = {
                d: [PageLayout.model_validate(x) for x in pages] for d, pages in data["layouts"].items()
            }
            hits = {
                s: [[SearchHit.model_validate(h) for h in row] for row in rows]
                for s, rows in data["hits"].items()
            }
            return layouts, hits, data["missing"], data["timing"]
    layouts, hits, missing, timing = retrieve(scopes, args.top_k, embedder, args.scans)
    if cache is not None:
        data = {
            "asked": asked,
            "layouts": {d: [x.model_dump(mode="json") for x in pages] for d, pages in layouts.items()},
            "hits": {
                s: [[h.model_dump(mode="json") for h in row] for row in rows] for s, rows in hits.items()
            },
            "missing": missing,
            "timing": timing,
        }
        cache.write_text(json.dumps(data), encoding="utf-8")
    return layouts, hits, missing, timing


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    scopes = {
        scope: [
            q
            for q in load_questions(args.cuad, scope, args.unseen)
            if not args.scans or is_scanned(q.file, args.scans == "ocr-all")
        ]
        for scope in args.scope.split(",")
    }
    embedder = cached_embedder(args.embedder)
    layouts, all_hits, all_missing, timing = load_or_retrieve(scopes, args, embedder)
    started = time.perf_counter()
    answerer = ExtractiveAnswerer(AnswerConfig(), None if args.no_rerank else embedder)
    out: dict[str, Any] = {"settings": settings(args)}
    for scope, questions in scopes.items():
        rows = []
        for q, hits, missing in zip(questions, all_hits[scope], all_missing[scope], strict=True):
            if not args.no_layout_text:
                hits = [with_layout_text(h, layouts) for h in hits]
            if missing:
                answer = unmentioned_refusal(answerer.config, missing)
            else:
                answer = asyncio.run(answerer.answer(q.question, hits))
            rows.append(score(q, answer, hits))
        out[scope] = summarize(rows)
    embedder.save()
    timing["answer"] = time.perf_counter() - started
    return out | {"timing_s": {k: round(v, 1) for k, v in timing.items()}}


def settings(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "top_k": args.top_k,
        "scans": args.scans,
        "rerank": not args.no_rerank,
        "layout_text": not args.no_layout_text,
        "embedder": {
            "name": args.embedder,
            **EMBEDDERS[args.embedder].model_dump(include={"backend", "model"}),
        },
        "ingest_code": ingest_hash(),
        "region_rule": f"union of the citation's regions on the gold page: IoU >= {IOU_MIN} with the span's box, "
        f"or covers >= {COVER_MIN:.0%} of it while at most {AREA_MAX:g}x its area",
    }


def metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"n": 0}
    shares = {k: round(sum(r[k] for r in rows) / len(rows), 3) for k in METRICS}
    areas = [r["cited_area"] for r in rows if r["cited_area"] is not None]
    return {"n": len(rows), **shares, "mean_cited_area": round(sum(areas) / len(areas), 4) if areas else None}


def halves(rows: list[dict[str, Any]]) -> dict[str, Any]:
    tuning = [r for r in rows if is_tuning(r["file"])]
    held = [r for r in rows if not is_tuning(r["file"])]
    return {"all": metrics(rows), "tuning": metrics(tuning), "held_out": metrics(held)}


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """All / tuning / held-out, per category (same halves) and per phrasing index; then the rows."""
    brief = ("n", "page_hit", "region_hit", "refused")

    def short(sub: list[dict[str, Any]]) -> dict[str, Any]:
        return {h: {k: v for k, v in m.items() if k in brief} for h, m in halves(sub).items()}

    return halves(rows) | {
        "by_category": {c: short([r for r in rows if r["category"] == c]) for c in PHRASINGS},
        "by_phrasing": {
            str(i): short([r for r in rows if r["phrasing"] == i])
            for i in sorted({r["phrasing"] for r in rows})
        },
        "rows": rows,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cuad", type=Path, default=ROOT.parent / "shared/testdata/cuad-dev")
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="default")
    parser.add_argument("--scope", default="within,across", help="within, across or both (comma-separated)")
    parser.add_argument(
        "--unseen", action="store_true", help="ask bench.cuad.UNSEEN phrasings (never tuned on)"
    )
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--no-rerank", action="store_true", help="extractive answers without the embedder")
    parser.add_argument("--no-layout-text", action="store_true", help="do not give hit regions line text")
    parser.add_argument("--cache", type=Path, help="JSON file keeping layouts and hits between runs")
    parser.add_argument(
        "--scans",
        choices=["ocr", "ocr-before", "ocr-all", "pdf"],
        help="the scanned pages of bench/scans.py: read by RapidOCR (ocr; ocr-before: grouped without paragraph splitting; ocr-all: every page of all ten) or from the text layer (pdf)",
    )
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/answer_eval.json")
    args = parser.parse_args()
    result = evaluate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    brief = {s: {h: result[s][h] for h in ("all", "tuning", "held_out")} for s in args.scope.split(",")}
    print(json.dumps(brief | {"timing_s": result["timing_s"]}, indent=1))


if __name__ == "__main__":
    main()
