"""Character error rate between OCR text and a reference: `cer(ocr, truth)` = edit distance / reference length.

Both sides go through `plain_text` first, so Markdown and HTML markup (`#`, `**`, `|`, `<td>`) and
line breaks do not count as errors: what is scored is the text a reader sees, in order.
"""

from __future__ import annotations

import html
import re

from rapidfuzz.distance import Levenshtein

from ingest.layout import PageLayout

_TAGS = re.compile(r"<[^>]+>")
_RULES = re.compile(r"(?m)^[\s|:-]*-{3,}[\s|:-]*$")  # a Markdown table's header rule, a thematic break
_MARKUP = re.compile(r"(?m)^\s{0,3}(?:#{1,6}\s+|[-*+]\s+|>\s*)|\*\*|__|`|\|")
_SPACE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Runs of whitespace as one space, trimmed."""
    return _SPACE.sub(" ", text).strip()


def plain_text(markdown: str) -> str:
    """The visible text of Markdown (tables as HTML included), whitespace collapsed."""
    text = _RULES.sub(" ", _TAGS.sub(" ", markdown))
    text = html.unescape(_MARKUP.sub(" ", text))
    return normalize(text)


def layout_text(layout: PageLayout) -> str:
    """A page's text in reading order, every block (furniture too: a page's header is text it shows)."""
    return plain_text("\n\n".join(b.markdown for b in sorted(layout.blocks, key=lambda b: b.order)))


def cer(ocr: str, truth: str) -> float:
    """Edits per reference character; above 1 when the OCR adds more than the reference holds."""
    return Levenshtein.distance(ocr, truth) / max(len(truth), 1)
