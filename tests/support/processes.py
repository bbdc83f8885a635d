"""The service as child processes: `opticite serve` and `opticite worker`, each in its own session
(so a kill takes its children too), started from nested settings overrides as `OPTICITE_*` variables.

Used by the tests that need a real worker (tests/api/test_runners.py, tests/api/test_celery.py),
the crash runs (tests/reliability/) and the benchmarks.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[2]
_SCRIPT = Path(sys.executable).parent / "opticite"
OPTICITE = [str(_SCRIPT)] if _SCRIPT.is_file() else [sys.executable, "-c", "from api.cli import main; main()"]


def flat_env(overrides: Mapping[str, Any], prefix: str = "OPTICITE_") -> dict[str, str]:
    """Nested settings overrides as `OPTICITE_A__B` environment variables."""
    env: dict[str, str] = {}
    for key, value in overrides.items():
        name = f"{prefix}{key.upper()}"
        if isinstance(value, Mapping):
            env |= flat_env(value, name + "__")
        elif isinstance(value, bool):
            env[name] = "true" if value else "false"
        elif isinstance(value, list | dict):
            env[name] = json.dumps(value)
        else:
            env[name] = str(value)
    return env


def clean_environ() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("OPTICITE_")}


class Process:
    """A child process in its own session (so a kill takes its children too), output in `log`."""

    def __init__(self, argv: list[str], env: Mapping[str, str], log: Path) -> None:
        self.argv, self.env, self.log = argv, dict(env), log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.wait_ready()

    def wait_ready(self) -> None:
        return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown hook runs, as in a power cut or an OOM kill."""
        if self.alive():
            os.killpg(self.pid, signal.SIGKILL)
            assert self.proc is not None
            self.proc.wait(30)

    def stop(self, timeout_s: float = 30) -> None:
        if not self.alive():
            return
        os.killpg(self.pid, signal.SIGTERM)
        assert self.proc is not None
        try:
            self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.is_file() else ""

    def _check_running(self, what: str) -> None:
        if not self.alive():
            raise RuntimeError(f"{what} exited during start-up:\n{self.tail()}")


class ApiProcess(Process):
    """`opticite serve --host HOST` on a fixed free port (kept across restarts); `url` reaches it
    over loopback (127.0.0.1 when it listens on every address)."""

    def __init__(
        self, overrides: Mapping[str, Any], log: Path, port: int | None = None, host: str = "127.0.0.1"
    ) -> None:
        self.port = port or free_port()
        self.url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{self.port}"
        argv = [*OPTICITE, "serve", "--host", host, "--port", str(self.port)]
        super().__init__(argv, clean_environ() | flat_env(overrides), log)

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_running("the API")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"the API did not answer /healthz in {timeout_s}s:\n{self.tail()}")

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60, **kwargs)


class WorkerProcess(Process):
    """`opticite worker`, ready once Celery logs that it consumes the queue."""

    def __init__(self, overrides: Mapping[str, Any], log: Path, concurrency: int = 2) -> None:
        argv = [*OPTICITE, "worker", "--concurrency", str(concurrency)]
        super().__init__(argv, clean_environ() | flat_env(overrides), log)

    def wait_ready(self, timeout_s: float = 120) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self._check_running("the worker")
            if self.log.read_text(errors="replace").count(" ready.") >= self.starts:
                return
            time.sleep(0.1)
        raise RuntimeError(f"the worker was not ready in {timeout_s}s:\n{self.tail()}")
