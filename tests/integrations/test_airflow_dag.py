"""The shipped Airflow DAG (integrations/airflow) under Airflow's own `dag.test()`, against a real
`opticite serve` on loopback. Airflow runs in .venv-airflow (`make airflow`): its pins conflict with the
service's, so the DAG runs there as a child process (tests/integrations/airflow_run.py)."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.support.documents import make_pdf
from tests.support.network import free_port
from tests.support.processes import ROOT, ApiProcess, Process

RUNNER = Path(__file__).with_name("airflow_run.py")
DAGS = ROOT / "integrations" / "airflow" / "dags"
KB = "inbox"


@pytest.fixture(scope="module")
def airflow_home(airflow_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An AIRFLOW_HOME with its metadata DB (SQLite) created, shared by this module's runs."""
    home = tmp_path_factory.mktemp("airflow")
    done = subprocess.run(
        [str(airflow_python.with_name("airflow")), "db", "migrate"],
        env=airflow_env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    return home


def airflow_env(home: Path, **variables: str) -> dict[str, str]:
    """This environment without opticite's, Airflow's or AWS's settings, then Airflow's home and
    the DAG's Variables (`opticite_<name>`); the bucket's credentials are the S3 test server's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OPTICITE_", "AIRFLOW", "AWS_"))}
    env |= {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    return env | {f"AIRFLOW_VAR_OPTICITE_{k.upper()}": v for k, v in variables.items()}


@pytest.fixture
def server(tmp_path: Path, fake_llm: FakeLlmServer) -> Iterator[ApiProcess]:
    """`opticite serve` with embeddings from the fake OpenAI server (no model loads) and a DeepSeek
    server that does not exist: a document sent to that engine fails."""
    overrides = {
        "data_dir": tmp_path / "data",
        "embedder": {"backend": "http", "url": fake_llm.url, "dim": EMBED_DIM},
        "deepseek": {
            "url": f"http://127.0.0.1:{free_port()}/v1",
            "retries": 0,
            "cpu_fallback_on_error": False,
        },
    }
    api = ApiProcess(overrides, tmp_path / "serve.log")
    api.start()  # waits for /healthz
    try:
        yield api
    finally:
        api.stop()


@pytest.fixture
def bucket(airflow_python: Path, tmp_path: Path) -> Iterator[str]:
    """An S3-compatible server on loopback (moto's, from .venv-airflow) holding bucket `scans`: its URL."""
    port = free_port()
    moto = Process(
        [str(airflow_python.with_name("moto_server")), "-H", "127.0.0.1", "-p", str(port)],
        os.environ,
        tmp_path / "s3.log",
    )
    moto.start()
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _answers(url):
            assert moto.alive() and time.monotonic() < deadline, moto.tail()
            time.sleep(0.2)
        httpx.put(f"{url}/scans", timeout=30).raise_for_status()
        yield url
    finally:
        moto.stop()


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
        return True
    except httpx.HTTPError:
        return False


def run_dag(python: Path, home: Path, url: str, inbox: Path, **variables: str) -> tuple[dict[str, Any], str]:
    """One `dag.test()` run: (the runner's RESULT line, the whole output)."""
    env = airflow_env(home, url=url, inbox=str(inbox), kb=KB, **variables)
    done = subprocess.run(
        [str(python), str(RUNNER)], env=env, cwd=ROOT, capture_output=True, text=True, timeout=600
    )
    output = done.stdout + done.stderr
    lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
    assert done.returncode == 0 and lines, output[-6000:]
    return json.loads(lines[-1][len("RESULT ") :]), output


def uploads(log: Path) -> int:
    """Uploads the server received, from its access log."""
    return log.read_text(errors="replace").count('"POST /v1/documents HTTP')


def test_dag_ingests_a_folder_and_a_bucket_then_uploads_nothing_the_second_time(
    airflow_python: Path, airflow_home: Path, server: ApiProcess, bucket: str, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    (inbox / "sub").mkdir(parents=True)
    folder = [
        make_pdf(inbox / "a.pdf", pages=2, seed="a"),
        make_pdf(inbox / "sub" / "b.pdf", pages=1, seed="b"),
    ]
    (inbox / "notes.txt").write_text("not a document: left alone")
    scan = make_pdf(tmp_path / "c.pdf", pages=1, seed="c")
    httpx.put(f"{bucket}/scans/in/c.pdf", content=scan.read_bytes(), timeout=30).raise_for_status()
    httpx.put(f"{bucket}/scans/in/readme.txt", content=b"left alone", timeout=30).raise_for_status()
    httpx.put(f"{bucket}/scans/elsewhere/d.pdf", content=scan.read_bytes(), timeout=30).raise_for_status()
    s3 = {"s3_bucket": "scans", "s3_prefix": "in/", "s3_endpoint_url": bucket}

    first, output = run_dag(airflow_python, airflow_home, server.url, inbox, **s3)
    assert (first["run"], first["task"]) == ("success", "success"), output[-6000:]
    expected = sorted([*(str(p) for p in folder), "s3://scans/in/c.pdf"])
    assert sorted(r["file"] for r in first["summary"]["uploaded"]) == expected
    assert {r["status"] for r in first["summary"]["uploaded"]} == {"done"}
    assert first["summary"]["skipped"] == first["summary"]["refused"] == []
    assert uploads(server.log) == 3

    docs = httpx.get(f"{server.url}/v1/documents", params={"kb": KB}, timeout=30).json()["documents"]
    assert sorted(d["filename"] for d in docs) == ["a.pdf", "b.pdf", "c.pdf"]
    assert {d["status"] for d in docs} == {"done"}

    again, output = run_dag(airflow_python, airflow_home, server.url, inbox, **s3)
    assert (again["run"], again["task"]) == ("success", "success"), output[-6000:]
    assert again["summary"]["uploaded"] == []
    assert sorted(r["document_id"] for r in again["summary"]["skipped"]) == sorted(d["id"] for d in docs)
    assert uploads(server.log) == 3, "the second run sent no file"


def test_a_failed_document_fails_the_task_with_its_reason(
    airflow_python: Path, airflow_home: Path, server: ApiProcess, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make_pdf(inbox / "one.pdf", pages=1)
    for _ in range(2):  # failed when uploaded, and again when a later run finds it already there
        result, output = run_dag(airflow_python, airflow_home, server.url, inbox, engine="deepseek")
        assert (result["run"], result["task"]) == ("failed", "failed"), output[-6000:]
        errors = [x for x in output.splitlines() if "AirflowException: 1 file(s) not ingested into kb" in x]
        assert errors, output[-6000:]
        assert f"{inbox / 'one.pdf'}: failed: " in errors[-1]
        (doc,) = httpx.get(f"{server.url}/v1/documents", params={"kb": KB}, timeout=30).json()["documents"]
        assert doc["status"] == "failed" and doc["error"]
        assert errors[-1].endswith(f": failed: {doc['error']}")  # the server's reason, as it gives it
    assert uploads(server.log) == 1


def test_a_server_that_does_not_answer_fails_the_task_naming_it(
    airflow_python: Path, airflow_home: Path, tmp_path: Path
) -> None:
    """Nothing listens on the port: after its bounded connection retries the task fails (for Airflow's
    own retries) with a message that names the server, not a traceback of httpx internals only."""
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    make_pdf(inbox / "one.pdf", pages=1)
    url = f"http://127.0.0.1:{free_port()}"
    result, output = run_dag(airflow_python, airflow_home, url, inbox)
    assert (result["run"], result["task"]) == ("failed", "failed"), output[-6000:]
    assert f"OpticiteApiError: the opticite server at {url} does not answer (ConnectError" in output
