"""Do extractive answers cite the right place? CUAD contract questions, gold page and gold span box.

Pipeline: text-layer engine -> chunker -> KnowledgeBase (embedded Qdrant in a temporary folder,
bundled MiniLM embedder) -> ExtractiveAnswerer. For each labelled (contract, category) question
(bench/cuad.py), searching within that contract:
  page_hit        a citation's region lies on a gold page
  region_hit      a citation's box on a gold page has IoU >= 0.5 with a gold span's box, or contains it
                  (the span's box: the union of its `search_for` rects, or one of them: one occurrence
                  or line of the span)
  region_strict   the same against the union only
  region_iou      IoU >= 0.5 only (containment not counted: a whole-chunk box contains the span)
  mean_cited_area mean area (share of the page) of the cited boxes on gold pages
  retrieval_page  a top-k hit has a region on a gold page (what the answerer could reach)

    .venv/bin/python bench/answer_eval.py [--cuad DIR] [--top-k 8] [--no-rerank] [--no-layout-text]
                                          [--cache /tmp/answer_eval_cache.json]

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

from bench.cuad import CuadQuestion, load_questions  # noqa: E402
from ingest.chunking import ChunkingConfig, chunk_document  # noqa: E402
from ingest.layout import BBox, PageLayout  # noqa: E402
from ingest.ocr.engine import OcrOptions  # noqa: E402
from ingest.ocr.textlayer import TextLayerEngine  # noqa: E402
from ingest.sources import SourceConfig, open_source  # noqa: E402
from retrieval.answer import Answer, AnswerConfig, ExtractiveAnswerer  # noqa: E402
from retrieval.citations import attach_layout_text  # noqa: E402
from retrieval.hits import SearchFilters, SearchHit  # noqa: E402

KB = "cuad"
IOU_MIN = 0.5
CONTAIN_TOL = 0.003  # of the page: rounding between the text layer's and search_for's boxes
RENDER_DPI = 72  # the text-layer engine reads the PDF, not the pixels; a small render saves time


async def read_layouts(path: Path) -> list[PageLayout]:
    engine = TextLayerEngine()
    layouts: list[PageLayout] = []
    with open_source(path, SourceConfig(dpi=RENDER_DPI)) as source:
        for n in range(1, source.page_count + 1):
            layouts.append(await engine.recognize(source.render_page(n), OcrOptions(engine="textlayer")))
    return layouts


def build_knowledge_base(store_dir: Path) -> Any:
    from retrieval.embed import EmbedderConfig, build_embedder
    from retrieval.search import KnowledgeBase, SearchConfig
    from retrieval.sparse import SparseEncoder
    from retrieval.store import StoreConfig, VectorStore

    embedder = build_embedder(EmbedderConfig())
    store = VectorStore(StoreConfig(path=str(store_dir)), embedder.dim)
    return KnowledgeBase(store, embedder, SparseEncoder(), SearchConfig()), embedder


def with_layout_text(hit: SearchHit, layouts: list[PageLayout]) -> SearchHit:
    """The hit with its regions carrying their lines' text (a no-op when the chunker fills Region.text)."""
    return hit.model_copy(update={"regions": attach_layout_text(hit.regions, layouts)})


def cited_boxes(answer: Answer) -> list[tuple[int, BBox]]:
    """Each citation's box per page: the union of its regions there."""
    out: list[tuple[int, BBox]] = []
    for citation in answer.citations:
        per_page: dict[int, list[BBox]] = defaultdict(list)
        for region in citation.regions:
            per_page[region.page].append(region.bbox)
        out += [(page, BBox.union(boxes)) for page, boxes in per_page.items()]
    return out


def box_matches(cited: BBox, gold: BBox) -> bool:
    return cited.iou(gold) >= IOU_MIN or cited.contains(gold, tol=CONTAIN_TOL)


def score(question: CuadQuestion, answer: Answer, hits: list[SearchHit]) -> dict[str, Any]:
    boxes = cited_boxes(answer)
    gold_pages = question.gold_pages
    strict = loose = iou = False
    for span in question.gold:
        if not span.boxes:
            continue
        union = BBox.union(span.boxes)
        on_page = [box for page, box in boxes if page == span.page]
        strict = strict or any(box_matches(c, union) for c in on_page)
        loose = loose or any(box_matches(c, g) for c in on_page for g in [union, *span.boxes])
        iou = iou or any(c.iou(g) >= IOU_MIN for c in on_page for g in [union, *span.boxes])
    on_gold = [box.area for page, box in boxes if page in gold_pages]
    return {
        "file": question.file.name,
        "category": question.category,
        "question": question.question,
        "answer": answer.answer,
        "refused": answer.refused,
        "gold_pages": sorted(gold_pages),
        "cited_pages": sorted({page for page, _ in boxes}),
        "page_hit": any(page in gold_pages for page, _ in boxes),
        "region_hit": loose,
        "region_strict": strict,
        "region_iou": iou,
        "cited_area": round(sum(on_gold) / len(on_gold), 4) if on_gold else None,
        "retrieval_page": any(r.page in gold_pages for h in hits for r in h.regions),
    }


async def retrieve(
    questions: list[CuadQuestion], top_k: int
) -> tuple[dict[Path, list[PageLayout]], list[list[SearchHit]], dict[str, float]]:
    """OCR, chunk and index every contract, then search each question within its contract."""
    started = time.perf_counter()
    layouts = {path: await read_layouts(path) for path in sorted({q.file for q in questions})}
    timing = {"ocr": time.perf_counter() - started}
    with tempfile.TemporaryDirectory(prefix="answer-eval-") as tmp:
        kb, embedder = build_knowledge_base(Path(tmp))
        chunking = ChunkingConfig().fitted(embedder.max_tokens)
        for path, pages in layouts.items():
            kb.index_chunks(chunk_document(path.stem, KB, path.name, pages, chunking, embedder.count_tokens))
        timing["index"] = time.perf_counter() - started - timing["ocr"]
        hits = [
            kb.search(q.question, SearchFilters(kb=KB, doc_ids=[q.file.stem]), mode="hybrid", top_k=top_k)
            for q in questions
        ]
    return layouts, hits, timing


def load_or_retrieve(
    questions: list[CuadQuestion], args: argparse.Namespace
) -> tuple[dict[Path, list[PageLayout]], list[list[SearchHit]], dict[str, float]]:
    """`--cache FILE` keeps layouts and hits, so answerer changes are measured in seconds."""
    cache: Path | None = args.cache
    if cache is not None and cache.is_file():
        data = json.loads(cache.read_text(encoding="utf-8"))
        layouts = {
            Path(p): [PageLayout.model_validate(x) for x in pages] for p, pages in data["layouts"].items()
        }
        hits = [[SearchHit.model_validate(h) for h in row] for row in data["hits"]]
        return layouts, hits, data["timing"]
    layouts, hits, timing = asyncio.run(retrieve(questions, args.top_k))
    if cache is not None:
        data = {
            "layouts": {str(p): [x.model_dump(mode="json") for x in pages] for p, pages in layouts.items()},
            "hits": [[h.model_dump(mode="json") for h in row] for row in hits],
            "timing": timing,
        }
        cache.write_text(json.dumps(data), encoding="utf-8")
    return layouts, hits, timing


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    questions = load_questions(args.cuad)
    layouts, all_hits, timing = load_or_retrieve(questions, args)
    started = time.perf_counter()
    embedder = None
    if not args.no_rerank:
        from retrieval.embed import EmbedderConfig, build_embedder

        embedder = build_embedder(EmbedderConfig())
    answerer = ExtractiveAnswerer(AnswerConfig(), embedder)
    rows = []
    for q, hits in zip(questions, all_hits, strict=True):
        if not args.no_layout_text:
            hits = [with_layout_text(h, layouts[q.file]) for h in hits]
        rows.append(score(q, asyncio.run(answerer.answer(q.question, hits)), hits))
    timing["answer"] = time.perf_counter() - started
    return summarize(rows, args) | {"timing_s": timing}


def summarize(rows: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    n = len(rows)

    def share(key: str, subset: list[dict[str, Any]] = rows) -> float:
        return round(sum(r[key] for r in subset) / len(subset), 3) if subset else 0.0

    by_category = {
        c: {"n": len(sub), "page_hit": share("page_hit", sub), "region_hit": share("region_hit", sub)}
        for c in sorted({r["category"] for r in rows})
        for sub in [[r for r in rows if r["category"] == c]]
    }
    return {
        "questions": n,
        "settings": {
            "top_k": args.top_k,
            "rerank": not args.no_rerank,
            "layout_text": not args.no_layout_text,
        },
        "page_hit": share("page_hit"),
        "region_hit": share("region_hit"),
        "region_strict": share("region_strict"),
        "region_iou": share("region_iou"),
        "mean_cited_area": _mean([r["cited_area"] for r in rows if r["cited_area"] is not None]),
        "retrieval_page": share("retrieval_page"),
        "refused": share("refused"),
        "by_category": by_category,
        "rows": rows,
    }


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cuad", type=Path, default=ROOT.parent / "shared/testdata/cuad-dev")
    parser.add_argument("--top-k", type=int, default=8)
    parser.add_argument("--no-rerank", action="store_true", help="extractive answers without the embedder")
    parser.add_argument("--no-layout-text", action="store_true", help="do not give hit regions line text")
    parser.add_argument("--cache", type=Path, help="JSON file keeping layouts and hits between runs")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/answer_eval.json")
    args = parser.parse_args()
    result = evaluate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    keys = ["questions", "page_hit", "region_hit", "region_strict", "region_iou", "mean_cited_area"]
    keys += ["retrieval_page", "refused", "timing_s"]
    print(json.dumps({k: result[k] for k in keys}, indent=2))


if __name__ == "__main__":
    main()
