"""Chunks built by hand for the store and search tests."""

from __future__ import annotations

from ingest.chunking import Chunk, chunk_id
from ingest.layout import BBox, Region


def make_chunk(
    doc_id: str,
    ordinal: int,
    text: str,
    *,
    kb: str = "kb-a",
    kind: str = "text",
    pages: tuple[int, ...] = (1,),
    tags: tuple[str, ...] = (),
    heading: tuple[str, ...] = (),
) -> Chunk:
    regions = [Region(page=p, bbox=BBox(x0=0.1, y0=0.2, x1=0.9, y1=0.3)) for p in pages]
    return Chunk(
        id=chunk_id(doc_id, ordinal),
        doc_id=doc_id,
        kb=kb,
        ordinal=ordinal,
        kind=kind,  # type: ignore[arg-type]
        heading_path=list(heading),
        markdown=text,
        regions=regions,
        pages=list(pages),
        filename=f"{doc_id}.pdf",
        tags=list(tags),
    )


CONTRACT = [
    "The Supplier shall deliver the Goods to the Buyer's warehouse within 14 days of each order.",
    "Either party may terminate this Agreement on ninety days' written notice to the other party.",
    "This Agreement is governed by the laws of the State of New York, without regard to conflicts of law.",
    "The Buyer shall pay each invoice within 30 days; late amounts bear interest at 1.5% per month.",
    "Section 14.2.7 survives termination: confidentiality obligations last five years.",
    "The Supplier warrants that the Goods are free from defects in materials and workmanship.",
    "All notices must be in writing and sent by courier or registered mail to the addresses above.",
    "Neither party is liable for delays caused by events beyond its reasonable control.",
]


def contract_chunks(doc_id: str = "doc-1", kb: str = "kb-a") -> list[Chunk]:
    return [make_chunk(doc_id, i, t, kb=kb, pages=(i // 3 + 1,)) for i, t in enumerate(CONTRACT)]
