"""Common financial metrics, the statement lines they are computed from and the statements holding those
lines: domain knowledge, like a stemmer.

A metric question ("Is 3M capital-intensive?", "Verizon's quick ratio for FY2022") has the statements
holding the metric's inputs as its evidence, and those pages never use the metric's name. With
`SearchConfig.metric_inputs` on, the sparse (BM25) query of such a question also asks for the lines the
metric is computed from ("capital expenditures", "property, plant and equipment", "total assets"), and
search puts the primary statement tables holding them (balance sheet, income statement, cash flows) first
(`statement_kinds`, `is_statement`, `input_coverage`). The vocabulary is small and fixed;
docs/retrieval.md lists it with its measured effect.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from retrieval.hits import SearchHit
from retrieval.sentences import terms

Statement = Literal["income", "balance", "cash_flows"]

INCOME: tuple[Statement, ...] = ("income",)
BALANCE: tuple[Statement, ...] = ("balance",)
CASH: tuple[Statement, ...] = ("cash_flows",)

# how cash flow statements name capital expenditures
CAPEX = ("capital expenditures", "purchases of property, plant and equipment", "additions to property")
# how income statements name revenue ("Sales to customers", "Total net revenue"; "revenue" is "revenues" too)
SALES = ("net sales", "revenue", "net revenue", "sales to customers")

# (how a question names the metric, the statement lines its inputs are written on, the statements)
METRICS: tuple[tuple[re.Pattern[str], tuple[str, ...], tuple[Statement, ...]], ...] = tuple(
    (re.compile(names, re.IGNORECASE), inputs, statements)
    for names, inputs, statements in (
        (
            r"\bgross (?:profit )?margin",
            (*SALES, "cost of sales", "cost of products sold"),
            INCOME,
        ),
        (r"\boperating (?:profit )?margin", (*SALES, "operating income"), INCOME),
        (r"\b(?:net|profit) margin", (*SALES, "net income", "net earnings"), INCOME),
        (
            r"\bquick ratio|\bacid[- ]test",
            (
                "cash and cash equivalents",
                "accounts receivable",
                "inventories",
                "total current assets",
                "total current liabilities",
            ),
            BALANCE,
        ),
        (
            r"\bcurrent ratio|\bworking capital",
            ("total current assets", "total current liabilities"),
            BALANCE,
        ),
        (
            r"\bcapital[- ]intensi",
            (*CAPEX, "property, plant and equipment", "total assets"),
            BALANCE + CASH,
        ),
        (
            r"\binventory turnover|\bsold its inventory|\bdays (?:of )?inventory",
            ("cost of products sold", "cost of sales", "inventories"),
            INCOME + BALANCE,
        ),
        (
            r"\b(?:receivables? turnover|days sales outstanding|DSO)\b",
            ("accounts receivable", "net sales"),
            INCOME + BALANCE,
        ),
        (r"\basset turnover", ("net sales", "revenues", "total assets"), INCOME + BALANCE),
        (r"\breturn on (?:total )?assets|\bROA\b", ("net income", "total assets"), INCOME + BALANCE),
        (
            r"\breturn on (?:shareholders'? |stockholders'? )?equity|\bROE\b",
            ("net income", "total shareholders equity"),
            INCOME + BALANCE,
        ),
        (
            r"\bdebt[- ]to[- ]equity|\bleverage ratio",
            ("long-term debt", "short-term borrowings", "total shareholders equity"),
            BALANCE,
        ),
        (
            r"\bfree cash ?flow",
            ("net cash provided by operating activities", *CAPEX),
            CASH,
        ),
        (r"\bEBITDA\b", ("operating income", "depreciation and amortization"), INCOME + CASH),
        (r"\binterest coverage", ("operating income", "interest expense"), INCOME),
        (r"\b(?:dividend )?payout ratio", ("dividends paid", "net income"), CASH + INCOME),
        (
            r"\beffective tax rate",
            ("provision for taxes on income", "income before taxes"),
            INCOME,
        ),
        (r"\bPP&?NE?\b|\bPP&E\b", ("property, plant and equipment",), BALANCE),
        (r"\bcapex\b|\bcapital expenditures?\b", CAPEX, CASH),
        (r"\bfixed asset turnover", (*SALES, "property, plant and equipment"), INCOME + BALANCE),
        (
            r"\bdays payables? outstanding|\bDPO\b|\bpayables? turnover",
            ("accounts payable", "cost of sales", "cost of products sold"),
            INCOME + BALANCE,
        ),
        (r"\b(?:revenue|sales) growth|\bchange in (?:total )?(?:net )?(?:revenue|sales)", SALES, INCOME),
    )
)

# How filings title their primary statements ("CONSOLIDATED STATEMENTS OF EARNINGS", "Consolidated
# Balance Sheet", "Condensed Consolidated Statements of Cash Flows"); a note's table never carries these.
STATEMENT_TITLES: dict[Statement, re.Pattern[str]] = {
    "income": re.compile(
        r"\bstatements? of (?:consolidated )?(?:income|earnings|operations)\b|\bincome statements?\b",
        re.IGNORECASE,
    ),
    "balance": re.compile(
        r"\bbalance sheets?\b|\bstatements? of (?:consolidated )?financial (?:position|condition)\b",
        re.IGNORECASE,
    ),
    "cash_flows": re.compile(r"\bstatements? of (?:consolidated )?cash flows?\b", re.IGNORECASE),
}
# the words a statement's title is searched by (its sparse query, beside its lines)
TITLE_WORDS: dict[Statement, str] = {
    "income": "consolidated statements of income earnings operations",
    "balance": "consolidated balance sheets",
    "cash_flows": "consolidated statements of cash flows",
}


def _metrics(question: str) -> list[tuple[tuple[str, ...], tuple[Statement, ...]]]:
    return [(inputs, statements) for names, inputs, statements in METRICS if names.search(question)]


def metric_inputs(question: str) -> list[str]:
    """The statement lines of the metrics `question` names, in vocabulary order, without repeats."""
    lines: list[str] = []
    for inputs, _ in _metrics(question):
        lines += [line for line in inputs if line not in lines]
    return lines


# how a question names a statement besides its titles: "shown in the cash flow statement", "the P&L"
NAMED_STATEMENTS: dict[Statement, re.Pattern[str]] = {
    "income": re.compile(r"\bP&L\b|\bprofit (?:and|&) loss statement", re.IGNORECASE),
    "cash_flows": re.compile(r"\bcash ?flows? statements?\b", re.IGNORECASE),
}
# adjusted (non-GAAP) figures have reconciliation tables of their own; no primary statement prints them
ADJUSTED = re.compile(r"\badjusted\b|\bnon[- ]?GAAP\b", re.IGNORECASE)


def statement_kinds(question: str) -> list[Statement]:
    """The primary statements a question is answered from: those it names ("relying on the cash flow
    statement"), else those holding the inputs of the metrics it names, without repeats; none for an
    adjusted figure."""
    if ADJUSTED.search(question):
        return []
    named = [
        k
        for k, title in STATEMENT_TITLES.items()
        if title.search(question) or (k in NAMED_STATEMENTS and NAMED_STATEMENTS[k].search(question))
    ]
    if named:
        return named
    kinds: list[Statement] = []
    for _, statements in _metrics(question):
        kinds += [s for s in statements if s not in kinds]
    return kinds


def with_metric_inputs(question: str) -> str:
    """`question` followed by the statement lines of the metrics it names (unchanged when it names none)."""
    lines = metric_inputs(question)
    return f"{question} {'; '.join(lines)}" if lines else question


def statement_query(question: str, kind: Statement) -> str:
    """The sparse query for `kind`'s table: its title's words and the lines of `question`'s metrics."""
    return f"{TITLE_WORDS[kind]} {'; '.join(metric_inputs(question))}"


def is_statement(heading_path: list[str], markdown: str, kind: Statement) -> bool:
    """Whether a table chunk is (a part of) the primary statement `kind`: its title, in the heading path
    or the lines above the table in the chunk (the caption the chunker repeats with every part), names
    it. The table's own cells do not count: a note's "Amounts recognized in the balance sheets" is no
    balance sheet, nor is a note titled after one ("NOTE 7. Supplemental Balance Sheet Information")."""
    caption = []
    for line in markdown.splitlines():
        if line.lstrip().startswith("|"):
            break
        caption.append(line)
    head = _LOOSE_LETTER.sub("", " ".join([*heading_path, *caption]))
    in_note = "notes to" in head.lower() or any(_NOTE_TITLE.match(h) for h in heading_path)
    return STATEMENT_TITLES[kind].search(head) is not None and not in_note


# a note's own title: "NOTE 7. Supplemental Balance Sheet Information", "Note 3 — Restructuring ..."
_NOTE_TITLE = re.compile(r"\s*note\s+\d+\b", re.IGNORECASE)
# the space of a word's last letter set apart in the text layer ("Consolidated Balance Shee t")
_LOOSE_LETTER = re.compile(r"(?<=[a-z]{3}) (?=[a-z]\b)")


def input_coverage(question: str, markdown: str) -> int:
    """How many of the lines `question`'s metrics are computed from the chunk writes (case and
    punctuation aside: "Property, plant and equipment — net" holds "property, plant and equipment")."""
    text = _plain(markdown)
    return sum(_plain(line) in text for line in metric_inputs(question))


def _plain(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", text.lower()).split())


MAX_INPUT_ROWS = 4  # an extractive answer quotes at most this many input rows


def input_rows(question: str, hits: Sequence[SearchHit]) -> list[tuple[int, str]]:
    """The statement rows a metric question's inputs are read from, as (hit index, Markdown row): for
    each input line in vocabulary order, the first row of a primary statement among `hits` whose label
    starts with it ("Total current assets", "Property, plant and equipment — net"); for a question that
    names a statement and no metric, its best-matching row (`_row_named`); [] when it names neither."""
    kinds = statement_kinds(question)
    tables = [
        (i, h)
        for i, h in enumerate(hits)
        if h.kind == "table" and any(is_statement(h.heading_path, h.markdown, k) for k in kinds)
    ]
    lines = metric_inputs(question)
    if not lines:
        return _row_named(question, tables)
    asked = set(terms(question))
    rows: list[tuple[int, str]] = []
    for line in lines:
        wanted = _plain(line)
        starting = [
            (i, r)
            for i, h in tables
            for r in h.markdown.splitlines()
            if _has_values(r) and _plain(_label(r)).startswith((wanted, f"total {wanted}"))
        ]
        # the first, unless a later one's label says more of what is asked: "net PPNE" wants "Property,
        # plant and equipment — net", not the gross line above it
        row = max(starting, key=lambda row: len(asked & set(terms(_label(row[1])))), default=None)
        if row is not None and row not in rows:
            rows.append(row)
    return rows[:MAX_INPUT_ROWS]


MIN_LABEL_TERMS = 2  # a row answers a question naming its statement when its label holds this many terms


def _row_named(question: str, tables: Sequence[tuple[int, SearchHit]]) -> list[tuple[int, str]]:
    """The one row of the statement a question names whose label shares most of the question's terms
    ("how much cash did operating activities generate?" -> "Net cash provided by operating
    activities"), at least MIN_LABEL_TERMS of them; [] when none does."""
    asked = set(terms(question))
    scored = [
        (len(asked & set(terms(_label(r)))), -n, i, r)
        for n, (i, h) in enumerate(tables)
        for r in h.markdown.splitlines()
        if _has_values(r)
    ]
    best = max(scored, default=None)
    return [(best[2], best[3])] if best is not None and best[0] >= MIN_LABEL_TERMS else []


def _label(row: str) -> str:
    return row.strip().strip("|").split("|")[0]


def _has_values(row: str) -> bool:
    """A table row with a value beside its label (not "| Inventories |  |  |", which only opens a group)."""
    cells = row.strip().strip("|").split("|")
    return row.lstrip().startswith("|") and len(cells) > 1 and any(c.strip() for c in cells[1:])
