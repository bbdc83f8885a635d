"""A table row quoted as a statement: "Cost of sales — 2022: 19,232; 2021: 18,795", not a bare fragment.

A table chunk's Markdown opens with the table's header row (`ingest.chunking` repeats it in every part),
so a row picked as an answer is read with the column headers it stands under.
"""

from __future__ import annotations

import re

_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}")


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split(" | ")]


def header_of(markdown: str) -> list[str] | None:
    """The header cells of the first Markdown table in `markdown` (the line above its `|---|` line)."""
    lines = markdown.splitlines()
    for above, line in zip(lines, lines[1:], strict=False):
        if above.lstrip().startswith("|") and _SEPARATOR.match(line):
            return _cells(above)
    return None


def is_header_row(line: str, markdown: str) -> bool:
    """Whether `line` is the header row of `markdown`'s table ("| (Millions) | 2022 | 2021 |"): column
    headers say what the values are, never an answer by themselves."""
    return line.lstrip().startswith("|") and _cells(line) == header_of(markdown)


def row_statement(row: str, markdown: str) -> str | None:
    """`row` (a Markdown table row of `markdown`) as "Label — Header: value; ...", each value with its
    column header; None when `row` is no table row or its table has no header to read it with."""
    if not row.lstrip().startswith("|") or _SEPARATOR.match(row):
        return None
    header = header_of(markdown)
    cells = _cells(row)
    if header is None or len(cells) != len(header) or not cells[0]:
        return None
    values = [f"{h}: {v}" if h else v for h, v in zip(header[1:], cells[1:], strict=True) if v]
    if not values or cells == header:
        return None
    return f"{cells[0]} — {'; '.join(values)}"
