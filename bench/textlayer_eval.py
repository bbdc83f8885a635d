"""Text-layer engine vs docling ground truth: matched-block IoU per document and pages/s with and without tables.

Run: .venv/bin/python bench/textlayer_eval.py  (writes bench/results/textlayer_eval.json)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingest.layout import PageLayout  # noqa: E402
from ingest.ocr.textlayer import TextLayerConfig  # noqa: E402
from tests.support.docling_truth import gt_boxes, match_blocks, recognize_document  # noqa: E402

DOCLING = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "docling-testdata" / "pdf"
DOCS = [
    "2305.03393v1-pg9",
    "amt_handbook_sample",
    "multi_page",
    "normal_4pages",
    "redp5110_sampled",
    "table_mislabeled_as_picture",
]


def score_document(name: str, layouts: list[PageLayout]) -> dict[str, Any]:
    gt = gt_boxes(DOCLING / "groundtruth" / f"{name}.json")
    ious: list[float] = []
    n_gt = n_pred = hits50 = 0
    for layout in layouts:
        g = [box for _, box in gt.get(layout.page, [])]
        p = [b.bbox for b in layout.blocks]
        pairs = match_blocks(g, p)
        ious += [iou for _, _, iou in pairs]
        hits50 += sum(1 for *_, iou in pairs if iou >= 0.5)
        n_gt, n_pred = n_gt + len(g), n_pred + len(p)
    return {
        "doc": name,
        "pages": len(layouts),
        "gt_blocks": n_gt,
        "pred_blocks": n_pred,
        "matched": len(ious),
        "mean_iou_matched": round(sum(ious) / len(ious), 4) if ious else 0.0,
        "recall_at_0.5": round(hits50 / n_gt, 4) if n_gt else 0.0,
    }


def tables_found(layouts: list[PageLayout]) -> list[int]:
    return [lay.page for lay in layouts for b in lay.blocks if b.kind == "table"]


def _pages_of(name: str, tables: str) -> int:
    return len(recognize_document(DOCLING / "sources" / f"{name}.pdf", TextLayerConfig(tables=tables)))  # type: ignore[arg-type]


def throughput(tables: str, workers: int, rounds: int) -> float:
    """Pages/s over all documents, `rounds` times, in `workers` processes (one core each)."""
    jobs = [(name, tables) for _ in range(rounds) for name in DOCS]
    start = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        pages = sum(pool.map(_pages_of, *zip(*jobs, strict=True)))
    return pages / (time.perf_counter() - start)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "textlayer_eval.json")
    args = ap.parse_args()
    result: dict[str, Any] = {"load_avg_before": os.getloadavg()[0], "docs": {}}
    for mode in ("auto", "always", "never"):
        per_doc = []
        for name in DOCS:
            layouts = recognize_document(DOCLING / "sources" / f"{name}.pdf", TextLayerConfig(tables=mode))  # type: ignore[arg-type]
            per_doc.append(score_document(name, layouts) | {"table_pages": tables_found(layouts)})
        result["docs"][mode] = per_doc
        ious = [d["mean_iou_matched"] for d in per_doc]
        result[f"mean_iou_{mode}"] = round(sum(ious) / len(ious), 4)
    for mode in ("auto", "always", "never"):
        for workers in (1, 2):
            result[f"pages_per_s_{mode}_{workers}proc"] = round(throughput(mode, workers, args.rounds), 2)
    result["load_avg_after"] = os.getloadavg()[0]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    print(json.dumps({k: v for k, v in result.items() if k != "docs"}, indent=2))
    for d in result["docs"]["auto"]:
        print(d)


if __name__ == "__main__":
    main()
