"""Sentences and terms of chunk text: splitting that keeps verbatim substrings, and lexical scoring.

Shared by the extractive answerer (which sentence answers the question) and citations (which
sentence of a source supports a claim). Pure functions, no models.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# a sentence ends at . ! ? ; followed by space and something that can start a sentence
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[A-Z0-9•§-])")
# a piece ending like this does not end a sentence: a clause number, an initial, an abbreviation
_NOT_AN_END = re.compile(
    r"(?:^|\s)(?:\(?[0-9]{1,3}(?:\.[0-9]+)*\.?|\(?[a-zA-Z]\.|(?:[A-Z]\.){2,}|"
    r"Sec\.|Art\.|Inc\.|Corp\.|Ltd\.|Co\.|No\.|Mr\.|Ms\.|Dr\.|St\.|vs\.|etc\.|i\.e\.|e\.g\.)$"
)
# a clause's run-in title, split off as a sentence of its own: "8.05 GOVERNING LAW." of "8.05 GOVERNING LAW.
# All disputes ...", "Term." of "Term. This Agreement ..."
_RUN_IN_TITLE = re.compile(
    r"^\s*(?:§\s*)?(?:\(?[0-9]{1,3}(?:\.[0-9]+)*\.?\)?\s+|\(?[a-z]\)\s+)?"
    r"[A-Z][\w'’&/-]*(?:[\s,;]+(?:[A-Z][\w'’&/-]*|of|and|or|the|to|for|on|in|by)){0,7}\.$"
)
# lines that stand alone: headings, table rows, list items, quotes
_STANDALONE_LINE = re.compile(r"^\s*(?:#|\||[-*+•] |>)")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
_MARKDOWN_NOISE = re.compile(r"[*_`#>|]+")
_MIN_SENTENCE_CHARS = 3
_SUFFIXES = (
    "ations",
    "ation",
    "ings",
    "ing",
    "ated",
    "ates",
    "ate",
    "edly",
    "ally",
    "ed",
    "ies",
    "es",
    "als",
    "al",
    "s",
    "ly",
)
_MIN_STEM = 3

_STOPWORDS_TEXT = """a an and are as at be been being but by can could did do does doing for from had has have
    having he her here hers him his how i if in into is it its itself me my no nor not of off on once
    only or other our ours out over own same she should so some such than that the their theirs them
    then there these they this those through to too under until up very was we were what when where
    which while who whom why will with would you your yours shall may must any all each per
    agreement document documents"""
STOPWORDS: frozenset[str] = frozenset(_STOPWORDS_TEXT.split())


def split_sentences(text: str) -> list[str]:
    """Sentences of `text` in order, each a verbatim substring (stripped; may hold line breaks).

    Paragraphs end at blank lines and before Markdown headings, table rows, list items and quotes;
    a single line break inside a paragraph (a wrapped line) does not end a sentence.
    """
    out: list[str] = []
    for paragraph in _paragraphs(text):
        for piece in _sentence_pieces(paragraph):
            piece = piece.strip()
            if len(_MARKDOWN_NOISE.sub("", piece).strip()) >= _MIN_SENTENCE_CHARS:
                out.append(piece)
    return out


def _sentence_pieces(paragraph: str) -> list[str]:
    """Split at sentence ends, but not after a clause number ("13.") or an abbreviation ("Inc.")."""
    pieces: list[str] = []
    start = 0
    for match in _SENTENCE_END.finditer(paragraph):
        piece = paragraph[start : match.start()]
        if _NOT_AN_END.search(piece):
            continue
        pieces.append(piece)
        start = match.end()
    pieces.append(paragraph[start:])
    return pieces


def _paragraphs(text: str) -> list[str]:
    paragraphs: list[list[str]] = []
    joinable = False  # whether the next line may continue the last paragraph
    for line in text.split("\n"):
        standalone = bool(_STANDALONE_LINE.match(line))
        if line.strip() and joinable and not standalone:
            paragraphs[-1].append(line)
        elif line.strip():
            paragraphs.append([line])
        joinable = bool(line.strip()) and not standalone
    return ["\n".join(p) for p in paragraphs]


def is_run_in_title(sentence: str) -> bool:
    """Whether a sentence of `split_sentences` is only a clause's title ("8.05 GOVERNING LAW.")."""
    return bool(_RUN_IN_TITLE.match(sentence))


def stem(word: str) -> str:
    """A light suffix stripper: 'governing', 'governed', 'governs' and 'govern' meet, as do
    'date' and 'dated', 'expire' and 'expiration', 'terminate' and 'termination', 'material' and
    'materially'."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            word = word[: -len(suffix)] + ("y" if suffix == "ies" else "")
            break
    return word[:-1] if word.endswith("e") and len(word) > _MIN_STEM else word


# a sentence of a question that tells how to answer rather than what is asked: "If operating margin is not
# a useful metric for a company like this, then state that and explain why.", "Answer in USD millions."
_INSTRUCTION = re.compile(
    r"^\W*(?:if|answer|round|give|provide|please|state|explain|respond|reply|assume|express|show|format"
    r"|base|address|approach)\b",
    re.IGNORECASE,
)


def without_instructions(question: str) -> str:
    """`question` without its instruction sentences (`_INSTRUCTION`, not ending in "?"): their words
    would pull search and the answer's sentences toward "useful", "metric", "units" and "percents".
    A question that is one sentence, or only instructions, is left whole."""
    sentences = split_sentences(question)
    kept = [s for s in sentences if s.rstrip().endswith("?") or not _INSTRUCTION.match(s)]
    return " ".join(kept) if kept and len(kept) < len(sentences) else question


# a fiscal year as questions write it ("FY2022", "FY 2022"); filings write the year: "2022", "fiscal 2022"
_FISCAL_YEAR = re.compile(r"\bFY\s?(?=(?:19|20)\d\d\b)", re.IGNORECASE)


def terms(text: str) -> list[str]:
    """Content terms: lower-cased, stemmed words without stopwords; "FY2022" is the year."""
    words = (w.lower() for w in _WORD.findall(_FISCAL_YEAR.sub("", text)))
    return [stem(w) for w in words if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def idf_weights(docs: Iterable[Sequence[str]]) -> dict[str, float]:
    """Smoothed inverse document frequency of each term over `docs` (the candidate sentences)."""
    counts: dict[str, int] = {}
    n = 0
    for doc in docs:
        n += 1
        for t in set(doc):
            counts[t] = counts.get(t, 0) + 1
    return {t: math.log(1.0 + (n + 1) / (c + 0.5)) for t, c in counts.items()}


def overlap_score(query_terms: Sequence[str], sentence_terms: Sequence[str], idf: dict[str, float]) -> float:
    """Share of the query's (idf-weighted) terms the sentence contains, in 0..1."""
    wanted = set(query_terms)
    if not wanted:
        return 0.0
    default = max(idf.values(), default=1.0)
    total = sum(idf.get(t, default) for t in wanted)
    found = sum(idf.get(t, default) for t in wanted & set(sentence_terms))
    return found / total if total > 0 else 0.0


def clean_markdown(text: str) -> str:
    """Text for an answer: Markdown emphasis, heading and table marks dropped, spaces collapsed."""
    return " ".join(_MARKDOWN_NOISE.sub(" ", text).split())
