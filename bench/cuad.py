"""CUAD contract questions with gold pages and gold boxes, shared by the retrieval, answer and peer benches.

One question per (contract, labelled category). Gold evidence is every annotated span of that category
found on a page: its page (1-based) and its boxes from PyMuPDF `search_for` (normalized 0..1, top-left).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from ingest.layout import BBox

QUESTIONS: dict[str, str] = {
    "Document Name": "What is the name of this agreement?",
    "Parties": "Who are the parties to this agreement?",
    "Agreement Date": "What is the date of this agreement?",
    "Effective Date": "When does this agreement become effective?",
    "Expiration Date": "When does this agreement expire?",
    "Renewal Term": "What is the renewal term of this agreement?",
    "Notice Period To Terminate Renewal": "How much notice is required to terminate the renewal of this agreement?",
    "Governing Law": "What is the governing law of this agreement?",
}


@dataclass
class GoldSpan:
    text: str
    page: int
    boxes: list[BBox] = field(default_factory=list)


@dataclass
class CuadQuestion:
    file: Path
    category: str
    question: str
    gold: list[GoldSpan]

    @property
    def gold_pages(self) -> set[int]:
        return {g.page for g in self.gold}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def _locate(doc: pymupdf.Document, span: str) -> GoldSpan | None:
    """The first page whose text holds the span (whitespace-normalized), with search_for boxes."""
    wanted = _norm(span)
    for index in range(doc.page_count):
        page = doc[index]
        if wanted not in _norm(page.get_text()):
            continue
        size = (page.rect.width, page.rect.height)
        # search_for matches within a page; long spans are found by their first and last words' lines
        rects = page.search_for(span.strip()) or page.search_for(" ".join(span.split()[:8]))
        boxes = [BBox.from_points((r.x0, r.y0, r.x1, r.y1), size) for r in rects]
        return GoldSpan(text=span, page=index + 1, boxes=boxes)
    return None


def load_questions(cuad_dir: Path) -> list[CuadQuestion]:
    meta = json.loads((cuad_dir / "metadata.json").read_text(encoding="utf-8"))
    questions: list[CuadQuestion] = []
    for entry in meta:
        path = cuad_dir / "contracts" / entry["file"]
        with pymupdf.open(path) as doc:
            for category, question in QUESTIONS.items():
                spans = [s for s in entry.get(category, []) if len(s.strip()) >= 4]
                gold = [g for g in (_locate(doc, s) for s in spans) if g is not None]
                if gold:
                    questions.append(CuadQuestion(path, category, question, gold))
    return questions


if __name__ == "__main__":
    import sys

    root = (
        Path(sys.argv[1])
        if len(sys.argv) > 1
        else Path(__file__).resolve().parents[2] / "shared/testdata/cuad-dev"
    )
    qs = load_questions(root)
    with_box = sum(1 for q in qs if any(g.boxes for g in q.gold))
    print(f"{len(qs)} questions over {len({q.file for q in qs})} contracts; {with_box} with a gold box")
