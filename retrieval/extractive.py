"""Choosing the sentences of the top hits that answer a question, without an LLM.

A sentence scores by the idf-weighted share of the question's terms it contains, a bonus when it
holds the kind of answer the question asks for (a date for "when", a company for "who", a period
for "how long", a jurisdiction for "which law"), and a small prior for its hit's rank and score;
an embedder, when given, re-scores the best few by cosine.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from ingest.card import DATE, DAY_WORD, EFFECTIVE
from ingest.chunking import CARD_HEADING
from retrieval.card_fields import answering, asked_field
from retrieval.hits import SearchHit
from retrieval.sentences import (
    clean_markdown,
    idf_weights,
    is_run_in_title,
    overlap_score,
    split_sentences,
    terms,
)
from retrieval.table_rows import is_header_row, row_statement

MIN_OVERLAP = 0.2  # a sentence sharing less of the question than this never answers it
CLOSE_TO_BEST = 0.8  # further sentences join the answer only when scoring this close to the best
LONG_SENTENCE_TERMS = 40  # longer sentences match more by chance, so they are damped
NEW_TERMS_FOR_FULL_WEIGHT = 3  # an answer says something the question did not
SHORT_SENTENCE_WORDS = 6  # fragments ("Name:") are damped below this many words
TYPE_WEIGHT = 0.5  # bonus for holding the kind of answer asked for
UNTYPED = 0.4  # weight of a sentence lacking the kind of answer the question asks for
FURNITURE_HITS = 2  # a sentence in this many hits of one document is a running header or footer
RERANK_TOP = 20
HIT_SCORE_WEIGHT = 0.15
HIT_RANK_WEIGHT = 0.05
CARD_WEIGHT = 1.0  # the document card's statement of the field asked for: the field itself answers
# a caller's test of what may answer (a review field's evidence pattern) picks among sentences scoring at
# least this share of the best one: a term clause ranked below a renewal sentence that names expiry
ACCEPTED_FLOOR = 0.5


class QueryEmbedder(Protocol):
    def embed_query(self, text: str) -> list[float]: ...

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]: ...


@dataclass
class Pick:
    hit: int  # index into the hits
    sentence: str  # verbatim from the hit's Markdown
    lexical: float  # share of the question's terms, damped by the sentence's shape
    weight: float  # lower when the sentence lacks the kind of answer asked for
    bonus: float  # for holding that kind of answer, and the hit's rank and score
    typed: bool = False
    similarity: float | None = None  # embedding cosine to the question, when reranked
    row: str = ""  # a table row read with its column headers ("Net sales — 2022: 1,234; 2021: ..."), if one

    @property
    def score(self) -> float:
        fit = self.lexical if self.similarity is None else 0.5 * self.lexical + 0.5 * self.similarity
        return self.weight * fit + self.bonus

    @property
    def text(self) -> str:
        return clean_markdown(self.sentence)


def score_sentences(question: str, hits: Sequence[SearchHit]) -> list[Pick]:
    """Every sentence of every hit with its score, best first."""
    candidates = _without_furniture(
        hits,
        [
            (i, s)
            for i, h in enumerate(hits)
            for s in split_sentences(h.markdown)
            if not is_header_row(s, h.markdown)
        ],
    )
    candidates, titles = _titled(candidates)
    written = [terms(f"{title} {s}") for (_, s), title in zip(candidates, titles, strict=True)]
    idf = idf_weights(written)  # as written: the headers repeated with every row would make years common
    # a table row is matched as it reads with its column headers: "Effective tax rate 21.6 24.6" holds no
    # year, "Effective tax rate — 2022: 21.6%; 2021: 24.6%" does (each header's words count once)
    rows = [row_statement(s, hits[i].markdown) or "" for i, s in candidates]
    sentence_terms = [
        list(dict.fromkeys(terms(row))) if row else st for st, row in zip(written, rows, strict=True)
    ]
    question_terms = terms(question)
    wanted = expected_answers(question)
    top_score = max((h.score for h in hits), default=0.0)
    picks: list[Pick] = []
    field = asked_field(question)
    cards: dict[str, list[str]] = {}  # each document's card statements among the hits
    for i, sentence in candidates:
        if hits[i].heading_path == [CARD_HEADING]:
            cards.setdefault(hits[i].doc_id, []).append(sentence)
    for (i, sentence), st, row in zip(candidates, sentence_terms, rows, strict=True):
        lexical = overlap_score(question_terms, st, idf) * _shape(question_terms, st, sentence)
        typed = any(p.search(sentence) for p in wanted)
        if hits[i].heading_path == [CARD_HEADING]:
            # the card states a field outright: it answers "who/what/when signed", never "when does it end"
            typed = field is not None and answering(sentence, field, cards[hits[i].doc_id])
            lexical += CARD_WEIGHT if typed else 0.0
        bonus = HIT_RANK_WEIGHT / (1 + i) + (TYPE_WEIGHT if typed else 0.0)
        if top_score > 0:
            bonus += HIT_SCORE_WEIGHT * max(0.0, hits[i].score) / top_score
        weight = UNTYPED if wanted and not typed else 1.0
        picks.append(
            Pick(hit=i, sentence=sentence, lexical=lexical, weight=weight, bonus=bonus, typed=typed, row=row)
        )
    return sorted(picks, key=lambda p: -p.score)


def _titled(candidates: list[tuple[int, str]]) -> tuple[list[tuple[int, str]], list[str]]:
    """The candidates without run-in titles ("8.05 GOVERNING LAW."), and the title each one follows in its
    hit ("" for none): a title never answers alone, and its words count for the sentence it heads, which
    may share none of the question's ("All disputes ... shall be resolved by arbitration in McLean")."""
    kept: list[tuple[int, str]] = []
    titles: list[str] = []
    title: tuple[int, str] | None = None
    for i, sentence in candidates:
        if is_run_in_title(sentence):
            title = (i, sentence)
            continue
        kept.append((i, sentence))
        titles.append(title[1] if title is not None and title[0] == i else "")
        title = None
    return kept, titles


def _without_furniture(hits: Sequence[SearchHit], candidates: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Drop sentences found in several hits of one document: running headers and footers the engine
    kept as text. The same sentence in two documents is content (contracts share their boilerplate)."""

    def key(i: int, sentence: str) -> tuple[str, str]:
        return hits[i].doc_id, clean_markdown(sentence).lower()

    hits_with: dict[tuple[str, str], set[int]] = {}
    for i, sentence in candidates:
        hits_with.setdefault(key(i, sentence), set()).add(i)
    return [(i, s) for i, s in candidates if len(hits_with[key(i, s)]) < FURNITURE_HITS]


def _shape(question_terms: Sequence[str], sentence_terms: Sequence[str], sentence: str) -> float:
    """Damping for sentences unlikely to be answers: ones that only repeat the question (a heading
    such as "Governing Law"), fragments, and very long ones (they match by chance)."""
    new = len(set(sentence_terms) - set(question_terms))
    novelty = min(1.0, (new + 0.5) / (NEW_TERMS_FOR_FULL_WEIGHT + 0.5))
    words = len(sentence.split())
    short = min(1.0, (words + 2) / (SHORT_SENTENCE_WORDS + 2))
    long = 1.0 + max(0, len(sentence_terms) - LONG_SENTENCE_TERMS) / (2 * LONG_SENTENCE_TERMS)
    return novelty * short / long


# --- answer types: what the question asks for, and what a sentence holding it looks like -----

_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_NUMBER_WORD = r"(?:one|two|three|four|five|six|seven|eight|nine|ten|twelve|fifteen|thirty|sixty|ninety)"
_DATE = re.compile(
    # "19th day of December, 2018", also as a text layer splits the ordinal: "19t h day of ..."
    rf"\b{_MONTH}\s+\d{{1,2}}\w*\s?,?\s+\d{{4}}|\b\d{{1,2}}\s*(?:\w{{0,3}}|[a-z]\s[a-z])\s+(?:day\s+of\s+)?{_MONTH},?\s+\d{{4}}"
    rf"|\b{DAY_WORD}\s+day\s+of\s+{_MONTH},?\s+\d{{4}}"  # "the first day of July, 2017"
    rf"|\b{_MONTH},?\s+\d{{4}}|\b\d{{1,2}}/\d{{1,2}}/\d{{2,4}}\b|\b\d{{4}}-\d{{2}}-\d{{2}}\b",
    re.IGNORECASE,
)
_ORGANIZATION = re.compile(
    r"\b(?:Inc|LLC|L\.L\.C|Ltd|Limited|Corporation|Corp|Company|N\.A|plc|GmbH|AG|S\.A|L\.?P|LLP)\b"
)
_PERIOD = re.compile(
    rf"\b(?:\d+|{_NUMBER_WORD})\s*(?:\(\d+\)\s*)?(?:business\s+|calendar\s+)?(?:days?|weeks?|months?|years?)\b",
    re.IGNORECASE,
)


# a law named by its place before the word: "governed by and construed in accordance with Ohio law",
# "under English law"; not a defined term ("in accordance with Applicable Law")
NAMED_LAW = re.compile(
    r"\b(?i:governed\s+by|accordance\s+with|under|pursuant\s+to)\s+(?:(?i:the)\s+)?"
    r"(?P<name>(?!(?:Applicable|Governing|Such|Any|All|Federal|Local|Common|This|That)\b)[A-Z][\w.]*"
    r"(?:\s+[A-Z][\w.]*){0,3})\s+(?i:laws?)\b"
)


class _GoverningLaw:
    """Which law governs ("the laws of the State of Ohio", "Ohio law"), not where a party was formed:
    preambles say "a company incorporated and organized under the laws of Brazil" of every party."""

    _LAWS_OF = re.compile(r"\blaws?\s+of\s+(?:the\s+)?[A-Z]", re.IGNORECASE)
    _FORMED = re.compile(
        r"\b(?:organi[sz]ed|incorporated|existing|formed|registered|established)\b[^.;:]{0,40}?"
        r"\b(?:laws?\s+of|under\s+\w+(?:\s+\w+)?\s+law)\b",
        re.IGNORECASE,
    )

    def search(self, sentence: str) -> re.Match[str] | None:
        sentence = self._FORMED.sub(" ", sentence)
        return self._LAWS_OF.search(sentence) or NAMED_LAW.search(sentence)


_JURISDICTION = _GoverningLaw()
# an all-capitals line, or the card's title statement (`ingest.card`): a document's title
_TITLE = re.compile(r"^(?:[^a-z]*[A-Z]{3,}[^a-z]*|Title: .*)$")

# A contract says when it ends in the sentence whose subject is the agreement or its term ("The initial
# term of this Agreement commences ... and shall continue until ...", "Unless earlier terminated, this
# Agreement will remain in effect ..."), not in the many sentences that name expiry in passing ("Upon any
# expiration or termination of this Agreement", another term's definition, a renewal: "this Agreement
# shall renew automatically ...", a right to end it: "this Agreement may be terminated by ..."). Expiry
# questions want it, and so does the review's Expiration Date.
TERM_STATEMENT = (
    # a sentence's start, not a chunk that begins mid-sentence ("this Agreement, provided, however ...")
    r"^\W*(?=(?-i:[A-Z0-9(]))"
    # "(a)", "7.1", a run-in title ("Term."), up to two lead-ins ("Subject to Section 2, unless earlier
    # terminated,"), or one without its comma ("Unless otherwise stated in the Appendix the term ...")
    r"(?:\(?[a-z0-9]{1,4}[.)]\s*|\d{1,3}(?:\.\d{1,3})+\.?\s+)?(?:[a-z][\w ,&-]{0,40}\.\s+)?(?:[^,;]{0,120},\s*){0,2}"
    r"(?:(?:unless|except|subject\s+to|save)\b[^,;]{0,100}?\s+)?"
    # the subject: the agreement ("this License Agreement", "the Agreement") or its term ("the Initial Term")
    r"(?:the\s+(?:initial\s+|original\s+)?term(?:\s+of\s+this\s+(?:[\w-]+\s+){0,4}?agreement)?"
    r"|this\s+(?:[\w-]+\s+){0,4}?agreement|the\s+agreement)\b"
    r"(?:\W*[\"“][^\"”]{0,30}[\"”]\W*)?"  # its defined name: (the "Term")
    # ... that states its length or end, not a renewal, a right to end it or what survives its end
    r"(?![^;]*\bsurviv)"
    r"(?!\W+(?:\([^)]*\)\W*)?(?:shall|will|may|can)\s+(?:\w+\s+)?(?:renew|extend|be\s+(?:renewed|extended|terminated)))"
    r"(?!\W+(?:\([^)]*\)\W*)?(?:may|can)\b)"
    # nor an end on an event: "this Agreement shall automatically terminate if Broker Dealer ceases to be ..."
    r"(?!\W+(?:\([^)]*\)\W*)?(?:shall|will)\s+(?:\w+\s+)?(?:be\s+)?terminated?\s+(?:if|in\s+the\s+event|should)\b)"
    r"[^;]*?\b(?:continu\w*|expir\w*|terminat\w*|remain\w*|end|until|so\s+long\s+as|perpetu\w*|years?|months?"
    r"|in\s+(?:full\s+)?force|in\s+effect)\b"
    # or the definition of the term: "Term" means ...
    r"|^\W*(?:the\s+)?(?:initial\s+)?term\W*\s+(?:means|shall\s+mean)\b"
)
_TERM = re.compile(TERM_STATEMENT, re.IGNORECASE)
_ASKS_RENEWAL = re.compile(r"\b(renew\w*|extend\w*|extension)\b", re.IGNORECASE)
_RENEWAL = re.compile(r"\b(?:renew\w*|extend\w*|extension|successive)\b", re.IGNORECASE)


class AnswerPattern(Protocol):
    def search(self, text: str, /) -> re.Match[str] | None: ...


ANSWER_TYPES: list[tuple[re.Pattern[str], AnswerPattern]] = [
    (_ASKS_RENEWAL, _RENEWAL),
    (re.compile(r"\b(expir\w*|end|ends|last|lasts|duration)\b", re.IGNORECASE), _TERM),
    (re.compile(r"\b(when|date|dated|day)\b", re.IGNORECASE), _DATE),
    (re.compile(r"\b(who|parties|party)\b", re.IGNORECASE), _ORGANIZATION),
    (re.compile(r"\b(how long|how much|how many|period|notice|term|duration)\b", re.IGNORECASE), _PERIOD),
    (re.compile(r"\b(law|laws|governing|governs|governed|jurisdiction)\b", re.IGNORECASE), _JURISDICTION),
    (re.compile(r"\b(name|title|called)\b", re.IGNORECASE), _TITLE),
]


def short_fact(question: str, sentence: str) -> str | None:
    """The phrase of `sentence` that answers a short-fact question (a date), verbatim; None when the
    question asks for a clause (expiry, renewal and notice answers are conditions: "until the later
    of ...") or the sentence holds no such phrase."""
    if asked_field(question) not in (DATE, EFFECTIVE):
        return None
    match = _DATE.search(sentence)
    return match.group(0).strip(" ,.") if match else None


def expected_answers(question: str) -> list[AnswerPattern]:
    """The sentence patterns of the kinds of answer `question` asks for (none: any sentence)."""
    kinds = [answer for asks, answer in ANSWER_TYPES if asks.search(question)]
    if _RENEWAL in kinds and _PERIOD in kinds:  # "the renewal term?", "notice to stop a renewal?": a period
        kinds.remove(_RENEWAL)
    if _TERM in kinds and _ASKS_RENEWAL.search(question):  # "extended automatically at the end?": a renewal
        kinds.remove(_TERM)
    if _TERM in kinds and _DATE in kinds:  # "when does it end?": not the date it was signed
        kinds.remove(_DATE)
    return kinds


def asks_expiry(question: str) -> bool:
    """Whether the question asks when the agreement ends: its term statement answers."""
    return _TERM in expected_answers(question)


def states_term(markdown: str) -> bool:
    """Whether a chunk's text holds the agreement's term statement (`TERM_STATEMENT`)."""
    return any(_TERM.search(s) for s in split_sentences(markdown))


def rerank(question: str, picks: list[Pick], embedder: QueryEmbedder) -> list[Pick]:
    """The best few re-scored half by lexical overlap, half by embedding cosine."""
    head, tail = picks[:RERANK_TOP], picks[RERANK_TOP:]
    if not head:
        return picks
    query = embedder.embed_query(question)
    vectors = embedder.embed_passages([p.row or p.text for p in head])
    for pick, vector in zip(head, vectors, strict=True):
        pick.similarity = _cosine(query, vector)
    return sorted(head, key=lambda p: -p.score) + tail


def _cosine(a: Sequence[float], b: Sequence[float]) -> float:
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return sum(x * y for x, y in zip(a, b, strict=True)) / norm if norm else 0.0


def compose_extract(
    question: str,
    hits: Sequence[SearchHit],
    max_sentences: int,
    embedder: QueryEmbedder | None = None,
    accept: Callable[[str], bool] | None = None,
) -> list[Pick]:
    """The 1..max_sentences sentences that answer the question, best first; [] when none does.
    `accept`, given a sentence's text, keeps only the sentences it holds true of, among those scoring at
    least `ACCEPTED_FLOOR` of the best sentence (accepted or not)."""
    picks = [p for p in score_sentences(question, hits) if p.lexical >= MIN_OVERLAP or p.typed]
    if embedder is not None:
        picks = rerank(question, picks, embedder)
    if asks_expiry(question):
        # the agreement's own term statement answers when it ends, however few words it shares with
        # "when does it end?": sentences naming an end in passing ("the end of life of a Product") do not
        picks = [p for p in picks if _TERM.search(p.sentence)] or picks
    if accept is not None and picks:
        floor = ACCEPTED_FLOOR * picks[0].score
        picks = [p for p in picks if p.score >= floor and accept(p.text)]
    chosen: list[Pick] = []
    seen: set[str] = set()
    for pick in picks:
        key = pick.text.lower()
        if key in seen:
            continue
        if chosen and (pick.score < CLOSE_TO_BEST * chosen[0].score or len(chosen) >= max_sentences):
            break
        chosen.append(pick)
        seen.add(key)
    return [_with_items(pick, hits) for pick in chosen]


_ITEM = re.compile(r"^\W*\(?(?:[a-z]|[ivx]{1,4}|\d{1,2})[.)]\s")  # "(a) ", "(iv) ", "2. "
MAX_ITEMS = 8


def _with_items(pick: Pick, hits: Sequence[SearchHit]) -> Pick:
    """A sentence that opens a list ("This Agreement shall terminate at the first to occur of:") with the
    items that follow it in its hit, as one verbatim passage: alone it says nothing."""
    if not pick.sentence.rstrip().endswith(":"):
        return pick
    markdown = hits[pick.hit].markdown
    sentences = split_sentences(markdown)
    if pick.sentence not in sentences:
        return pick
    items: list[str] = []
    for sentence in sentences[sentences.index(pick.sentence) + 1 :]:
        if not _ITEM.match(sentence) or len(items) == MAX_ITEMS:
            break
        items.append(sentence)
    if not items:
        return pick
    start = markdown.find(pick.sentence)
    end = markdown.find(items[-1], start) + len(items[-1])
    return replace(pick, sentence=markdown[start:end])
