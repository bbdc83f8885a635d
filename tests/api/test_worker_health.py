"""The worker container's healthcheck, `opticite worker --check`, against a real worker on Redis:
healthy only while this host's worker runs and consumes the deployment's queue."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from api.worker_health import worker_consumes_queue
from tests.fakes.openai_server import FakeLlmServer
from tests.support.processes import ROOT, WorkerProcess, clean_environ, flat_env
from tests.support.servers import test_settings

pytestmark = [pytest.mark.services, pytest.mark.slow]


def check(overrides: dict[str, Any]) -> int:
    """`opticite worker --check` as the compose healthcheck runs it; its exit code."""
    command = [sys.executable, "-m", "api.cli", "worker", "--check"]
    env = clean_environ() | flat_env(overrides)
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=60).returncode


def test_worker_check_follows_the_worker_of_this_queue(
    tmp_path: Path, redis_url: str, fake_llm_server: FakeLlmServer
) -> None:
    queue = f"opticite-health-{uuid.uuid4().hex[:8]}"
    jobs = {"celery_queue": queue, "allow_embedded_store_with_celery": True}
    embedder = {"backend": "http", "url": fake_llm_server.url}
    overrides = {
        "data_dir": tmp_path / "data",
        "runner": "celery",
        "redis_url": redis_url,
        "jobs": jobs,
        "embedder": embedder,
    }
    settings = test_settings(tmp_path / "data", runner="celery", redis_url=redis_url, jobs=jobs)
    other_queue = settings.model_copy(
        update={"jobs": settings.jobs.model_copy(update={"celery_queue": "other"})}
    )
    assert not worker_consumes_queue(settings, timeout_s=1)
    assert check(overrides) == 1

    worker = WorkerProcess(overrides, tmp_path / "worker.log")
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while not worker_consumes_queue(settings, timeout_s=2):
            assert worker.proc is not None and worker.proc.poll() is None, (
                tmp_path / "worker.log"
            ).read_text()
            assert time.monotonic() < deadline, "the worker never answered"
        assert check(overrides) == 0
        assert not worker_consumes_queue(other_queue, timeout_s=2)  # a worker of another queue is no help
    finally:
        worker.stop()
    assert check(overrides) == 1
