"""Queries embedded by concurrent callers run as one batch.

Under load every search thread embeds its own short query, and a forward pass over one query costs
nearly as much as over a dozen (a few tokens each, the work is per layer, not per row). `QueryBatcher`
lets the first caller run at once; callers arriving while a pass runs wait, and the next of them runs
everything that has queued up, in one pass. A lone caller never waits, so one client's latency is
unchanged; with many clients the passes grow and the CPU serves more queries a second.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class _Query:
    __slots__ = ("text", "vector", "error", "done")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: list[float] = []
        self.error: BaseException | None = None
        self.done = False


class QueryBatcher:
    """`batcher(text)` -> `encode([text, ...])`'s vector for `text`, batched with concurrent callers'
    texts (at most `max_batch` a pass). An exception in a pass is raised in each of its callers."""

    def __init__(self, encode: Callable[[list[str]], list[list[float]]], max_batch: int = 32) -> None:
        self._encode = encode
        self._max_batch = max_batch
        self._pending: list[_Query] = []
        self._busy = False
        self._cond = threading.Condition()

    def __call__(self, text: str) -> list[float]:
        query = _Query(text)
        with self._cond:
            self._pending.append(query)
        while True:
            with self._cond:
                while self._busy and not query.done:
                    self._cond.wait()
                if query.done:
                    break
                self._busy = True  # this caller runs the next pass, its own query among the first queued
                batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            self._run(batch)
        if query.error is not None:
            raise query.error
        return query.vector

    def _run(self, batch: list[_Query]) -> None:
        try:
            vectors = self._encode([q.text for q in batch])
            for q, vector in zip(batch, vectors, strict=True):
                q.vector = vector
        except BaseException as exc:  # noqa: BLE001 - handed to every caller of the pass, re-raised there
            for q in batch:
                q.error = exc
        finally:
            with self._cond:
                for q in batch:
                    q.done = True
                self._busy = False
                self._cond.notify_all()
