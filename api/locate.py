"""Tighter citation boxes on DeepSeek-OCR pages, found by the model's own `locate` prompt.

DeepSeek-OCR grounds blocks, not lines or words, so a short answer ("January 29, 2020", a party's name)
read from a DeepSeek page would be highlighted as its whole paragraph. When a vLLM server is configured,
each short quote on such a page is looked up with `Locate <|ref|>quote<|/ref|> in the image.`; the box
the model answers replaces the citation's regions on that page when it lies inside them. Anything else
(no box, a box elsewhere on the page, an engine error) keeps the block's box: never worse than before.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from ingest.errors import OpticiteError
from ingest.layout import BBox, Region
from ingest.ocr.engine import Engine, OcrOptions
from ingest.page import PageImage
from retrieval.answer import Answer, Citation

log = logging.getLogger(__name__)

MAX_QUOTE_CHARS = 160  # a phrase or a sentence: longer quotes are their block anyway
INSIDE_TOL = 0.01  # share of the page a located box may stick out of the cited block


def to_locate(answer: Answer) -> list[tuple[str, int]]:
    """The (doc_id, page) of each citation short enough to locate, in citation order."""
    return [(c.doc_id, c.regions[0].page) for c in answer.citations if _short(c)]


async def locate_citations(
    answer: Answer, pages: Mapping[tuple[str, int], PageImage], engine: Engine
) -> Answer:
    """`answer` with each short citation on one of `pages` (DeepSeek pages) cut to its located box."""
    citations = await asyncio.gather(*(_locate(c, pages, engine) for c in answer.citations))
    return answer.model_copy(update={"citations": list(citations)})


def _short(citation: Citation) -> bool:
    return bool(citation.regions) and len(citation.quote) <= MAX_QUOTE_CHARS


async def _locate(citation: Citation, pages: Mapping[tuple[str, int], PageImage], engine: Engine) -> Citation:
    if not _short(citation):
        return citation
    page_n = citation.regions[0].page
    page = pages.get((citation.doc_id, page_n))
    if page is None:
        return citation
    try:
        layout = await engine.recognize(page, OcrOptions(prompt="locate", locate_text=citation.quote))
    except OpticiteError as exc:  # the answer stands with the block's box
        log.warning("locate failed on %s p%d: %s", citation.doc_id, page_n, exc)
        return citation
    on_page = [r for r in citation.regions if r.page == page_n]
    cited = BBox.union(r.bbox for r in on_page)
    found = [b.bbox for b in layout.blocks if cited.contains(b.bbox, tol=INSIDE_TOL) and b.bbox.area > 0]
    if not found:
        return citation
    located = Region(page=page_n, bbox=BBox.union(found), text=citation.quote)
    rest = [r for r in citation.regions if r.page != page_n]
    return citation.model_copy(update={"regions": [located, *rest]})
