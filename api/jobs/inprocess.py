"""The in-process runner: asyncio tasks in this process, at most `jobs.concurrency` documents at once."""

from __future__ import annotations

import asyncio
import logging

from api import metrics
from api.db import unfinished_jobs
from api.jobs.steps import JobSteps

log = logging.getLogger(__name__)


class InProcessRunner:
    def __init__(self, steps: JobSteps, concurrency: int) -> None:
        self.steps = steps
        self.concurrency = concurrency
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._limit: asyncio.Semaphore | None = None

    async def start(self) -> None:
        self._limit = asyncio.Semaphore(self.concurrency)
        with self.steps.db.session() as s:
            pending = [job.id for job in unfinished_jobs(s)]
        for job_id in pending:  # resume: saved layouts mean only the missing pages are OCR'd
            self.submit(job_id)

    async def stop(self) -> None:
        tasks = [t for t in self._tasks.values() if not t.done()]
        for task in tasks:
            task.cancel()  # the job stays `running` in the DB and resumes at the next start
        await asyncio.gather(*tasks, return_exceptions=True)

    def submit(self, job_id: str) -> None:
        task = asyncio.get_running_loop().create_task(self._run(job_id), name=f"job-{job_id}")
        self._tasks[job_id] = task
        task.add_done_callback(
            lambda _t: self._tasks.pop(job_id, None) if self._tasks.get(job_id) is _t else None
        )

    async def _run(self, job_id: str) -> None:
        assert self._limit is not None, "start() the runner first"
        metrics.QUEUE_DEPTH.inc()
        async with self._limit:
            metrics.QUEUE_DEPTH.dec()
            await self.steps.run(job_id)

    def cancel(self, job_id: str) -> None:
        self.steps.cancel(job_id)

    async def wait_idle(self, job_id: str, timeout_s: float = 30.0) -> None:
        task = self._tasks.get(job_id)
        if task is not None:
            _, pending = await asyncio.wait({task}, timeout=timeout_s)
            if pending:
                log.warning("job %s still running after %ss", job_id, timeout_s)
