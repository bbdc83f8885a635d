"""Common financial metrics and the statement lines they are computed from: domain knowledge, like a stemmer.

A metric question ("Is 3M capital-intensive?", "Verizon's quick ratio for FY2022") has the statements
holding the metric's inputs as its evidence, and those pages never use the metric's name. With
`SearchConfig.metric_inputs` on, the sparse (BM25) query of such a question also asks for the lines the
metric is computed from ("capital expenditures", "property, plant and equipment", "total assets"). The
vocabulary is small and fixed; docs/retrieval.md lists it with its measured effect.
"""

from __future__ import annotations

import re

# (how a question names the metric, the statement lines its inputs are written on)
METRICS: tuple[tuple[re.Pattern[str], tuple[str, ...]], ...] = tuple(
    (re.compile(names, re.IGNORECASE), inputs)
    for names, inputs in (
        (r"\bgross (?:profit )?margin", ("net sales", "revenues", "cost of sales", "cost of products sold")),
        (r"\boperating (?:profit )?margin", ("net sales", "revenues", "operating income")),
        (r"\b(?:net|profit) margin", ("net sales", "revenues", "net income")),
        (
            r"\bquick ratio|\bacid[- ]test",
            (
                "cash and cash equivalents",
                "accounts receivable",
                "inventories",
                "total current assets",
                "total current liabilities",
            ),
        ),
        (r"\bcurrent ratio|\bworking capital", ("total current assets", "total current liabilities")),
        (r"\bcapital[- ]intensi", ("capital expenditures", "property, plant and equipment", "total assets")),
        (
            r"\binventory turnover|\bsold its inventory|\bdays (?:of )?inventory",
            ("cost of products sold", "cost of sales", "inventories"),
        ),
        (r"\b(?:receivables? turnover|days sales outstanding|DSO)\b", ("accounts receivable", "net sales")),
        (r"\basset turnover", ("net sales", "revenues", "total assets")),
        (r"\breturn on (?:total )?assets|\bROA\b", ("net income", "total assets")),
        (
            r"\breturn on (?:shareholders'? |stockholders'? )?equity|\bROE\b",
            ("net income", "total shareholders equity"),
        ),
        (
            r"\bdebt[- ]to[- ]equity|\bleverage ratio",
            ("long-term debt", "short-term borrowings", "total shareholders equity"),
        ),
        (r"\bfree cash flow", ("net cash provided by operating activities", "capital expenditures")),
        (r"\bEBITDA\b", ("operating income", "depreciation and amortization")),
        (r"\binterest coverage", ("operating income", "interest expense")),
        (r"\b(?:dividend )?payout ratio", ("dividends paid", "net income")),
        (r"\beffective tax rate", ("provision for taxes on income", "income before taxes")),
        (r"\bPP&?NE?\b|\bPP&E\b", ("property, plant and equipment",)),
    )
)


def metric_inputs(question: str) -> list[str]:
    """The statement lines of the metrics `question` names, in vocabulary order, without repeats."""
    lines: list[str] = []
    for names, inputs in METRICS:
        if names.search(question):
            lines += [line for line in inputs if line not in lines]
    return lines


def with_metric_inputs(question: str) -> str:
    """`question` followed by the statement lines of the metrics it names (unchanged when it names none)."""
    lines = metric_inputs(question)
    return f"{question} {'; '.join(lines)}" if lines else question
