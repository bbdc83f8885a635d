"""From a quote to the places on the page that hold it: chunk regions narrowed to the quoted lines.

A chunk's regions carry their text (`Region.text`, one region per line or block); the quote is
located in their concatenation and only the regions it touches are cited. Regions without text
can be given it from the page layouts (`attach_layout_text`). When nothing matches, the chunk's
regions are cited as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from difflib import SequenceMatcher

from ingest.layout import PageLayout, Region
from retrieval.sentences import idf_weights, overlap_score, split_sentences, terms

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# a fuzzy match must share at least this many normalized characters in one run
_MIN_FUZZY_RUN = 12
# a line belongs to a chunk region when this share of its box lies inside the region
_INSIDE_SHARE = 0.6


def normalize(text: str) -> str:
    """Lower-cased words joined by single spaces: punctuation, Markdown and line breaks ignored."""
    return " ".join(_WORD.findall(text.lower()))


def narrow_regions(quote: str, regions: Sequence[Region]) -> list[Region]:
    """The regions holding (part of) `quote`, in order, each cut to the quoted words (`Region.part`): a
    quote that starts mid-line is not highlighted from the line's start. All of `regions` when none match."""
    texted = [r for r in regions if r.text]
    q = normalize(quote)
    if not texted or not q:
        return list(regions)
    spans, joined = _concatenate(texted)
    start = joined.find(q)
    hits = [(start, start + len(q))] if start >= 0 else _fuzzy_runs(joined, q)
    chosen = [
        _cut(region, a, [(max(s, a), min(e, b)) for s, e in hits if a < e and s < b])
        for region, (a, b) in zip(texted, spans, strict=True)
        if any(a < e and s < b for s, e in hits)
    ]
    return chosen or list(regions)


def _cut(region: Region, offset: int, runs: list[tuple[int, int]]) -> Region:
    """`region` cut to the words that the matched runs (offsets in the joined normalized text) cover."""
    words = list(_WORD.finditer((region.text or "").lower()))
    first = last = None
    pos = offset
    for i, word in enumerate(words):  # normalize() joins these same words with single spaces
        end = pos + len(word.group(0))
        if any(pos < e and s < end for s, e in runs):
            first = i if first is None else first
            last = i
        pos = end + 1
    if first is None or last is None:
        return region
    return region.part(words[first].start(), words[last].end())


def _concatenate(regions: Sequence[Region]) -> tuple[list[tuple[int, int]], str]:
    spans: list[tuple[int, int]] = []
    parts: list[str] = []
    pos = 0
    for r in regions:
        text = normalize(r.text or "")
        spans.append((pos, pos + len(text)))
        parts.append(text)
        pos += len(text) + 1
    return spans, " ".join(parts)


def _fuzzy_runs(joined: str, q: str) -> list[tuple[int, int]]:
    """Runs of `joined` that match `q` (OCR and Markdown differ from the layout text in small ways)."""
    least = min(_MIN_FUZZY_RUN, max(4, len(q) // 2))
    matcher = SequenceMatcher(None, joined, q, autojunk=False)
    return [(m.a, m.a + m.size) for m in matcher.get_matching_blocks() if m.size >= least]


def attach_layout_text(regions: Sequence[Region], layouts: Iterable[PageLayout]) -> list[Region]:
    """Regions without text replaced by the layout lines (or blocks) inside them, with their text."""
    by_page = {layout.page: layout for layout in layouts}
    out: list[Region] = []
    for region in regions:
        layout = by_page.get(region.page)
        if region.text or layout is None:
            out.append(region)
            continue
        inside = [r for r in _layout_pieces(layout) if _mostly_inside(r, region)]
        out.extend(inside or [region])
    return out


def _layout_pieces(layout: PageLayout) -> list[Region]:
    pieces: list[Region] = []
    for block in sorted(layout.blocks, key=lambda b: b.order):
        pieces.extend(block.regions(layout.page))
    return pieces


def _mostly_inside(piece: Region, region: Region) -> bool:
    area = piece.bbox.area
    if area <= 0:
        return region.bbox.contains(piece.bbox)
    return piece.bbox.intersection(region.bbox) / area >= _INSIDE_SHARE


def best_quote(chunk_text: str, claim: str) -> str:
    """The sentence of `chunk_text` that best supports `claim` (verbatim); the first one on no overlap."""
    sentences = split_sentences(chunk_text)
    if not sentences:
        return chunk_text.strip()
    sentence_terms = [terms(s) for s in sentences]
    idf = idf_weights(sentence_terms)
    claim_terms = terms(claim)
    scores = [overlap_score(claim_terms, st, idf) for st in sentence_terms]
    best = max(range(len(sentences)), key=lambda i: (scores[i], -i))
    return sentences[best]
