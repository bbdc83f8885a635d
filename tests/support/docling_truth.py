"""docling's ground-truth boxes for its test PDFs, and the text-layer engine run over a whole PDF.

Shared by tests/ingest/test_textlayer.py and bench/textlayer_eval.py."""

from __future__ import annotations

import json
from pathlib import Path

import pymupdf

from ingest.layout import BBox, PageLayout
from ingest.ocr.textlayer import TextLayerConfig, TextLayerEngine, mark_furniture
from ingest.page import PageImage

MIN_IOU_TO_PAIR = 0.1


def gt_boxes(gt_json: Path) -> dict[int, list[tuple[str, BBox]]]:
    """docling ground truth per page: (label, box) for texts, tables and pictures (BOTTOMLEFT points)."""
    doc = json.loads(gt_json.read_text())
    sizes = {int(k): (v["size"]["width"], v["size"]["height"]) for k, v in doc["pages"].items()}
    out: dict[int, list[tuple[str, BBox]]] = {p: [] for p in sizes}
    for item in [*doc["texts"], *doc["tables"], *doc["pictures"]]:
        for prov in item.get("prov", []):
            bb, page = prov["bbox"], prov["page_no"]
            bottom = bb.get("coord_origin", "BOTTOMLEFT") == "BOTTOMLEFT"
            edges = (bb["l"], bb["t"], bb["r"], bb["b"])
            box = BBox.from_points(edges, sizes[page], origin="bottom" if bottom else "top")
            out[page].append((item["label"], box))
    return out


def match_blocks(gt: list[BBox], pred: list[BBox]) -> list[tuple[int, int, float]]:
    """Greedy one-to-one pairing by IoU, best pairs first; pairs under MIN_IOU_TO_PAIR are left out."""
    cands = sorted(
        ((g.iou(p), i, j) for i, g in enumerate(gt) for j, p in enumerate(pred)),
        reverse=True,
    )
    used_g: set[int] = set()
    used_p: set[int] = set()
    pairs = []
    for iou, i, j in cands:
        if iou < MIN_IOU_TO_PAIR:
            break
        if i not in used_g and j not in used_p:
            used_g.add(i)
            used_p.add(j)
            pairs.append((i, j, iou))
    return pairs


def page_image(pdf: Path, page: int, width: float, height: float) -> PageImage:
    """A PageImage without pixels: the text-layer engine reads only `source` and `page`."""
    return PageImage(
        page=page,
        width=width,
        height=height,
        unit="pt",
        image_png=b"",
        image_size=(0, 0),
        dpi=144,
        source=pdf,
    )


def recognize_document(pdf: Path, config: TextLayerConfig) -> list[PageLayout]:
    engine = TextLayerEngine(config)
    with pymupdf.open(pdf) as doc:
        sizes = [(p.rect.width, p.rect.height) for p in doc]
    layouts = [engine.recognize_sync(page_image(pdf, i + 1, w, h)) for i, (w, h) in enumerate(sizes)]
    return mark_furniture(layouts)
