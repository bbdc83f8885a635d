"""Every CLI error is one readable line on stderr, never a traceback, unless `--debug` asks for it.

Run as the real `opticite` script in a child process, so what is checked is what a user sees."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from api.cli import _Group
from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.support.documents import make_pdf
from tests.support.network import free_port

OPTICITE = Path(sys.executable).with_name("opticite")


def opticite(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("OPTICITE_")}
    return subprocess.run(
        [str(OPTICITE), *args], env=clean | env, capture_output=True, text=True, timeout=180
    )


@pytest.fixture
def embed_url() -> Iterator[str]:
    with FakeLlmServer() as fake:
        yield fake.url


def test_unsafe_settings_are_one_line_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    env = {"OPTICITE_RUNNER": "celery", "OPTICITE_DATA_DIR": str(tmp_path)}
    plain = opticite("docs", "list", **env)
    assert plain.returncode == 2
    assert plain.stderr.startswith("error: invalid settings: runner=celery with an embedded vector store")
    assert plain.stderr.count("\n") == 1 and "Traceback" not in plain.stderr
    debug = opticite("--debug", "docs", "list", **env)
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and "SettingsError" in debug.stderr


def test_a_bad_setting_value_names_the_setting(tmp_path: Path) -> None:
    result = opticite("docs", "list", OPTICITE_DATA_DIR=str(tmp_path), OPTICITE_JOBS__CONCURRENCY="many")
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: invalid settings: jobs.concurrency: ")


def test_an_unreachable_job_queue_is_named_with_the_fix(tmp_path: Path, embed_url: str) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", pages=1)
    env = {
        "OPTICITE_DATA_DIR": str(tmp_path / "data"),
        "OPTICITE_RUNNER": "celery",
        "OPTICITE_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",  # nothing listens there
        "OPTICITE_STORE__ENGINE": "server",
        "OPTICITE_STORE__URL": f"http://127.0.0.1:{free_port()}",
        "OPTICITE_EMBEDDER__BACKEND": "http",
        "OPTICITE_EMBEDDER__URL": embed_url,
        "OPTICITE_EMBEDDER__DIM": str(EMBED_DIM),
    }
    result = opticite("ingest", str(pdf), "--kb", "x", **env)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = next(x for x in result.stderr.splitlines() if x.startswith("error:"))
    assert "the job queue (Redis) cannot be reached" in line and "OPTICITE_REDIS_URL" in line


def test_an_unexpected_error_is_one_line_naming_its_type() -> None:
    app = typer.Typer(cls=_Group)

    @app.command()
    def boom() -> None:
        raise RuntimeError("the disk is on fire")

    @app.command()
    def other() -> None: ...

    result = CliRunner().invoke(app, ["boom"])
    assert result.exit_code == 1
    assert result.stderr == "error: RuntimeError: the disk is on fire (--debug shows the traceback)\n"
