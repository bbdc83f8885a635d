"""Checking an LLM's [n] citation markers against the sources it was given, and spotting refusals.

Pure functions over the reply text: markers naming no source are removed and flagged, sentences
without a marker are flagged, and a reply saying the documents do not answer is recognised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# the model is told to reply exactly this when the sources hold no answer
REFUSAL_SENTINEL = "NOT IN DOCUMENTS"

_MARKER = re.compile(r"\s*\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_SENTENCE_BREAK = re.compile(r"(?<=[.!?\]])\s+(?=[A-Z\"'(*-])|\n+")
_WORDS = re.compile(r"[^\W_]+")
_MIN_SENTENCE_WORDS = 3
_REFUSALS = (
    re.compile(
        r"\b(documents?|sources?|context|provided text)\b[^.]{0,60}?"
        r"\b(do not|does not|don't|doesn't|did not)\b[^.]{0,30}?"
        r"\b(answer|contain|mention|say|specify|state|provide|include|address|cover)",
        re.IGNORECASE,
    ),
    re.compile(r"\b(cannot|can't|unable to)\b[^.]{0,30}?\b(answer|find|determine|tell)\b", re.IGNORECASE),
    re.compile(r"\bno (relevant )?information\b", re.IGNORECASE),
)

FLAG_INVALID_MARKER = "invalid_marker_removed"
FLAG_UNCITED = "uncited_sentence"
FLAG_NO_CITATIONS = "no_citations"


@dataclass
class MarkerCheck:
    text: str  # the reply with invalid markers removed
    cited: list[int] = field(default_factory=list)  # valid source numbers, in first-use order
    flags: list[str] = field(default_factory=list)


def check_markers(reply: str, n_sources: int) -> MarkerCheck:
    """Keep markers naming sources 1..n_sources; remove the rest; flag what is missing."""
    cited: list[int] = []
    invalid = False

    def keep_valid(match: re.Match[str]) -> str:
        nonlocal invalid
        numbers = [int(k) for k in re.split(r"\s*[,;]\s*", match.group(1))]
        valid = [k for k in numbers if 1 <= k <= n_sources]
        invalid = invalid or len(valid) < len(numbers)
        cited.extend(k for k in valid if k not in cited)
        lead = match.group(0)[: len(match.group(0)) - len(match.group(0).lstrip())]
        return lead + "".join(f"[{k}]" for k in valid) if valid else ""

    text = _MARKER.sub(keep_valid, reply).strip()
    flags = [FLAG_INVALID_MARKER] if invalid else []
    if any(not _MARKER.search(s) for s in answer_sentences(text)):
        flags.append(FLAG_UNCITED)
    if not cited:
        flags.append(FLAG_NO_CITATIONS)
    return MarkerCheck(text=text, cited=cited, flags=flags)


def answer_sentences(text: str) -> list[str]:
    """Sentences of an answer, each keeping the markers that follow it; fragments left out."""
    out: list[str] = []
    for piece in _SENTENCE_BREAK.split(text):
        piece = piece.strip()
        if out and _MARKER.fullmatch(piece):
            out[-1] += " " + piece
        elif len(_WORDS.findall(_MARKER.sub("", piece))) >= _MIN_SENTENCE_WORDS:
            out.append(piece)
    return out


def claims_by_source(text: str) -> dict[int, str]:
    """For each cited source number, the answer sentences citing it, markers stripped."""
    claims: dict[int, list[str]] = {}
    for sentence in answer_sentences(text):
        plain = _MARKER.sub("", sentence).strip()
        for match in _MARKER.finditer(sentence):
            for k in re.split(r"\s*[,;]\s*", match.group(1)):
                claims.setdefault(int(k), []).append(plain)
    return {n: " ".join(dict.fromkeys(parts)) for n, parts in claims.items()}


def is_refusal(reply: str, has_citations: bool) -> bool:
    """The sentinel anywhere, or refusal wording in a reply that cites nothing."""
    if REFUSAL_SENTINEL.lower() in reply.lower():
        return True
    return not has_citations and any(p.search(reply) for p in _REFUSALS)
