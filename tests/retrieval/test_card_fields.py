"""Questions about a document's title, parties or dates get its card statement first."""

from __future__ import annotations

import pytest

from ingest.card import DATE, EFFECTIVE, PARTIES, TITLE
from ingest.chunking import CARD_HEADING
from retrieval.card_fields import asked_field
from retrieval.hits import SearchFilters
from retrieval.search import KnowledgeBase
from tests.support.chunks import make_chunk


@pytest.mark.parametrize(
    ("question", "field"),
    [
        ("Between whom is this contract?", PARTIES),
        ("list the party names", PARTIES),
        ("which parties are bound", PARTIES),
        ("When was the lease signed?", DATE),
        ("signing date", DATE),
        ("As of which date does the license commence?", EFFECTIVE),
        ("start date of the deal", EFFECTIVE),
        ("what's the document's title", TITLE),
        ("本合同的当事人是谁？", PARTIES),
        ("合同何时生效？", EFFECTIVE),
        # clauses, not card fields
        ("When does the lease end?", None),
        ("How much notice must a party give to terminate?", None),
        ("Which law governs disputes between the parties?", None),
        ("What is the renewal term?", None),
        ("What are the payment terms?", None),
    ],
)
def test_the_field_a_question_asks_for(question: str, field: str | None) -> None:
    assert asked_field(question) == field


def _contract(
    doc_id: str, party_a: str, party_b: str, dates: tuple[str, ...] = (f"{DATE} it is dated March 3, 2021.",)
) -> list:
    clauses = [
        f"The parties agree that {party_a} shall deliver the goods within 30 days of each order.",
        "Each party shall keep the other party's confidential information secret.",
        "Neither party may assign this agreement without the other party's written consent.",
        "The parties shall meet quarterly to review the performance of this agreement.",
        "Notices between the parties shall be in writing and sent to the addresses below.",
    ]
    chunks = [make_chunk(doc_id, i, text, pages=(i + 2,)) for i, text in enumerate(clauses)]
    card = [
        f"{TITLE} this document is the Supply Agreement.",
        f"{PARTIES} it is made between {party_a} (Seller) and {party_b} (Buyer).",
        *dates,
    ]
    n = len(chunks)
    return chunks + [make_chunk(doc_id, n + i, text, heading=(CARD_HEADING,)) for i, text in enumerate(card)]


def test_who_are_the_parties_lands_on_the_card_before_clauses_that_mention_parties(kb: KnowledgeBase) -> None:
    kb.index_chunks(
        _contract("acme", "Acme Widgets Inc.", "Beta Robotics LLC")
        + _contract("zeta", "Zeta Mining Corp.", "Quarry Foods Ltd.")
    )
    hits = kb.search("Who are the parties?", SearchFilters(doc_ids=["acme"]), top_k=3)
    assert hits[0].markdown.startswith(f"{PARTIES} it is made between Acme Widgets Inc.")
    assert len(hits) == 3 and len({h.chunk_id for h in hits}) == 3
    # a clause question is left to the clauses
    hits = kb.search(
        "Which party must keep information confidential?", SearchFilters(doc_ids=["acme"]), top_k=3
    )
    assert hits[0].heading_path != [CARD_HEADING]
    # across the kb, the first hit's document's card leads, not another document's
    hits = kb.search("When was the Zeta Mining supply agreement dated?", SearchFilters(kb="kb-a"), top_k=3)
    assert hits[0].doc_id == "zeta" and hits[0].markdown.startswith(DATE)


def test_a_card_with_one_kind_of_date_answers_both_date_questions(kb: KnowledgeBase) -> None:
    """A preamble that says only "made effective as of ..." dates the agreement too, and one that says
    only "dated ..." is when it takes effect; a card stating both answers each with its own."""
    effective = f"{EFFECTIVE} it takes effect on Feb 10, 2014."
    both = (f"{DATE} it is dated March 3, 2021.", f"{EFFECTIVE} it takes effect on May 1, 2021.")
    kb.index_chunks(
        _contract("acme", "Acme Widgets Inc.", "Beta Robotics LLC", dates=(effective,))
        + _contract("zeta", "Zeta Mining Corp.", "Quarry Foods Ltd.", dates=both)
        + _contract("beta", "Beta Robotics LLC", "Gamma Foods Ltd.")
    )

    def first(question: str, doc: str) -> str:
        return kb.search(question, SearchFilters(doc_ids=[doc]), top_k=3)[0].markdown

    assert first("When was this agreement entered into?", "acme") == effective
    assert first("When was this agreement entered into?", "zeta") == both[0]
    assert first("When does this agreement become effective?", "zeta") == both[1]
    assert first("From what date does this contract take effect?", "beta").startswith(f"{DATE} it is dated")
