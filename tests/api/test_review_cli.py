"""`opticite extract` on a real PDF made at test time: JSON, CSV and the table; a bad schema file
exits with the field named."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.api.test_cli import run, run_json
from tests.support.documents import contract_pdf

pytestmark = pytest.mark.slow


def test_extract_prints_the_contract_table_as_json_csv_and_text(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pdf = contract_pdf(tmp_path / "supply.pdf")
    assert run(data, "ingest", str(pdf), "--kb", "deals").exit_code == 0

    table = run_json(data, "extract", "--kb", "deals", "--json")
    assert isinstance(table, dict) and table["state"] == "done" and table["documents_read"] == 1
    fields = {f["name"]: f for f in table["documents"][0]["fields"]}
    assert fields["Governing Law"]["normalized"] == "New York"
    assert fields["Parties"]["value"] == ["Acme Widgets Inc.", "Beta Robotics LLC"]

    result = run(data, "extract", "--kb", "deals", "--csv")
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    law = next(r for r in rows if r["field"] == "Governing Law")
    assert (law["found"], law["normalized"], law["pages"], law["clause"]) == ("yes", "New York", "2", "6")
    assert next(r for r in rows if r["field"] == "Effective Date")["found"] == "no"

    text = run(data, "extract", "--kb", "deals")
    assert text.exit_code == 0 and "not found" in text.stdout
    assert text.stdout.count("Governing Law") == 1, text.stdout  # the table printed once

    schema = tmp_path / "mine.yaml"
    schema.write_text("name: mine\nfields:\n  - name: Term\n    question: How long?\n    type: months\n")
    bad = run(data, "extract", "--kb", "deals", "--schema", str(schema))
    assert bad.exit_code != 0 and "'Term'" in bad.stderr
    schema.write_text(json.dumps({"name": "mine", "fields": [{"name": "Law", "question": "Which law governs?", "type": "jurisdiction"}]}))  # fmt: skip
    mine = run_json(data, "extract", "--kb", "deals", "--schema", str(schema), "--json")
    assert isinstance(mine, dict) and mine["documents"][0]["fields"][0]["normalized"] == "New York"
