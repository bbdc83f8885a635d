"""Metric questions reach the statement lines of the metric's inputs (retrieval.financial_metrics)."""

from __future__ import annotations

from retrieval.financial_metrics import metric_inputs, with_metric_inputs
from retrieval.search import KnowledgeBase, SearchConfig
from tests.support.chunks import make_chunk

STATEMENTS = [
    "Purchases of property, plant and equipment (PP&E) | (1,749) | (1,603). Total assets | 46,455 | 47,072",
    "Net sales | 34,229 | 35,355. Cost of sales | 19,232 | 18,795. Gross profit | 14,997 | 16,560",
    "Total current assets | 14,688 | 15,403. Inventories | 5,372 | 4,985. Total current liabilities | 9,523",
    "Is the business capital-intensive? Management discusses its strategy for the year in the letter.",
]


def test_a_metric_question_names_the_statement_lines_of_its_inputs() -> None:
    assert metric_inputs("Is 3M a capital-intensive business based on FY2022 data?") == [
        "capital expenditures",
        "property, plant and equipment",
        "total assets",
    ]
    assert "cost of sales" in metric_inputs("What drove gross margin change as of FY2022 for JnJ?")
    quick = metric_inputs("Does Verizon have a healthy liquidity profile based on its quick ratio?")
    assert {"inventories", "total current assets", "total current liabilities"} <= set(quick)
    assert "inventories" in metric_inputs("Roughly how many times has JnJ sold its inventory in FY2022?")


def test_a_question_naming_no_metric_is_left_as_asked() -> None:
    question = "Which business segment of JnJ will be treated as a discontinued operation?"
    assert metric_inputs(question) == [] and with_metric_inputs(question) == question


def test_metric_inputs_bring_the_statements_to_the_top_when_on(kb: KnowledgeBase) -> None:
    chunks = [make_chunk("d", i, text) for i, text in enumerate(STATEMENTS)]
    kb.index_chunks(chunks)
    question = "Is Acme a capital-intensive business based on FY2022 data?"
    off = [h.chunk_id for h in kb.search(question, mode="sparse", top_k=4)]
    assert off[0] == chunks[3].id  # only the prose repeating the question's words
    kb.config = SearchConfig(metric_inputs=True)
    on = [h.chunk_id for h in kb.search(question, mode="sparse", top_k=4)]
    assert on[0] == chunks[0].id  # capital expenditures, PP&E and total assets
    assert chunks[1].id not in on[:2]
