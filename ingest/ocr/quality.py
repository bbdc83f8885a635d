"""The quality gate for generative OCR output: truncation and repetition loops.

Pure functions over the raw text, the parsed blocks and the server's `finish_reason`; the router
decides what to do with a failing verdict (retry, simpler prompt, CPU engine).
"""

from __future__ import annotations

import re
from collections import Counter
from difflib import SequenceMatcher

from pydantic import BaseModel

from ingest.layout import Block
from ingest.ocr.grounding import clean_output

_TAG_RE = re.compile(r"<\|/?(?:ref|det)\|>|<\|det\|>.*?<\|/det\|>", re.DOTALL)
_SPACE_RE = re.compile(r"\s+")

MIN_LINE_CHARS = 12  # shorter lines ("Yes", "| 0 |", "---") repeat legitimately
LINE_REPEATS = 8  # one non-trivial line this many times...
LINE_SHARE = 0.2  # ...and this share of all non-trivial lines is a loop (forms repeat a few lines)
BLOCK_REPEATS = 4  # near-identical consecutive blocks in a row
BLOCK_SIMILARITY = 0.92
TAIL_MIN_REPEATS = 6  # the text ends in a period repeated at least this often...
TAIL_MIN_CHARS = 120  # ...covering at least this many characters
TAIL_MAX_PERIOD = 300


class QualityVerdict(BaseModel):
    ok: bool
    reason: str | None = None


def assess_quality(
    raw: str,
    blocks: list[Block],
    finish_reason: str | None,
    *,
    structured: bool = True,
    truncated: bool = False,
) -> QualityVerdict:
    """`structured` (the grounding prompt) also requires grounded blocks and a complete tail."""
    raw = clean_output(raw)
    checks = (
        _finish(finish_reason),
        _empty(raw),
        _repeated_tail(raw),
        _repeated_lines(raw),
        _repeated_blocks(blocks),
        _structure(raw, blocks, truncated) if structured else None,
    )
    for reason in checks:
        if reason is not None:
            return QualityVerdict(ok=False, reason=reason)
    return QualityVerdict(ok=True)


def _finish(finish_reason: str | None) -> str | None:
    if finish_reason == "length":
        return "truncated: hit max_tokens (finish_reason length)"
    return None


def _empty(raw: str) -> str | None:
    return "empty output" if not _TAG_RE.sub("", raw).strip() else None


def _structure(raw: str, blocks: list[Block], truncated: bool) -> str | None:
    if truncated:
        return "truncated: output ends inside a block"
    if "<|det|>" not in raw or not any(b.label for b in blocks):
        return "no grounded blocks in a grounding reply"
    return None


def _repeated_tail(raw: str) -> str | None:
    """A generation stuck in a loop ends in the same span of text over and over."""
    text = raw.rstrip()
    for period in range(1, min(TAIL_MAX_PERIOD, len(text) // TAIL_MIN_REPEATS) + 1):
        unit = text[-period:]
        repeats = 1
        while text[-(repeats + 1) * period : len(text) - repeats * period] == unit:
            repeats += 1
        if repeats >= TAIL_MIN_REPEATS and repeats * period >= TAIL_MIN_CHARS:
            return f"loop: the output ends with {repeats} repeats of {_quote(unit)}"
    return None


def _repeated_lines(raw: str) -> str | None:
    lines = [_norm(ln) for ln in _TAG_RE.sub("", raw).splitlines()]
    counts = Counter(ln for ln in lines if len(ln) >= MIN_LINE_CHARS)
    if not counts:
        return None
    line, n = counts.most_common(1)[0]
    if n >= LINE_REPEATS and n >= LINE_SHARE * counts.total():
        return f"loop: line repeated {n} times: {_quote(line)}"
    return None


def _repeated_blocks(blocks: list[Block]) -> str | None:
    """Near-identical blocks in a row, whatever their boxes do (loops often shift the box down)."""
    run = 1
    for prev, cur in zip(blocks, blocks[1:], strict=False):
        a, b = _norm(prev.markdown), _norm(cur.markdown)
        same = bool(b) and prev.label == cur.label and (a == b or _similar(a, b))
        run = run + 1 if same else 1
        if run >= BLOCK_REPEATS:
            return f"loop: {run} near-identical {cur.label or cur.kind} blocks in a row: {_quote(b)}"
    return None


def _similar(a: str, b: str) -> bool:
    if not a or not b or abs(len(a) - len(b)) > 0.2 * max(len(a), len(b)):
        return False
    return SequenceMatcher(None, a, b, autojunk=False).ratio() >= BLOCK_SIMILARITY


def _norm(text: str) -> str:
    return _SPACE_RE.sub(" ", text).strip()


def _quote(text: str, limit: int = 60) -> str:
    text = _norm(text)
    return repr(text if len(text) <= limit else text[:limit] + "…")
