"""Headings on OCR pages, from the text and the line heights alone (no fonts): numbered side headings
("1. TERM; TERMINATION" in a margin column), one-line ALL CAPS titles and lines clearly taller than the body.

Pure functions on any engine's blocks and lines; boxes are normalized (0..1 of the page).
"""

from __future__ import annotations

import statistics

from ingest.clauses import is_title_like, parse_number
from ingest.layout import Block

HEADING_MAX_WORDS = 10  # a heading found by caps or height is at most this many words
CAPS_MIN_LETTERS = 4  # "A." or "USD" alone is no heading
TALL_RATIO = 1.4  # a one-line block this much taller than the page's median line is a heading


def is_side_heading(text: str) -> bool:
    """A short numbered title ("1. TERM; TERMINATION", "Section 4 Payment"), the kind contracts set in a
    margin column beside the clause's text. Unnumbered caps are not enough: a table's header row
    ("CODE/DESC   PRICE Disc AMOUNT") looks the same."""
    number = parse_number(text)
    return number is not None and bool(number.rest.strip()) and is_title_like(number.rest)


def is_caps_title(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    words = text.split()
    return (
        len(letters) >= CAPS_MIN_LETTERS
        and len(words) <= HEADING_MAX_WORDS
        and all(c.isupper() for c in letters)
        and not text.rstrip().endswith(",")
    )


def mark_headings(blocks: list[Block]) -> list[Block]:
    """The blocks with one-line titles marked as headings: ALL CAPS, or much taller than the body.
    Numbered titles are left to `ingest.clauses`, which gives them their level from the numbering."""
    heights = [ln.bbox.y1 - ln.bbox.y0 for b in blocks for ln in b.lines]
    body = statistics.median(heights) if heights else 0.0
    out = []
    for block in blocks:
        if block.kind == "text" and len(block.lines) == 1 and _is_heading(block, body):
            block = block.model_copy(update={"kind": "heading", "level": 2})
        out.append(block)
    return out


def _is_heading(block: Block, body_height: float) -> bool:
    text = block.markdown.strip()
    if parse_number(text) is not None or len(text.split()) > HEADING_MAX_WORDS:
        return False
    tall = body_height > 0 and block.bbox.y1 - block.bbox.y0 >= TALL_RATIO * body_height
    return is_caps_title(text) or (tall and any(c.isalpha() for c in text))
