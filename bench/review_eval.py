"""Contract review on cuad-dev: the built-in `contract` schema read from every contract, scored on CUAD's gold.

Pipeline as bench/answer_eval.py (text-layer layouts and vectors cached by bench/cuad_kb.py, one
KnowledgeBase of all contracts), then `retrieval.review.extract_document` per contract. Per field,
for all / tuning (odd contracts) / held-out (even; never tuned on):
  page_hit      a found value's evidence lies on a gold page (fields CUAD labels and we could locate)
  region_hit    its regions' union on a gold page meets a gold span by answer_eval's rule
                (IoU >= 0.5, or covers >= 80% of it while at most 4x its area)
  region_hit_each  a party list's every region (one name's line) meets a gold span by that rule: the
                union of names written apart is no one name's box
  value_match   normalized value equals the gold span's (dates: ISO; Governing Law: jurisdiction)
  absent_ok     CUAD labels nothing: the field is reported not found
  found         the field was reported found, where CUAD labels it

    .venv/bin/python bench/review_eval.py [--embedder default|e5] [--cuad DIR]

Writes bench/results/review_eval.json.
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

from bench.answer_eval import region_hit  # noqa: E402
from bench.cuad import CuadQuestion, GoldSpan, is_tuning, load_questions  # noqa: E402
from bench.cuad_kb import EMBEDDERS, KB, cached_embedder, ingest_hash, layouts_for  # noqa: E402
from ingest.card import parse_date  # noqa: E402
from ingest.chunking import ChunkingConfig, chunk_document  # noqa: E402
from ingest.layout import BBox, Region  # noqa: E402
from retrieval.answer import AnswerConfig, ExtractiveAnswerer  # noqa: E402
from retrieval.review import CONTRACT, FieldValue, extract_document, jurisdiction  # noqa: E402
from retrieval.search import KnowledgeBase, SearchConfig  # noqa: E402
from retrieval.sparse import SparseEncoder  # noqa: E402
from retrieval.store import StoreConfig, VectorStore  # noqa: E402

METRICS = ("page_hit", "region_hit", "region_hit_each", "value_match", "absent_ok", "found")


def gold_value(category: str, spans: list[str]) -> str | None:
    """The normalized gold of a date or governing-law field, from its first span that has one."""
    for span in spans:
        if category in ("Agreement Date", "Effective Date") and (date := parse_date(span)):
            return date.isoformat()
        if category == "Governing Law" and (place := jurisdiction(span)):
            return place
    return None


def name_hit(region: Region, gold: GoldSpan) -> bool:
    """One line of a cited name meets a gold span: the span's box, or its box on that line (a name over
    two lines is cited, and located, a box a line)."""
    if not gold.boxes or gold.page != region.page:
        return False
    return region_hit(region.bbox, BBox.union(gold.boxes)) or any(
        region_hit(region.bbox, b) for b in gold.boxes
    )


def score(field: FieldValue, spans: list[str], located: CuadQuestion | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "field": field.name,
        "reported": field.found,
        "value": field.value,
        "normalized": field.normalized,
        "pages": sorted({r.page for r in field.regions}),
    }
    if not spans:
        return row | {"absent_ok": not field.found}
    row["found"] = field.found
    if located is not None:
        per_page: dict[int, list[BBox]] = defaultdict(list)
        for region in field.regions:
            per_page[region.page].append(region.bbox)
        boxes = {page: BBox.union(b) for page, b in per_page.items()}
        row["page_hit"] = any(page in located.gold_pages for page in boxes)
        row["region_hit"] = any(
            g.boxes and g.page in boxes and region_hit(boxes[g.page], BBox.union(g.boxes))
            for g in located.gold
        )
        if isinstance(field.value, list):  # a party list: each name is its own evidence, judged alone
            row["region_hit_each"] = bool(field.regions) and all(
                any(name_hit(r, g) for g in located.gold) for r in field.regions
            )
    if (gold := gold_value(field.name, spans)) is not None:
        row["gold"] = gold
        row["value_match"] = field.normalized == gold
    return row


def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    meta = json.loads((args.cuad / "metadata.json").read_text(encoding="utf-8"))
    # the gold spans located on their pages (phrasing 0: one per contract and category)
    located = {(q.doc_id, q.category): q for q in load_questions(args.cuad) if q.phrasing == 0}
    embedder = cached_embedder(args.embedder)
    code = ingest_hash()
    answerer = ExtractiveAnswerer(AnswerConfig(), embedder)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="review-eval-") as tmp:
        store = VectorStore(StoreConfig(path=tmp), embedder.dim)
        kb = KnowledgeBase(store, embedder, SparseEncoder(), SearchConfig())
        chunking = ChunkingConfig().fitted(embedder.max_tokens)
        paths = [args.cuad / "contracts" / e["file"] for e in meta]
        for path in paths:
            chunks = chunk_document(
                path.stem, KB, path.name, layouts_for(path, code), chunking, embedder.count_tokens
            )
            kb.index_chunks(chunks)
        indexed = time.perf_counter()
        for entry, path in zip(meta, paths, strict=True):
            fields = asyncio.run(extract_document(kb, path.stem, CONTRACT, answerer))
            for field in (f for f in fields if f.name in entry):  # the categories cuad-dev labels
                spans = [s for s in entry.get(field.name, []) if len(s.strip()) >= 4]
                rows.append({"doc": path.stem} | score(field, spans, located.get((path.stem, field.name))))
        store.close()
    embedder.save()
    extract_s = time.perf_counter() - indexed
    return {
        "settings": {
            "embedder": args.embedder,
            "schema": f"{CONTRACT.name} v{CONTRACT.version}",
            "ingest_code": code,
        },
        "summary": summarize(rows),
        "timing_s": {
            "index": round(indexed - started, 1),
            "extract": round(extract_s, 1),
            "per_document": round(extract_s / len(meta), 2),
        },
        "rows": rows,
    }


def metrics(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in METRICS:
        values = [r[key] for r in rows if key in r]
        if values:
            out[key] = {"share": round(sum(values) / len(values), 3), "n": len(values)}
    return out


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def halves(sub: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "all": metrics(sub),
            "tuning": metrics([r for r in sub if is_tuning(r["doc"])]),
            "held_out": metrics([r for r in sub if not is_tuning(r["doc"])]),
        }

    return {"fields": halves(rows)} | {
        name: halves([r for r in rows if r["field"] == name])
        for name in dict.fromkeys(r["field"] for r in rows)
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cuad", type=Path, default=ROOT.parent / "shared/testdata/cuad-dev")
    parser.add_argument("--embedder", choices=sorted(EMBEDDERS), default="default")
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/review_eval.json")
    args = parser.parse_args()
    result = evaluate(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    print(json.dumps({"fields": result["summary"]["fields"], "timing_s": result["timing_s"]}, indent=1))


if __name__ == "__main__":
    main()
