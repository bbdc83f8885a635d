"""Job progress for event streams and waiting clients.

One poller reads every watched job in a single query per tick, in a worker thread, and wakes the
watchers whose job changed: a thousand open streams cost one query per tick, not a thousand queries
on the event loop. `StreamSlots` bounds the streams open at once, in total and per client.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Collection, Mapping
from functools import partial
from typing import Generic, Protocol, TypeVar

from api.errors import TooManyRequests

log = logging.getLogger(__name__)


class Progress(Protocol):
    """A job as its watchers see it (`JobPublic`, `ExtractJobPublic`): compared, and terminal at the end."""

    @property
    def terminal(self) -> bool: ...


Job = TypeVar("Job", bound=Progress)


class JobWatch(Generic[Job]):
    """Watchers of jobs by id, fed by one polling task that runs while anyone watches."""

    def __init__(
        self, read_jobs: Callable[[Collection[str]], Mapping[str, Job]], poll_s: float = 0.25
    ) -> None:
        self._read_jobs = read_jobs
        self.poll_s = poll_s
        self._watchers: Counter[str] = Counter()
        self._latest: dict[str, Job | None] = {}  # None: the job is gone
        self._changed: asyncio.Condition | None = None
        self._task: asyncio.Task[None] | None = None

    async def watch(self, job_id: str) -> AsyncIterator[Job]:
        """The job whenever it changes, ending with its terminal state (or when it is deleted)."""
        self._watchers[job_id] += 1
        changed = self._changed = self._changed or asyncio.Condition()
        if self._task is None:
            self._task = asyncio.create_task(self._poll())
        last: Job | None = None
        try:
            while True:
                async with changed:
                    await changed.wait_for(partial(self._differs, job_id, last))
                job = self._latest[job_id]
                if job is None:
                    return
                yield job
                last = job
                if job.terminal:
                    return
        finally:
            self._watchers[job_id] -= 1
            if self._watchers[job_id] <= 0:
                del self._watchers[job_id]
                self._latest.pop(job_id, None)

    def _differs(self, job_id: str, last: Job | None) -> bool:
        return job_id in self._latest and self._latest[job_id] != last

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while self._watchers:  # checked and cleared with no await between: a new watcher restarts it
            ids = list(self._watchers)
            try:
                jobs = await asyncio.to_thread(self._read_jobs, ids)
            except Exception:  # a DB fault: keep the streams open and try again on the next tick
                log.exception("reading the progress of %d watched jobs failed", len(ids))
            else:
                self._latest.update({job_id: jobs.get(job_id) for job_id in ids if job_id in self._watchers})
                if self._changed is not None:
                    async with self._changed:
                        self._changed.notify_all()
            await asyncio.sleep(self.poll_s)
        self._task = None


class StreamSlots:
    """Event streams open at once: at most `total`, and `per_client` for one client (key or address)."""

    def __init__(self, total: int, per_client: int) -> None:
        self.total, self.per_client = total, per_client
        self._open: Counter[str] = Counter()
        self._lock = threading.Lock()  # taken in the route's worker thread, given back on the loop

    def take(self, client: str) -> None:
        with self._lock:
            if self._open.total() >= self.total:
                raise TooManyRequests(f"{self.total} event streams are open on this server; try again later")
            if self._open[client] >= self.per_client:
                raise TooManyRequests(
                    f"this client has {self.per_client} event streams open; close one or poll "
                    "GET /v1/jobs/{id}"
                )
            self._open[client] += 1

    def give_back(self, client: str) -> None:
        with self._lock:
            self._open[client] -= 1
            if self._open[client] <= 0:
                del self._open[client]
