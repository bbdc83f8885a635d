"""Names and years a question asks about that the documents never mention.

"What is Verizon's market share in Japan?", asked of a filing that never writes "Japan", cannot be
answered from it, however well "market share" matches; an answerer scoring word overlap or meaning would
still quote the closest passage. A name the documents never write is evidence no score gives, so the
answer is a refusal that says which name is missing (`KnowledgeBase.unmentioned`, `retrieval.answer`).

Only names and years count: a topic word ("cryptocurrency", "capital-intensive") may be a paraphrase of
what the documents say, a proper name or a year is not. A name here is a word written with a capital inside
a sentence ("Japan", "TikTok"), not one opening it, not an acronym ("EBITDA", "PP&E": often a question's own
shorthand), and not one after an article ("the Real change", "the Highest EBITDAR": emphasis).
"""

from __future__ import annotations

import re

# a word with a capital first letter and a lower-case second: "Japan", "TikTok", "McLean"; not "EBITDA"
_CAPITALIZED = re.compile(r"[A-Z][a-z][\w’'-]*")
_WORD = re.compile(r"[\w’'&.-]+")
# a sentence ends before the next word: ".", "?", "!", ":" or ";", perhaps a closing bracket or quote, then
# perhaps an opening one
_ENDS_SENTENCE = re.compile(r"[.?!:;][)\]\"'”’]*\s*[(\[\"'“‘]*$")
_POSSESSIVE = re.compile(r"['’]s?$")
_ARTICLES = frozenset({"the", "a", "an"})
# the words title case leaves in lower case
_MINOR_WORDS = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "nor",
        "but",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "by",
        "vs",
        "with",
        "from",
        "as",
        "per",
    ]
)
# a year, alone or in a fiscal year ("FY2022", "FY 2022"); filings write the year
_YEAR = re.compile(r"(?<![\d$])(?<!\d[.,])(?:FY\s?)?((?:19|20)\d\d)(?![\d%]|[.,]\d)", re.IGNORECASE)


def asked_names(question: str) -> list[str]:
    """The names and years in `question`, in order, each once: what its answer must be about. A question
    in title case ("What Was AMCOR's Adjusted EBITDA for FY 2023") capitalizes every word but the minor
    ones: only its years count."""
    words = list(_WORD.finditer(question))
    title_case = not any(w.group()[0].islower() and w.group().lower() not in _MINOR_WORDS for w in words)
    found: list[str] = []
    previous = ""
    for match in [] if title_case else words:
        # the few characters before the word tell whether a sentence ended there
        opens_sentence = not previous or bool(
            _ENDS_SENTENCE.search(question[match.start() - 6 : match.start()])
        )
        name = _POSSESSIVE.sub("", match.group().strip(".-"))
        if _CAPITALIZED.fullmatch(name) and not opens_sentence and previous.lower() not in _ARTICLES:
            found.append(name)
        previous = match.group()
    found += [m.group(1) for m in _YEAR.finditer(question)]
    return list(dict.fromkeys(found))
