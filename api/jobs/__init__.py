"""Durable document jobs: the runner protocol and the runner the settings pick.

steps.py      JobSteps: every step of a job against the metadata DB and the pipeline
inprocess.py  InProcessRunner: asyncio tasks in the API process
celery.py     CeleryRunner (submits) and `run_worker` (`opticite worker`), on Redis
"""

from __future__ import annotations

from typing import Protocol

from api.jobs.celery import CeleryRunner
from api.jobs.inprocess import InProcessRunner
from api.jobs.steps import JobSteps
from api.settings import Settings


class JobRunner(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def submit(self, job_id: str) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    async def wait_idle(self, job_id: str, timeout_s: float = 30.0) -> None:
        """Return once no step of the job runs any more (or after `timeout_s`)."""
        ...


def build_runner(settings: Settings, steps: JobSteps) -> JobRunner:
    if settings.runner == "celery":
        return CeleryRunner(settings, steps)
    return InProcessRunner(steps, settings.jobs.concurrency)


__all__ = ["CeleryRunner", "InProcessRunner", "JobRunner", "JobSteps", "build_runner"]
