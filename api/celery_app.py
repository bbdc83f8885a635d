"""Celery on Redis: `start_job` fans a document out as page-batch tasks, the last batch queues `finalize`.

Tasks are acked late with prefetch 1, so a worker killed mid-task has its task redelivered
(after `jobs.visibility_timeout_s`); saved layouts make the redelivered batch skip pages already
OCR'd. Each worker process keeps one Services and one event loop for all its tasks.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, TypeVar

from celery import Celery
from celery.signals import worker_ready

from api.settings import Settings, load_settings

if TYPE_CHECKING:
    from api.services import Services

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


class WorkerState:
    """One per worker process: settings, lazily built Services, and a loop thread for async steps."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._services: Services | None = None
        self._loop = asyncio.new_event_loop()
        self._lock = threading.Lock()
        threading.Thread(target=self._loop.run_forever, name="opticite-loop", daemon=True).start()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def warm_up(self) -> None:
        try:
            self.services.components.knowledge_base()
        except Exception:  # the first task meets the same fault and records it on its job
            log.exception("worker warm-up failed")

    @property
    def services(self) -> Services:
        with self._lock:
            if self._services is None:
                from api.services import Services

                services = Services(self.settings, runner=CeleryRunner.for_worker(self.settings))
                services.db.create_all()
                self._services = services
            return self._services


def register_tasks(app: Celery, state: WorkerState) -> None:
    from api.jobs import JobSteps

    queue = state.settings.jobs.celery_queue

    def steps() -> JobSteps:
        return JobSteps(state.services)

    @app.task(name=START)
    def start_job(job_id: str) -> None:
        ctx = steps().begin(job_id)
        if ctx is None:
            return
        todo = [] if ctx.kind == "reindex" else steps().unfinished_pages(ctx.doc_id)
        if not todo:  # a redelivered start may find the claim taken by its killed first run
            if steps().claim_finalize(job_id, replay=True):
                app.send_task(FINALIZE, args=[job_id], queue=queue)
            return
        steps().record_stage(job_id, "ocr")
        size = state.settings.jobs.page_batch_size
        for i in range(0, len(todo), size):
            app.send_task(OCR_BATCH, args=[job_id, todo[i : i + size]], queue=queue)

    @app.task(name=OCR_BATCH)
    def ocr_batch(job_id: str, pages: list[int]) -> None:
        if state.run(steps().run_batch(job_id, pages)):
            app.send_task(FINALIZE, args=[job_id], queue=queue)

    @app.task(name=FINALIZE)
    def finalize(job_id: str) -> None:
        state.run(steps().run_finalize(job_id))


class CeleryRunner:
    """Submits jobs to Celery; cancel marks the DB, which workers check between pages."""

    def __init__(self, services: Services | None, settings: Settings | None = None) -> None:
        self.settings = settings or (services.settings if services else load_settings())
        self.services = services
        self.app = create_celery(self.settings)

    @classmethod
    def for_worker(cls, settings: Settings) -> CeleryRunner:
        return cls(None, settings)

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        self.app.close()

    def submit(self, job_id: str) -> None:
        self.app.send_task(START, args=[job_id], queue=self.settings.jobs.celery_queue)

    def _steps(self) -> Any:
        from api.jobs import JobSteps

        assert self.services is not None
        return JobSteps(self.services)

    def status(self, job_id: str) -> str:
        return str(self._steps().state(job_id))

    def cancel(self, job_id: str) -> None:
        self._steps().cancel(job_id)

    async def wait_idle(self, job_id: str, timeout_s: float = 30.0) -> None:
        await asyncio.sleep(0)  # workers stop at the next page boundary on their own


def worker_app(settings: Settings) -> Celery:
    """The Celery app of a worker process, with the tasks bound to this process's state."""
    app = create_celery(settings)
    state = WorkerState(settings)
    register_tasks(app, state)

    @worker_ready.connect(weak=False)
    def warm_up(**_: Any) -> None:
        # load the embedder and open the store now, not inside the first finalize task, whose
        # run time counts against the visibility timeout
        threading.Thread(target=state.warm_up, name="opticite-warm-up", daemon=True).start()

    return app


def run_worker(
    settings: Settings, concurrency: int = 4, pool: str = "threads", loglevel: str = "INFO"
) -> None:
    """`opticite worker`: consume the job queue until stopped. Threads share one embedded store."""
    app = worker_app(settings)
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


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO)
    run_worker(load_settings(), concurrency=int(sys.argv[1]) if len(sys.argv) > 1 else 4)
