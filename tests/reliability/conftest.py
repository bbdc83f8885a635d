"""Fixtures for the reliability tests: a fake embeddings server and a dedicated Redis database."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.fakes.openai_server import FakeLlmServer

REDIS_DB = 14  # the reliability tests' own Redis database; queues are named per test


@pytest.fixture(scope="session")
def embed_url() -> Iterator[str]:
    """OpenAI-compatible embeddings over HTTP, so no process here loads a model."""
    with FakeLlmServer() as fake:
        yield fake.url


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("OPTICITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 6379), timeout=1):
            pass
    except OSError:
        pytest.skip(f"Redis not reachable at {url} (set OPTICITE_TEST_REDIS_URL)")
    return url.rsplit("/", 1)[0] + f"/{REDIS_DB}"


__all__ = ["embed_url", "redis_url"]
