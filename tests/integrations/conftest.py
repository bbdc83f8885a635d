"""Airflow runs in its own virtualenv (`make airflow`: its pins conflict with the service's); these tests
run its Python as a child process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.processes import ROOT

AIRFLOW_PYTHON = ROOT / ".venv-airflow" / "bin" / "python"


@pytest.fixture(scope="session")
def airflow_python() -> Path:
    """.venv-airflow's Python; skips when absent, but fails under CI, which must run these tests."""
    if not AIRFLOW_PYTHON.is_file():
        reason = f"no Airflow virtualenv at {AIRFLOW_PYTHON.parent.parent}: run `make airflow`"
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the Airflow tests; `make test` installs it)")
        pytest.skip(reason)
    return AIRFLOW_PYTHON
