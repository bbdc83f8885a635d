"""`opticite review next|accept|correct` in process on a data directory: the queue, a correction that
search then finds, and the errors a reviewer can cause."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner, Result

from api.cli import app
from tests.support.documents import make_pdf


def run(data_dir: Path, *args: str) -> Result:
    env = {"OPTICITE_DATA_DIR": str(data_dir), "HF_HUB_OFFLINE": "1", "OPTICITE_REVIEW__RATE": "1"}
    return CliRunner().invoke(app, list(args), env=env)


def test_review_commands_correct_a_block_that_search_then_finds(tmp_path: Path) -> None:
    data = tmp_path / "data"
    pdf = make_pdf(tmp_path / "contract.pdf", pages=2, seed="cli")
    assert run(data, "ingest", str(pdf), "--kb", "k").exit_code == 0

    shown = run(data, "review", "next", "--kb", "k")
    assert shown.exit_code == 0 and "page 1" in shown.stdout and "2 waiting" in shown.stdout
    item = json.loads(run(data, "review", "next", "--kb", "k", "--json").stdout)["item"]
    doc = item["doc_id"]

    bad = run(data, "review", "correct", doc, "1", "--kb", "k", "--block", "three=x")
    assert bad.exit_code == 2 and "--block" in bad.stderr
    missing = run(data, "review", "correct", doc, "1", "--kb", "k", "--block", "99=x")
    assert missing.exit_code == 2 and "no block 99" in missing.stderr

    fixed = run(
        data, "review", "correct", doc, "1", "--kb", "k", "--block", "1=Fees are paid in Zanzibar florins."
    )
    assert fixed.exit_code == 0 and fixed.stdout.startswith("corrected:"), fixed.stderr
    assert run(data, "review", "accept", doc, "2", "--kb", "k", "--reviewer", "ana").exit_code == 0
    twice = run(data, "review", "accept", doc, "2", "--kb", "k")
    assert twice.exit_code == 2 and "already reviewed" in twice.stderr
    assert "no page waits" in run(data, "review", "next", "--kb", "k").stdout

    hits = json.loads(run(data, "search", "Zanzibar florins", "--kb", "k", "--json").stdout)["results"]
    assert "Zanzibar florins" in hits[0]["markdown"] and hits[0]["pages"] == [1]
