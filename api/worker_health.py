"""Whether a Celery worker is alive and consuming this deployment's queue: the worker container's
healthcheck (`opticite worker --check`), answered over the broker by the worker's own consumer."""

from __future__ import annotations

import socket

from api.jobs.celery import create_celery
from api.settings import Settings


def worker_consumes_queue(settings: Settings, hostname: str | None = None, timeout_s: float = 5.0) -> bool:
    """True when the worker `celery@hostname` (this host by default) answers within `timeout_s` and
    consumes `jobs.celery_queue`. A worker stuck without its broker connection, or one serving another
    queue, is not healthy; a worker busy with pages still answers (its consumer runs apart from tasks)."""
    app = create_celery(settings)
    try:
        node = f"celery@{hostname or socket.gethostname()}"
        replies = app.control.inspect(destination=[node], timeout=timeout_s).active_queues() or {}
    finally:
        app.close()
    return any(queue.get("name") == settings.jobs.celery_queue for queue in replies.get(node, []))
