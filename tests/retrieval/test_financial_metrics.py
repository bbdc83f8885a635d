"""Metric questions reach the statement lines of the metric's inputs (retrieval.financial_metrics)."""

from __future__ import annotations

from ingest.layout import BBox, Region
from retrieval.answer import AnswerConfig, ExtractiveAnswerer
from retrieval.financial_metrics import (
    input_coverage,
    input_rows,
    is_statement,
    metric_inputs,
    statement_kinds,
    with_metric_inputs,
)
from retrieval.hits import SearchFilters, SearchHit
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
        "purchases of property, plant and equipment",
        "additions to property",
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


def test_metric_inputs_bring_the_statements_to_the_top_when_on_the_default(kb: KnowledgeBase) -> None:
    chunks = [make_chunk("d", i, text) for i, text in enumerate(STATEMENTS)]
    kb.index_chunks(chunks)
    question = "Is Acme a capital-intensive business based on FY2022 data?"
    within = SearchFilters(doc_ids=["d"])
    kb.config = SearchConfig(metric_inputs=False)
    off = [h.chunk_id for h in kb.search(question, within, mode="sparse", top_k=4)]
    assert off[0] == chunks[3].id  # only the prose repeating the question's words
    kb.config = SearchConfig(metric_inputs=True)
    on = [h.chunk_id for h in kb.search(question, within, mode="sparse", top_k=4)]
    assert on[0] == chunks[0].id  # capital expenditures, PP&E and total assets
    assert SearchConfig().metric_inputs  # the default
    assert chunks[1].id not in on[:2]
    # across the kb the question's own words pick the filing first: its lines are not added
    assert kb.search(question, mode="sparse", top_k=4)[0].chunk_id == chunks[3].id


BALANCE_SHEET = "\n".join(
    [
        "Consolidated Balance Sheet At December 31",
        "| (Dollars in millions) | 2022 | 2021 |",
        "|---|---|---|",
        "| Cash and cash equivalents | $3,655 | $4,564 |",
        "| Total current assets | 14,688 | 15,403 |",
        "| Property, plant and equipment | 25,998 | 27,213 |",
        "| Less: Accumulated depreciation | (16,820) | (17,784) |",
        "| Total assets | $46,455 | $47,072 |",
    ]
)
CASH_FLOWS = "\n".join(
    [
        "Consolidated Statement of Cash Flows Years ended December 31",
        "| (Millions) | 2022 | 2021 |",
        "|---|---|---|",
        "| Purchases of property, plant and equipment (PP&E) | (1,749) | (1,603) |",
    ]
)
# a note's table repeats the statement lines more often than the statement does
PPE_NOTE = "\n".join(
    [
        "| Property, plant and equipment (in millions) | 2022 | 2021 |",
        "|---|---|---|",
        "| Property, plant and equipment, land | 300 | 310 |",
        "| Property, plant and equipment, buildings | 7,000 | 7,100 |",
        "| Total property, plant and equipment; total assets of the segment | 25,998 | 27,213 |",
    ]
)
PROSE = "Is the business capital-intensive? Management discusses its business strategy based on data."


def test_statements_and_their_titles_are_recognised() -> None:
    assert statement_kinds("Is 3M a capital-intensive business based on FY2022 data?") == [
        "balance",
        "cash_flows",
    ]
    assert statement_kinds("Which segment grew fastest?") == []
    assert is_statement([], BALANCE_SHEET, "balance")
    assert is_statement(["PFIZER INC.", "CONSOLIDATED STATEMENTS OF INCOME"], "| a | 1 |", "income")
    assert not is_statement([], PPE_NOTE, "balance")
    assert not is_statement(["Notes to Consolidated Financial Statements"], "balance sheet | 1", "balance")
    loose = ["3M COMPANY", "3M Company and Subsidiaries Consolidated Balance Shee t At December 31"]
    assert is_statement(loose, "| (Dollars in millions) | 2018 |\n|---|---|\n| Cash | 1 |", "balance")
    note = ["3M COMPANY", "NOTE 7. Supplemental Balance Sheet Information"]
    assert not is_statement(note, "| (Millions) | 2018 |\n|---|---|\n| Other | 1 |", "balance")
    assert input_coverage("Is it capital-intensive?", BALANCE_SHEET) == 2  # PP&E, total assets


def test_a_statement_the_question_names_is_the_one_it_is_answered_from() -> None:
    assert statement_kinds("What is 3M's capex? Rely on the details shown in the cash flow statement.") == [
        "cash_flows"
    ]
    only = "Using only the statement of financial position, what is its working capital ratio?"
    assert statement_kinds(only) == ["balance"]
    assert statement_kinds("What restructuring costs does the P&L show for FY2022?") == ["income"]
    assert statement_kinds("What is the largest liability in Acme's balance sheet?") == ["balance"]
    # adjusted figures are reconciled in tables of their own, never in a primary statement
    assert statement_kinds("What was AMCOR's Adjusted EBITDA for FY2023?") == []
    assert statement_kinds("What was its EBITDA for FY2023?") == ["income", "cash_flows"]


def test_a_question_naming_a_statement_gets_it_first(kb: KnowledgeBase) -> None:
    texts = [(PROSE, "text"), (BALANCE_SHEET, "table"), (CASH_FLOWS, "table")]
    chunks = [make_chunk("d", i, text, kind=kind) for i, (text, kind) in enumerate(texts)]
    kb.index_chunks(chunks)
    question = "Using the cash flow statement, how much did the business spend on property and equipment?"
    hits = kb.search(question, SearchFilters(doc_ids=["d"]), mode="sparse", top_k=3)
    assert hits[0].chunk_id == chunks[2].id
    instructed = "How much did the business spend on property? Base your answer on the cash flow statement."
    assert (
        kb.search(instructed, SearchFilters(doc_ids=["d"]), mode="sparse", top_k=3)[0].chunk_id
        == chunks[2].id
    )
    plain = "How much did the business spend on property and equipment?"
    assert kb.search(plain, SearchFilters(doc_ids=["d"]), mode="sparse", top_k=3)[0].chunk_id != chunks[2].id


def test_a_metric_question_gets_the_statements_holding_its_inputs_first(kb: KnowledgeBase) -> None:
    texts = [(PROSE, "text"), (PPE_NOTE, "table"), (BALANCE_SHEET, "table"), (CASH_FLOWS, "table")]
    chunks = [make_chunk("d", i, text, kind=kind) for i, (text, kind) in enumerate(texts)]
    kb.index_chunks(chunks)
    question = "Is Acme a capital-intensive business based on FY2022 data?"
    within = SearchFilters(doc_ids=["d"])
    kb.config = SearchConfig(metric_inputs=False)
    off = [h.chunk_id for h in kb.search(question, within, mode="sparse", top_k=4)]
    assert off[0] == chunks[0].id
    kb.config = SearchConfig(metric_inputs=True)
    on = [h.chunk_id for h in kb.search(question, within, mode="sparse", top_k=4)]
    assert on[:2] == [chunks[2].id, chunks[3].id]  # the balance sheet, then the cash flows; not the note
    other = kb.search("Which business segment grew fastest?", within, mode="sparse", top_k=4)
    assert other[0].chunk_id != chunks[2].id
    # across a kb naming no filing the first hit's filing may be another company's: nothing moves
    assert [h.chunk_id for h in kb.search(question, mode="sparse", top_k=4)][0] == chunks[0].id


def _table_hit(n: int, markdown: str, page: int) -> SearchHit:
    lines = [ln for ln in markdown.splitlines() if not ln.startswith("|---")]
    regions = [
        Region(
            page=page, bbox=BBox(x0=0.05, y0=0.1 + 0.03 * i, x1=0.95, y1=0.12 + 0.03 * i), text=ln.strip("| ")
        )
        for i, ln in enumerate(lines)
    ]
    return SearchHit(
        chunk_id=f"c{n}", doc_id="10k", kb="k", filename="10k.pdf", score=1.0 / n, kind="table",
        markdown=markdown, regions=regions, pages=[page],
    )  # fmt: skip


async def test_a_metric_answer_quotes_its_input_rows_each_cited_on_its_row() -> None:
    hits = [_table_hit(1, PPE_NOTE, 90), _table_hit(2, BALANCE_SHEET, 50), _table_hit(3, CASH_FLOWS, 52)]
    assert [i for i, _ in input_rows("Is it capital-intensive?", hits)] == [2, 1, 1]
    grouped = _table_hit(
        4, BALANCE_SHEET.replace("| Total assets |", "| Inventories |  |  |\n| Total assets |"), 50
    )
    assert [r for _, r in input_rows("What is its inventory turnover?", [grouped])] == []  # a group label
    answer = await ExtractiveAnswerer(AnswerConfig()).answer("Is Acme capital-intensive?", hits)
    assert not answer.refused
    assert answer.answer.startswith(
        "Purchases of property, plant and equipment (PP&E) — 2022: (1,749); 2021: (1,603) [1] "
        "Property, plant and equipment — 2022: 25,998; 2021: 27,213 [2] "
        "Total assets — 2022: $46,455; 2021: $47,072 [3]"
    )
    first, second, third = answer.citations[:3]
    assert [r.page for r in first.regions] == [52] and [r.page for r in third.regions] == [50]
    [row] = third.regions
    assert row.text is not None and row.text.startswith("Total assets")  # the row, not the whole table
    assert input_rows("Which segment grew fastest?", hits) == []
    net = _table_hit(
        5,
        BALANCE_SHEET.replace(
            "| Total assets |", "| Property, plant and equipment — net | 9,178 | 9,429 |\n| Total assets |"
        ),
        50,
    )
    [(_, gross)] = input_rows("What is 3M's PPNE?", [net])
    [(_, net_row)] = input_rows("What is 3M's net PPNE?", [net])
    assert gross.startswith("| Property, plant and equipment |") and "9,178" in net_row


def test_the_statements_come_from_the_filing_search_ranks_first(kb: KnowledgeBase) -> None:
    annual = [
        make_chunk(
            "10k", 0, "Did Acme grow its PP&E between fiscal 2020 and fiscal 2021? It did.", kind="text"
        ),
        make_chunk("10k", 1, BALANCE_SHEET, kind="table"),
    ]
    # the quarter's balance sheet matches the statement query better: it says "balance sheets" and
    # "property, plant and equipment" twice
    interim = BALANCE_SHEET.replace("Balance Sheet", "Balance Sheets (Consolidated Balance Sheets)").replace(
        "| Total assets |", "| Property, plant and equipment held for sale | 10 | 12 |\n| Total assets |"
    )
    quarterly = make_chunk("10q", 0, interim, kind="table")
    kb.index_chunks([*annual, quarterly])
    both = SearchFilters(doc_ids=["10k", "10q"])
    hits = kb.search("Did Acme grow its PPNE between FY20 and FY21?", both, mode="sparse", top_k=3)
    assert hits[0].chunk_id == annual[1].id  # the 10-K's balance sheet, not the 10-Q's


async def test_a_question_naming_a_statement_is_answered_with_the_row_its_label_matches() -> None:
    hits = [_table_hit(1, BALANCE_SHEET, 50), _table_hit(2, CASH_FLOWS, 52)]
    question = "Using the cash flow statement, how much did Acme spend on purchases of property in 2022?"
    [(i, row)] = input_rows(question, hits)
    assert i == 1 and row.startswith("| Purchases of property, plant and equipment")
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(question, hits)
    assert answer.answer.startswith("Purchases of property, plant and equipment (PP&E) — 2022: (1,749)")
    assert [r.page for r in answer.citations[0].regions] == [52]
    assert input_rows("Using the cash flow statement, what was the weather like?", hits) == []
