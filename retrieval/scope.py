"""Which documents a question names: "the governing law of the Services Agreement between Acme and Beta".

Across a knowledge base people name the document they ask about by its title and parties. Those words
match the document's preamble far better than the clause asked about, so a plain search lands on page 1.
Search therefore looks at the names of the documents its first hits come from (each chunk carries its
document card's title and parties, `SearchHit.document_name`); when the question names one or a few of
them, it searches within those documents for the rest of the question (`KnowledgeBase.search`). A financial
filing is named by its company or ticker alone ("Is 3M capital-intensive?", "JnJ's FY2022 sales").
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from retrieval.hits import SearchHit
from retrieval.sentences import terms

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
# words of names that single out no document: legal forms, and the words every contract title has
_GENERIC = frozenset(
    [
        "agreement",
        "contract",
        "amendment",
        "inc",
        "incorporated",
        "llc",
        "l",
        "ltd",
        "limited",
        "corporation",
        "corp",
        "company",
        "co",
        "lp",
        "llp",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "na",
        "nv",
        "bv",
        "pte",
        "trust",
    ]
)
# words that join a name's parts: "between Acme Inc. and Beta LLC", "Acme d/b/a Beta"
_JOINERS = frozenset(
    ["the", "and", "of", "between", "among", "by", "to", "with", "for", "a", "an", "d", "b", "dba", "s"]
)
_ARTICLES = frozenset({"the", "a", "an"})
MIN_NAMING_WORDS = 2  # distinctive name words a question must share with a document to name it
RUNNER_UP_SHARE = 0.5  # another document counts as named too when it shares this share of the best's words


@dataclass(frozen=True)
class Scope:
    doc_ids: list[str]  # the documents the question names, best first
    query: str  # the question without the words that name them


def named_documents(question: str, hits: Sequence[SearchHit]) -> Scope | None:
    """The documents among `hits`' that `question` names, and the question left once their names are
    taken out; None when it names none (fewer than MIN_NAMING_WORDS distinctive words of any name)."""
    words = [m.group(0).lower() for m in _WORD.finditer(question)]
    names: dict[str, set[str]] = {}
    for hit in hits:
        if hit.document_name and hit.doc_id not in names:
            names[hit.doc_id] = {w.lower() for w in _WORD.findall(hit.document_name)}
    evidence = {doc: sum(_distinctive(w, name) for w in set(words)) for doc, name in names.items()}
    companies = _companies(hits)
    for doc, company in companies.items():  # one word names a filing's company: "3M", "JnJ"
        if any(_distinctive(w, company) for w in words):
            evidence[doc] = max(evidence.get(doc, 0), MIN_NAMING_WORDS)
    best = max(evidence.values(), default=0)
    if best < MIN_NAMING_WORDS:
        return None
    named = sorted(
        (doc for doc, n in evidence.items() if n >= MIN_NAMING_WORDS and n >= RUNNER_UP_SHARE * best),
        key=lambda doc: -evidence[doc],
    )
    rest = _without_names(
        question, set().union(*(names.get(d, set()) | companies.get(d, set()) for d in named))
    )
    return Scope(doc_ids=named, query=rest if terms(rest) else question)


def _companies(hits: Sequence[SearchHit]) -> dict[str, set[str]]:
    """The words of each filing's company and ticker among `hits` (`SearchHit.document_company`), and its
    short names (`_short_names`)."""
    out: dict[str, set[str]] = {}
    for hit in hits:
        if hit.document_company and hit.doc_id not in out:
            words = [w.lower() for w in _WORD.findall(hit.document_company)]
            out[hit.doc_id] = set(words) | _short_names(words)
    return out


def _short_names(words: list[str]) -> set[str]:
    """A company's name clipped the way people shorten it: the first two or more letters of two
    consecutive words of the name ("amex" for American Express, "genmills" for General Mills)."""
    out: set[str] = set()
    for first, second in zip(words, words[1:], strict=False):
        if any(w in _GENERIC or w in _JOINERS or not w.isalpha() for w in (first, second)):
            continue
        out |= {first[:i] + second[:j] for i in range(2, len(first) + 1) for j in range(2, len(second) + 1)}
    return out


def _distinctive(word: str, name_words: set[str]) -> bool:
    """A word of the name that points at this document: not a legal form, joiner or bare number."""
    return word in name_words and word not in _GENERIC and word not in _JOINERS and not word.isdigit()


def _without_names(question: str, name_words: set[str]) -> str:
    """`question` with each run of name words (and the joiners inside it) holding a distinctive one
    replaced by "this agreement" (or "this contract", as the run said; "this" for "the Acme ...") or cut:
    "the governing law of the Acme Services Agreement between Acme and Beta?" -> "the governing law of
    this agreement?"."""
    matches = list(_WORD.finditer(question))
    cuts: list[tuple[int, int, str]] = []
    run: list[re.Match[str]] = []
    for m in [*matches, None]:
        word = m.group(0).lower() if m is not None else ""
        # a party's short name in brackets belongs to the name: "Howmedica (Stryker) and ..."
        if m is not None and (
            word in name_words
            or word in _JOINERS
            or (run and (_in_brackets(question, run, m) or _another_party(question, run, m, name_words)))
        ):
            run.append(m)
            continue
        while run and run[-1].group(0).lower() in _JOINERS - name_words:
            run.pop()  # a trailing "and" belongs to what follows
        while run and run[0].group(0).lower() in _JOINERS - name_words - _ARTICLES:
            run.pop(0)  # so does a leading "of" or "between": "the name of [the Acme agreement]"
        said = {r.group(0).lower() for r in run}
        if any(_distinctive(w, name_words) for w in said):
            noun = next((n for n in ("agreement", "contract") if n in said), None)
            this = "this" if run[0].group(0).lower() in _ARTICLES else ""  # "the Acme deal" -> "this deal"
            cuts.append((run[0].start(), run[-1].end(), f"this {noun}" if noun else this))
        run = []
    out, pos = [], 0
    for start, end, replacement in cuts:
        out.append(question[pos:start] + replacement)
        pos = end
    out.append(question[pos:])
    return _tidy("".join(out))


def _another_party(question: str, run: list[re.Match[str]], m: re.Match[str], name_words: set[str]) -> bool:
    """Whether `m` starts a capitalized name listed with the run's ("between Acme Robotics, Beta Foods and
    Gamma LLC"): the document's card may not know every party, and a party's words left in the question
    pull its preamble and signature lines over the clause asked about."""
    return (
        m.group(0)[0].isupper()
        and not re.search(r"[?!.:;]", question[run[-1].end() : m.start()])
        and any(_distinctive(r.group(0).lower(), name_words) for r in run)
    )


def _in_brackets(question: str, run: list[re.Match[str]], m: re.Match[str]) -> bool:
    """Whether `m` lies inside a bracket opened after the run began."""
    opened = question[run[0].start() : m.start()]
    return opened.count("(") > opened.count(")")


def _tidy(text: str) -> str:
    """Brackets left unpaired by a cut dropped, spaces before punctuation and doubled spaces closed."""
    kept, depth = [], 0
    for ch in text:
        if ch == ")" and depth == 0:
            continue
        depth += (ch == "(") - (ch == ")")
        kept.append(ch)
    tidy = "".join(kept)
    if depth:
        tidy = tidy.replace("(", "", depth)
    return re.sub(r"^[\s,:;]+", "", re.sub(r"\s+([?.,:;])", r"\1", re.sub(r"\s{2,}", " ", tidy))).strip()
