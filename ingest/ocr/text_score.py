"""Character error rate between OCR text and a reference: `cer(ocr, truth)` = edit distance / reference length.

Both sides go through `plain_text` first, so Markdown and HTML markup (`#`, `**`, `|`, `<td>`) and
line breaks do not count as errors: what is scored is the text a reader sees, in order.
"""

from __future__ import annotations

import html
import re

import numpy as np

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


def levenshtein(a: str, b: str) -> int:
    """Edit distance, one numpy row at a time (insertions resolved with a running minimum)."""
    if not a or not b:
        return len(a) or len(b)
    bs = np.frombuffer(b.encode("utf-32-le"), dtype=np.uint32)
    cols = np.arange(len(b) + 1)
    row = cols.copy()
    for i, ch in enumerate(a, start=1):
        cost = (bs != ord(ch)).astype(np.int64)
        cand = np.empty_like(row)
        cand[0] = i
        cand[1:] = np.minimum(row[1:] + 1, row[:-1] + cost)
        row = np.minimum.accumulate(cand - cols) + cols
    return int(row[-1])


def cer(ocr: str, truth: str) -> float:
    """Edits per reference character; above 1 when the OCR adds more than the reference holds."""
    return levenshtein(ocr, truth) / max(len(truth), 1)
