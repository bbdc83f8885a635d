"""The worker container's healthcheck, `opticite worker --check`, against a real worker on Redis:
healthy only while this host's worker runs and consumes the deployment's queue."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from api.worker_health import worker_consumes_queue
from tests.api.test_celery import ROOT, Worker
from tests.fakes.openai_server import FakeLlmServer
from tests.support.servers import test_settings

pytestmark = [pytest.mark.services, pytest.mark.slow]


def check(env: dict[str, str]) -> int:
    """`opticite worker --check` as the compose healthcheck runs it; its exit code."""
    command = [sys.executable, "-m", "api.cli", "worker", "--check"]
    return subprocess.run(command, cwd=ROOT, env=os.environ | env, capture_output=True, timeout=60).returncode


def test_worker_check_follows_the_worker_of_this_queue(
    tmp_path: Path, redis_url: str, fake_llm_server: FakeLlmServer
) -> None:
    queue = f"opticite-health-{uuid.uuid4().hex[:8]}"
    env = {
        "OPTICITE_DATA_DIR": str(tmp_path / "data"),
        "OPTICITE_RUNNER": "celery",
        "OPTICITE_REDIS_URL": redis_url,
        "OPTICITE_JOBS__CELERY_QUEUE": queue,
        "OPTICITE_JOBS__ALLOW_EMBEDDED_STORE_WITH_CELERY": "true",
        "OPTICITE_EMBEDDER__BACKEND": "http",
        "OPTICITE_EMBEDDER__URL": fake_llm_server.url,
    }
    jobs = {"celery_queue": queue, "allow_embedded_store_with_celery": True}
    settings = test_settings(tmp_path / "data", runner="celery", redis_url=redis_url, jobs=jobs)
    other_queue = settings.model_copy(
        update={"jobs": settings.jobs.model_copy(update={"celery_queue": "other"})}
    )
    assert not worker_consumes_queue(settings, timeout_s=1)
    assert check(env) == 1

    worker = Worker(env, tmp_path / "worker.log")
    worker.start()
    try:
        deadline = time.monotonic() + 120
        while not worker_consumes_queue(settings, timeout_s=2):
            assert worker.proc is not None and worker.proc.poll() is None, (
                tmp_path / "worker.log"
            ).read_text()
            assert time.monotonic() < deadline, "the worker never answered"
        assert check(env) == 0
        assert not worker_consumes_queue(other_queue, timeout_s=2)  # a worker of another queue is no help
    finally:
        worker.stop()
    assert check(env) == 1
