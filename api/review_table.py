"""The review table's rows, a row per document and field, and as CSV (API and CLI alike)."""

from __future__ import annotations

import csv
import io
from typing import Any

CSV_COLUMNS = (
    "doc_id",
    "filename",
    "field",
    "found",
    "value",
    "normalized",
    "quote",
    "clause",
    "pages",
    "confidence",
)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    return "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)


def rows(table: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for doc in table["documents"]:
        for field in doc["fields"]:
            pages = sorted({r["page"] for r in field["regions"]})
            out.append(
                {
                    "doc_id": doc["doc_id"],
                    "filename": doc["filename"],
                    "field": field["name"],
                    "found": "yes" if field["found"] else "no",
                    "value": _cell(field["value"]),
                    "normalized": _cell(field["normalized"]),
                    "quote": _cell(field["quote"]),
                    "clause": _cell(field["clause"]),
                    "pages": _cell(pages),
                    "confidence": f"{field['confidence']:.2f}",
                }
            )
    return out


def table_csv(table: dict[str, Any]) -> str:
    """The table as CSV, a row per document and field."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(rows(table))
    return buffer.getvalue()
