"""The served OpenAPI document against the server, as a new user would try it (issue 14): schemathesis
generates valid and invalid requests for every operation of `/openapi.json` of a real `opticite serve`
on loopback and checks each reply against the schema. Any failure fails the test, with schemathesis's
report of it.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fakes.openai_server import EMBED_DIM
from tests.support.documents import make_pdf
from tests.support.processes import ApiProcess
from tests.support.servers import read_sse, upload

pytestmark = pytest.mark.slow
KEY = "schema-test-key-5b0e27d4"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
)
MAX_EXAMPLES = 8  # per operation in the fuzzing phase: the run stays within a few minutes on 2 busy cores
SEED = 14


def schemathesis_command(url: str, key: str, report: Path, max_examples: int = MAX_EXAMPLES) -> list[str]:
    """`st run` over the served schema: the coverage and fuzzing phases, the issue's five checks."""
    return [
        str(Path(sys.executable).parent / "st"),
        "run",
        f"{url}/openapi.json",
        "--phases=coverage,fuzzing",
        f"--checks={','.join(CHECKS)}",
        f"--max-examples={max_examples}",
        f"--seed={SEED}",
        # one worker: with two, hypothesis's lambda descriptions call ast.parse from two threads, where
        # CPython 3.11.7 can raise "SystemError: AST constructor recursion depth mismatch" (python/cpython
        # gh-106905; seen once in a fresh-clone run of this test)
        "--workers=1",
        "--request-timeout=60",
        f"--header=X-API-Key: {key}",
        "--report=junit",
        f"--report-junit-path={report}",
        "--no-color",
    ]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, embed_url: str) -> Iterator[ApiProcess]:
    """`opticite serve` with an API key and one ingested document; text-layer OCR only, so the samples
    schemathesis asks for cost no OCR model."""
    folder = tmp_path_factory.mktemp("schema")
    overrides = {
        "data_dir": str(folder / "data"),
        "api_keys": [{"key": KEY}],
        "embedder": {"backend": "http", "url": embed_url, "dim": EMBED_DIM},
        "ocr": {"engine": "textlayer"},
        "http": {"failed_keys_per_minute": 100_000},
    }
    server = ApiProcess(overrides, folder / "serve.log")
    server.start()
    try:
        with server.client(headers={"X-API-Key": KEY}) as client:
            sub = upload(client, make_pdf(folder / "contract.pdf", pages=2, seed="schema")).json()
            assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        yield server
    finally:
        server.stop()


@pytest.mark.timeout(900)  # set-up and a run of 540 s at most, on a loaded machine
def test_the_server_answers_as_its_openapi_document_says(served: ApiProcess, tmp_path: Path) -> None:
    assert httpx.get(served.url + "/openapi.json", timeout=30).status_code == 200
    report = tmp_path / "junit.xml"
    run = subprocess.run(
        schemathesis_command(served.url, KEY, report),
        cwd=tmp_path,  # its example database (.schemathesis/) stays out of the checkout
        capture_output=True,
        text=True,
        timeout=540,
    )
    assert run.returncode == 0, run.stdout[-20_000:] + run.stderr[-5_000:]
    assert "passed" in run.stdout and served.alive()
