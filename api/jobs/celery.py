"""Celery on Redis: `start_job` fans a document out as page-batch tasks, the last batch queues `finalize`.

Tasks are acked late with prefetch 1, so a worker killed mid-task has its task redelivered
(after `jobs.visibility_timeout_s`); saved layouts make the redelivered batch skip pages already
OCR'd. Each worker process keeps one set of job steps and one event loop for all its tasks.

While a task of a job runs, its id is a member of the Redis set `running_key(job_id)`, so the API
can wait for a cancelled job's tasks to stop before it deletes the document's files.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
import redis.asyncio
from celery import Celery, Task
from celery.signals import worker_ready
from kombu.exceptions import OperationalError

from api.components import Components
from api.db import Database
from api.errors import ServiceUnavailable
from api.jobs.steps import JobSteps
from api.settings import Settings

log = logging.getLogger(__name__)
T = TypeVar("T")
START, OCR_BATCH, FINALIZE = "opticite.start_job", "opticite.ocr_batch", "opticite.finalize"


def create_celery(settings: Settings) -> Celery:
    vt = settings.jobs.visibility_timeout_s
    app = Celery("opticite", broker=settings.redis_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=settings.jobs.celery_queue,
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        # unacked messages of a dead worker come back after `vt`; scan for them every vt/2 s
        broker_transport_options={
            "visibility_timeout": vt,
            "unacked_restore_interval": max(1, vt // 2),
            "unacked_restore_throttle": 1,
        },
    )
    return app


def running_key(job_id: str) -> str:
    """The Redis set of the ids of this job's tasks that are running now."""
    return f"opticite:running:{job_id}"


class WorkerState:
    """One per worker process: the job steps, a loop thread for async steps, the running set."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.db = Database(settings.database_url)
        self.steps = JobSteps(self.db, Components(settings), settings)
        self.redis = redis.Redis.from_url(settings.redis_url)
        self._loop = asyncio.new_event_loop()
        threading.Thread(target=self._loop.run_forever, name="opticite-loop", daemon=True).start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    @contextmanager
    def running(self, job_id: str, task_id: str) -> Iterator[None]:
        """Mark a task of `job_id` running. A killed worker's mark expires with the visibility
        timeout, when Celery redelivers the task (same id), which marks and unmarks it again."""
        key = running_key(job_id)
        with self.redis.pipeline() as marks:
            marks.sadd(key, task_id)
            marks.expire(key, self.settings.jobs.visibility_timeout_s)
            marks.execute()
        try:
            yield
        finally:
            self.redis.srem(key, task_id)

    def warm_up(self) -> None:
        try:
            self.steps.components.knowledge_base()
        except Exception:  # the first task meets the same fault and records it on its job
            log.exception("worker warm-up failed")


def register_tasks(app: Celery, state: WorkerState) -> None:
    queue = state.settings.jobs.celery_queue
    steps = state.steps

    @app.task(name=START, bind=True)
    def start_job(task: Task, job_id: str) -> None:
        with state.running(job_id, str(task.request.id)):
            ctx = steps.begin(job_id)
            if ctx is None:
                return
            todo = [] if ctx.kind == "reindex" else steps.unfinished_pages(ctx.doc_id)
            if not todo:  # a redelivered start may find the claim taken by its killed first run
                if steps.claim_finalize(job_id, replay=True):
                    app.send_task(FINALIZE, args=[job_id], queue=queue)
                return
            steps.record_stage(job_id, "ocr")
            size = state.settings.jobs.page_batch_size
            for i in range(0, len(todo), size):
                app.send_task(OCR_BATCH, args=[job_id, todo[i : i + size]], queue=queue)

    @app.task(name=OCR_BATCH, bind=True)
    def ocr_batch(task: Task, job_id: str, pages: list[int]) -> None:
        with state.running(job_id, str(task.request.id)):
            if state.run(steps.run_batch(job_id, pages)):
                app.send_task(FINALIZE, args=[job_id], queue=queue)

    @app.task(name=FINALIZE, bind=True)
    def finalize(task: Task, job_id: str) -> None:
        with state.running(job_id, str(task.request.id)):
            state.run(steps.run_finalize(job_id))


class CeleryRunner:
    """Submits jobs to Celery; cancel marks the DB, which workers check between pages."""

    def __init__(self, settings: Settings, steps: JobSteps) -> None:
        self.settings = settings
        self.steps = steps
        self.app = create_celery(settings)
        self.redis = redis.asyncio.Redis.from_url(settings.redis_url)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.app.close()
        await self.redis.aclose()

    def submit(self, job_id: str) -> None:
        try:
            self.app.send_task(START, args=[job_id], queue=self.settings.jobs.celery_queue)
        except OperationalError as exc:
            raise _queue_unreachable(exc) from exc

    def cancel(self, job_id: str) -> None:
        self.steps.cancel(job_id)

    async def wait_idle(self, job_id: str, timeout_s: float = 30.0) -> None:
        """Until no task of the job runs: a cancelled batch stops at its next page boundary."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        try:
            while await self.redis.exists(running_key(job_id)):
                if loop.time() > deadline:
                    log.warning("job %s still has running tasks after %ss", job_id, timeout_s)
                    return
                await asyncio.sleep(0.1)
        except redis.ConnectionError as exc:
            raise _queue_unreachable(exc) from exc


def _queue_unreachable(exc: Exception) -> ServiceUnavailable:
    return ServiceUnavailable(
        f"the job queue (Redis) cannot be reached: {exc}; start Redis or fix redis_url (OPTICITE_REDIS_URL)"
    )


def run_worker(
    settings: Settings, concurrency: int = 4, pool: str = "threads", loglevel: str = "INFO"
) -> None:
    """`opticite worker`: consume the job queue until stopped. Threads share one embedded store."""
    app = create_celery(settings)
    state = WorkerState(settings)
    state.db.create_all()
    register_tasks(app, state)

    @worker_ready.connect(weak=False)
    def warm_up(**_: Any) -> None:
        # load the embedder and open the store now, not inside the first finalize task, whose
        # run time counts against the visibility timeout
        threading.Thread(target=state.warm_up, name="opticite-warm-up", daemon=True).start()

    argv = [
        "worker",
        f"--pool={pool}",
        f"--concurrency={concurrency}",
        "-Q",
        settings.jobs.celery_queue,
        f"--loglevel={loglevel}",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    app.worker_main(argv)
