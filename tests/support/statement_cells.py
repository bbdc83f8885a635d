"""Hand-checked cells of financial statement pages in ../shared/testdata/financebench-dev.

Each entry: (filing, 1-based page, [(row label, column header, value as printed)]). Read off the page
text by hand (`pymupdf` `page.get_text()` and the evidence text of questions.json), not from our output.
A column header matches when it ends with the given text ("Years ended December 31 2022" ends "2022");
where two columns match, the first counts. Used by tests/ingest/test_table_grid.py and
bench/financebench_eval.py --tables.
"""

from __future__ import annotations

Cell = tuple[str, str, str]

STATEMENT_CELLS: list[tuple[str, int, list[Cell]]] = [
    (
        "3M_2022_10K",
        48,  # Consolidated Statement of Income
        [
            ("Net sales", "2022", "$34,229"),
            ("Net sales", "2020", "$32,184"),
            ("Cost of sales", "2022", "19,232"),
            ("Cost of sales", "2021", "18,795"),
            ("Gain on business divestitures", "2022", "(2,724)"),
            ("Gain on business divestitures", "2021", "—"),
            ("Provision for income taxes", "2021", "1,285"),
            ("Operating income", "2020", "7,161"),
        ],
    ),
    (
        "JOHNSON_JOHNSON_2022_10K",
        46,  # Consolidated Balance Sheets
        [
            ("Inventories (Notes 1 and 3)", "2022", "12,483"),
            ("Total assets", "2022", "$187,378"),
            ("Total assets", "2021", "182,018"),
            ("Accumulated other comprehensive income (loss) (Note 13)", "2021", "(13,058)"),
            ("Long-term debt (Note 7)", "2022", "26,888"),
        ],
    ),
    (
        "VERIZON_2022_10K",
        56,  # Consolidated Balance Sheets
        [
            ("Inventories", "2022", "2,388"),
            ("Property, plant and equipment, net", "2021", "99,696"),
            ("Total assets", "2021", "$366,596"),
            ("Accumulated other comprehensive loss", "2022", "(1,865)"),
            ("Long-term debt", "2022", "140,676"),
        ],
    ),
    (
        "CVSHEALTH_2022_10K",
        108,  # Consolidated Statements of Operations
        [
            ("Products", "2022", "$226,616"),
            ("Total revenues", "2021", "292,111"),
            ("Cost of products sold", "2020", "163,981"),
            ("Opioid litigation charges", "2021", "—"),
        ],
    ),
    (
        "PFIZER_2021_10K",
        59,  # Consolidated Balance Sheets
        [
            ("Inventories", "2021", "9,059"),
            ("Inventories", "2020", "8,020"),
            ("Total assets", "2020", "$154,229"),
            ("Treasury stock, shares at cost: 2021—3,851; 2020—3,840", "2021", "(111,361)"),
        ],
    ),
    (
        "Pfizer_2023Q2_10Q",
        38,  # revenues by geography, three and six months
        [
            ("Developed Rest of World", "Three Months Ended July 2, 2023", "1,305"),
            ("Developed Rest of World", "% Change", "(74)"),
            ("United States", "Six Months Ended July 3, 2022", "$20,140"),
            ("Emerging Markets", "Three Months Ended July 3, 2022", "6,006"),
        ],
    ),
]


def cell_of(header: list[str], rows: list[list[str]], label: str, column: str) -> str | None:
    """The value under `column` in the row labelled `label` (spaces normalised), None when either is missing."""

    def norm(text: str) -> str:
        return " ".join(text.split())

    col = next((i for i, h in enumerate(header) if i > 0 and norm(h).endswith(column)), None)
    row = next((r for r in rows if norm(r[0]) == norm(label)), None)
    if col is None or row is None or col >= len(row):
        return None
    return norm(row[col])


def markdown_rows(markdown: str) -> list[list[str]]:
    """The cells of each row of a Markdown table (the `|---|` line left out)."""
    lines = [ln for ln in markdown.splitlines() if ln.strip() and not ln.lstrip().startswith("|---")]
    return [[c.strip() for c in ln.strip().strip("|").split(" | ")] for ln in lines]
