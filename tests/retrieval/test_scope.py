"""Questions that name their document: search across a knowledge base continues within that document."""

from __future__ import annotations

from ingest.chunking import CARD_HEADING
from retrieval.hits import SearchFilters, SearchHit
from retrieval.scope import named_documents
from retrieval.search import KnowledgeBase
from tests.support.chunks import make_chunk

ACME = "Master Supply Agreement (Acme Robotics, Inc.; Borealis Foods LLC)"
ZENITH = "Software License Agreement (Zenith Analytics Ltd.; Quarry Mining Corp.)"


def _hit(doc_id: str, name: str) -> SearchHit:
    return SearchHit(
        chunk_id=f"{doc_id}-0",
        doc_id=doc_id,
        kb="kb-a",
        filename="",
        score=1.0,
        kind="text",
        markdown="",
        document_name=name,
    )


HITS = [_hit("acme", ACME), _hit("zenith", ZENITH)]


def test_a_question_naming_title_and_parties_is_scoped_and_asked_without_the_name() -> None:
    scope = named_documents(
        "What is the governing law of the Master Supply Agreement between Acme Robotics and Borealis Foods?",
        HITS,
    )
    assert scope is not None
    assert scope.doc_ids == ["acme"]
    assert scope.query == "What is the governing law of this agreement?"


def test_names_in_brackets_and_before_a_colon_leave_a_readable_question() -> None:
    scope = named_documents("the Software License Agreement (Zenith Analytics): when does it end?", HITS)
    assert scope is not None and scope.doc_ids == ["zenith"]
    assert scope.query == "this agreement: when does it end?"


def test_a_partys_short_name_in_brackets_goes_with_the_name() -> None:
    """ "Acme Robotics (Acme) and Borealis Foods": the bracketed short name is no word of the question."""
    scope = named_documents(
        "When does the Master Supply Agreement between Acme Robotics (Robo) and Borealis Foods expire?", HITS
    )
    assert scope is not None and scope.doc_ids == ["acme"]
    assert scope.query == "When does this agreement expire?"


def test_parties_the_card_does_not_know_go_with_the_name() -> None:
    """The card names Acme and Borealis only; "Cobalt Trading UK" and "Dana Lee", listed with them, are
    parties too and leave the question, while the question's own lower-case words stay."""
    scope = named_documents(
        "Which law governs the Master Supply Agreement between Acme Robotics, Cobalt Trading UK and Dana Lee?",
        HITS,
    )
    assert scope is not None and scope.doc_ids == ["acme"]
    assert scope.query == "Which law governs this agreement?"
    scope = named_documents(
        "the Master Supply Agreement between Acme Robotics and Dana Lee: which state's law applies?", HITS
    )
    assert scope is not None and scope.query == "this agreement: which state's law applies?"


def test_generic_words_legal_forms_and_numbers_name_no_document() -> None:
    # "agreement", "Inc.", "LLC" and a year are in every name or none: no document is singled out
    assert named_documents("Which supply agreement with an Inc. or LLC was signed in 2020?", HITS) is None
    assert named_documents("What is the governing law?", HITS) is None


def test_a_filing_is_named_by_its_company_or_ticker_alone() -> None:
    filings = [
        _hit(
            "3m", "the Form 10-K of 3M COMPANY (MMM) for the fiscal year ended December 31, 2022"
        ).model_copy(update={"document_company": "3M COMPANY MMM"}),
        _hit("jnj-10k", "the Form 10-K of JOHNSON & JOHNSON").model_copy(
            update={"document_company": "JOHNSON & JOHNSON JNJ"}
        ),
        _hit("jnj-8k", "the Form 8-K of Johnson & Johnson").model_copy(
            update={"document_company": "Johnson & Johnson JNJ"}
        ),
    ]
    scope = named_documents("Is 3M a capital-intensive business based on FY2022 data?", filings)
    assert scope is not None and scope.doc_ids == ["3m"]
    scope = named_documents("Are JnJ's FY2022 financials that of a high growth company?", filings)
    assert scope is not None and sorted(scope.doc_ids) == ["jnj-10k", "jnj-8k"]
    assert named_documents("Which company has the largest inventory?", filings) is None


def test_a_filing_is_named_by_its_companys_short_name() -> None:
    amex = _hit("axp", "the Form 10-K of American Express Company (AXP)").model_copy(
        update={"document_company": "American Express Company AXP"}
    )
    scope = named_documents("Does AMEX have an improving operating margin profile as of 2022?", [amex])
    assert scope is not None and scope.doc_ids == ["axp"]
    assert scope.query == "Does have an improving operating margin profile as of 2022?"
    assert named_documents("Does the company have an improving operating margin profile?", [amex]) is None


def test_two_named_documents_are_both_searched() -> None:
    scope = named_documents("Compare the notice periods of Acme Robotics and Zenith Analytics", HITS)
    assert scope is not None and set(scope.doc_ids) == {"acme", "zenith"}


def test_a_question_that_is_only_a_name_keeps_its_words() -> None:
    scope = named_documents("Acme Robotics Borealis Foods", HITS)
    assert scope is not None and scope.query == "Acme Robotics Borealis Foods"


def _document(doc_id: str, name: str, clauses: list[str]) -> list:
    chunks = [make_chunk(doc_id, i, text) for i, text in enumerate(clauses)]
    return [c.model_copy(update={"document_name": name}) for c in chunks]


def test_search_across_a_kb_lands_on_the_named_documents_clause_not_its_preamble(kb: KnowledgeBase) -> None:
    kb.index_chunks(
        _document(
            "acme",
            ACME,
            [
                "This Master Supply Agreement is made between Acme Robotics, Inc. and Borealis Foods LLC.",
                "This Agreement is governed by the laws of the State of Delaware.",
                "Acme Robotics shall deliver the robots within 30 days of each order.",
            ],
        )
        + _document(
            "zenith",
            ZENITH,
            [
                "This Software License Agreement is made between Zenith Analytics Ltd. and Quarry Mining Corp.",
                "This Agreement is governed by the laws of England and Wales.",
            ],
        )
    )
    question = (
        "What is the governing law of the Master Supply Agreement between Acme Robotics and Borealis Foods?"
    )
    hits = kb.search(question, SearchFilters(kb="kb-a"), top_k=3)
    assert {h.doc_id for h in hits} == {"acme"}
    assert "Delaware" in hits[0].markdown
    # with a document filter the question is searched as asked
    within = kb.search(question, SearchFilters(kb="kb-a", doc_ids=["acme"]), mode="sparse", top_k=1)
    assert "Master Supply Agreement is made" in within[0].markdown


def _filing(doc_id: str, company: str, texts: list[str]) -> list:
    card = f"Filing: this document is the Form 10-K of {company}."
    chunks = [make_chunk(doc_id, i, t) for i, t in enumerate(texts)]
    chunks.append(make_chunk(doc_id, len(texts), card, heading=(CARD_HEADING,)))
    return [c.model_copy(update={"document_name": company, "document_company": company}) for c in chunks]


def test_a_filing_named_by_its_company_is_searched_wherever_the_first_hits_land(kb: KnowledgeBase) -> None:
    margins = "Gross margins were historically consistent, fluctuating {}% each year."
    others = [
        _filing(f"other{i}", f"{name} Holdings Inc. {ticker}", [margins.format(i + 1)])
        for i, (name, ticker) in enumerate(
            [("Alpha", "ALP"), ("Gamma", "GAM"), ("Delta", "DEL"), ("Omega", "OMG")]
        )
    ]
    best_buy = _filing(
        "bby", "BEST BUY CO., INC. BBY", ["Our gross profit rate declined 0.4% in fiscal 2023."]
    )
    kb.index_chunks([c for chunks in others for c in chunks] + best_buy)
    question = (
        "Are Best Buy's gross margins historically consistent (not fluctuating more than 2% each year)?"
    )
    first = kb.search(
        question,
        SearchFilters(kb="kb-a", doc_ids=[f"other{i}" for i in range(4)] + ["bby"]),
        mode="sparse",
        top_k=4,
    )
    assert "bby" not in {h.doc_id for h in first}  # its words rank the other filings' margins first
    hits = kb.search(question, SearchFilters(kb="kb-a"), mode="sparse", top_k=2)
    assert {h.doc_id for h in hits} == {"bby"}
