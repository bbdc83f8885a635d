"""Names and years a question asks about that its documents never write: the answer refuses, naming them."""

from __future__ import annotations

from retrieval.hits import SearchFilters
from retrieval.search import KnowledgeBase
from retrieval.unmentioned import asked_names
from tests.support.chunks import make_chunk


def test_names_are_capitalized_words_inside_a_sentence_and_years() -> None:
    assert asked_names("What is Verizon's market share in Japan?") == ["Verizon", "Japan"]
    assert asked_names("How much did 3M spend on advertising on TikTok in FY2018?") == ["TikTok", "2018"]
    # a sentence's first word, acronyms, and a word after an article (emphasis, a defined term) are not names
    assert asked_names("Answer in USD. Which region had the Highest EBITDAR in FY 2022, per the P&L?") == [
        "2022"
    ]
    assert asked_names("How many days does the Customer have to pay?") == []
    assert asked_names("What is the growth for Block (formerly Square)? Answer in percents.") == [
        "Block",
        "Square",
    ]
    assert asked_names('Use the P&L: "Answer briefly." What did Acme earn?') == ["Acme"]
    # a title-case question capitalizes every word: only its years count
    assert asked_names("What Was AMCOR's Adjusted Non GAAP EBITDA for FY 2023") == ["2023"]
    assert asked_names("Who signed the Supply Agreement between Acme Inc and Beta?") == [
        "Agreement",
        "Acme",
        "Inc",
        "Beta",
    ]
    # an amount is no year; a year before a comma is one
    assert asked_names("Was $2,019.50 paid in 2019, or 1,2021 units?") == ["2019"]


def test_a_name_or_year_no_hit_document_writes_is_unmentioned(kb: KnowledgeBase) -> None:
    kb.index_chunks(
        [
            make_chunk("verizon", 0, "Our market share in the United States grew in 2021."),
            make_chunk("verizon", 1, "Wireless revenue rose on higher prices."),
            make_chunk("ntt", 0, "NTT holds the largest market share in Japan."),
        ]
    )
    question = "What is Verizon's market share in Japan in 2021?"
    hits = kb.search(question, SearchFilters(doc_ids=["verizon"]), top_k=2)
    assert {h.doc_id for h in hits} == {"verizon"}
    # "Verizon" is in the file name only (verizon.pdf): a document's own name counts as written
    assert kb.unmentioned(question, hits) == ["Japan"]
    assert kb.unmentioned("What was Verizon's market share in 2020?", hits) == ["2020"]
    # the whole document counts, not only the hits' text; another document's mention does not
    first = [h for h in hits if h.markdown.startswith("Wireless")]
    assert kb.unmentioned("What was the market share in the United States?", first) == []
    both = kb.search(question, SearchFilters(kb="kb-a"), top_k=3)
    assert {h.doc_id for h in both} == {"verizon", "ntt"} and kb.unmentioned(question, both) == []
    assert kb.unmentioned(question, []) == []
