"""Questions about what a document's card holds: its title, parties, date and effective date.

"Who are the parties?" is answered where the document says so (its preamble), and the card states it
outright as a chunk of its own (`ingest.card`). In a long contract many clauses mention "the parties"
and outrank that chunk, so search puts the card statement of the field asked about first among its
document's hits (`KnowledgeBase.search`). Questions about a clause ("when does it end?", "which law
governs?") ask about no card field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.card import DATE, EFFECTIVE, PARTIES, TITLE
from ingest.chunking import CARD_HEADING
from retrieval.hits import SearchHit, lead_with

# a clause's subject, or a duty ("which party must pay?"): asked of the clauses, not of the card
_CLAUSE = re.compile(
    r"\b(expir\w*|end|ends|terminat\w*|renew\w*|term|notice|how long|until|last|law|laws|govern\w*"
    r"|must|shall|may|will|can|should|responsible|liable|pays?|owes?)\b"
    r"|期限|终止|到期|续|法律",
    re.IGNORECASE,
)
# the first field whose words the question uses: "date signed" asks for a date, not for who signed
_FIELDS: list[tuple[str, re.Pattern[str]]] = [
    (
        EFFECTIVE,
        re.compile(r"\b(effective|takes? effect|start\w*|begin\w*|commenc\w*)\b|生效", re.IGNORECASE),
    ),
    (DATE, re.compile(r"\b(date|dated|when)\b|日期|何时|什么时候", re.IGNORECASE)),
    (
        PARTIES,
        re.compile(
            r"\b(who|whom|parties|party|companies|signed|signatories)\b|当事人|甲方|乙方|双方", re.IGNORECASE
        ),
    ),
    (TITLE, re.compile(r"\b(name|title|called)\b|名称|标题", re.IGNORECASE)),
]


# a document whose first pages state one kind of date: it is dated when it takes effect, and takes effect
# when dated, unless it says otherwise ("made effective as of Feb 10, 2014" answers "when was it signed?")
_STANDS_IN = {DATE: EFFECTIVE, EFFECTIVE: DATE}


def asked_field(question: str) -> str | None:
    """The card statement prefix (`ingest.card.TITLE` ...) of the field the question asks for, if any."""
    if _CLAUSE.search(question):
        return None
    return next((field for field, asks in _FIELDS if asks.search(question)), None)


def put_cards_first(hits: Sequence[SearchHit], cards: Sequence[SearchHit], field: str) -> list[SearchHit]:
    """`hits` with each document's card statement of `field` (`answering`) just before that document's
    first hit (`lead_with`)."""
    by_doc: dict[str, list[str]] = {}
    for c in cards:
        by_doc.setdefault(c.doc_id, []).append(c.markdown)
    return lead_with(hits, {c.doc_id: c for c in cards if answering(c.markdown, field, by_doc[c.doc_id])})


def answering(statement: str, field: str, statements: Sequence[str]) -> bool:
    """Whether a card statement answers `field`, among its document's card `statements`: the field's
    own, or for a date the other date where the card states none of the field's."""
    if statement.startswith(field):
        return True
    other = _STANDS_IN.get(field)
    return (
        other is not None and statement.startswith(other) and not any(s.startswith(field) for s in statements)
    )


def card_values(hit: SearchHit) -> list[str]:
    """The values a card statement names, as written on the page ("PSiTech Corporation", "Empirical
    Ventures, Inc."), so each is cited on its own place; [] for any other hit. A value written over
    two lines has a region per line: regions whose texts follow each other in the statement with
    nothing but a space between them are one value."""
    if hit.heading_path != [CARD_HEADING]:
        return []
    values: list[str] = []
    end = -1
    for region in hit.regions:
        text = (region.text or "").strip()
        at = hit.markdown.find(text, max(end, 0)) if text else -1
        if at < 0:
            return []  # the statement does not spell its regions' text: cite it whole
        if values and not hit.markdown[end:at].strip():
            values[-1] += " " + text
        else:
            values.append(text)
        end = at + len(text)
    return values
