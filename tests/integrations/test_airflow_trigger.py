"""The Airflow trigger against a server on loopback that misbehaves on purpose: it polls through
transient failures (503), gives up after a bounded number of them, and stops at once on a 4xx.
Runs in .venv-airflow (`make airflow`) as a child process (tests/integrations/airflow_trigger_run.py)."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.fakes.loopback import LoopbackServer
from tests.support.processes import ROOT

RUNNER = Path(__file__).with_name("airflow_trigger_run.py")


class MisbehavingServer:
    """`GET /v1/documents/{id}`: `flaky` answers 503 twice, then `processing`, then `done`; `down` always
    answers 503; `gone` is an unknown document (404). Counts the requests per id."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.app = Starlette(routes=[Route("/v1/documents/{doc_id}", self.document)])

    async def document(self, request: Request) -> JSONResponse:
        doc_id = request.path_params["doc_id"]
        self.calls[doc_id] += 1
        n = self.calls[doc_id]
        if doc_id == "gone":
            error = {"code": "unknown_document", "message": f"no document {doc_id!r}"}
            return JSONResponse({"error": error}, status_code=404)
        if doc_id == "down" or n <= 2:
            return JSONResponse({"error": {"code": "unavailable", "message": "busy"}}, status_code=503)
        status = "processing" if n == 3 else "done"
        return JSONResponse({"id": doc_id, "filename": "f.pdf", "status": status, "error": None})


@pytest.fixture
def misbehaving() -> Iterator[tuple[str, MisbehavingServer]]:
    server = MisbehavingServer()
    loopback = LoopbackServer(server.app)
    loopback.start()
    try:
        yield loopback.url, server
    finally:
        loopback.stop()


def run_trigger(python: Path, url: str, *groups: list[str]) -> list[dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTICITE_", "AIRFLOW"))}
    argv = [str(python), str(RUNNER), url, *(json.dumps(g) for g in groups)]
    done = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    events = [json.loads(x[6:]) for x in done.stdout.splitlines() if x.startswith("EVENT ")]
    assert done.returncode == 0 and len(events) == len(groups), (done.stdout + done.stderr)[-4000:]
    return events


def test_trigger_polls_through_failures_then_gives_up_or_stops(
    airflow_python: Path, misbehaving: tuple[str, MisbehavingServer]
) -> None:
    url, server = misbehaving
    flaky, down, gone = run_trigger(airflow_python, url, ["flaky"], ["down"], ["gone", "flaky"])
    assert flaky == {
        "documents": {"flaky": {"filename": "f.pdf", "status": "done", "error": None}},
        "carry": {"n": 1},
    }
    assert down["error"].startswith("unavailable: busy") and down["carry"] == {"n": 1}
    assert server.calls["down"] == 5  # bounded: MAX_FAILED_POLLS in a row
    assert gone == {"error": "unknown_document: no document 'gone'", "carry": {"n": 2}}
    assert server.calls["gone"] == 1  # a 4xx is not retried
