"""`opticite extract`: the review table printed as a table, JSON or CSV (one row per document and field)."""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from api.cli_files import CliError
from api.review_table import rows, table_csv
from retrieval.review import BUILT_IN, SchemaError, load_schema


def schema_argument(source: str) -> str | dict[str, Any]:
    """A built-in schema's name as is; a file's schema checked here (errors name the field) and sent as JSON."""
    if source in BUILT_IN:
        return source
    try:
        return load_schema(source).model_dump(mode="json")
    except SchemaError as exc:
        raise CliError(str(exc)) from exc


def render(table: dict[str, Any], fmt: str) -> str:
    """The table as JSON, CSV, or (printed) a rich table per document."""
    if fmt == "json":
        return json.dumps(table, indent=2, ensure_ascii=False)
    if fmt == "csv":
        return table_csv(table)
    buffer = io.StringIO()  # printed here, not to stdout: the caller prints the text once
    console = Console(file=buffer, width=140)
    for doc in table["documents"]:
        grid = Table(title=f"{doc['filename']} ({doc['doc_id']})", show_lines=False)
        for column in ("field", "value", "normalized", "pages", "clause"):
            grid.add_column(column, overflow="fold")
        for row in (r for r in rows(table) if r["doc_id"] == doc["doc_id"]):
            value = row["value"] if row["found"] == "yes" else "not found"
            grid.add_row(row["field"], value[:120], row["normalized"], row["pages"], row["clause"])
        console.print(grid)
    if not table["documents"]:
        console.print("no documents read")
    return buffer.getvalue()
