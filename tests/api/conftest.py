"""Fixtures for the service tests: a generated contract, the Redis URL (skipping with the reason when
Redis is unreachable) and the metadata DB on SQLite and PostgreSQL. Helpers live in tests/support/;
PostgreSQL's schema fixture is in tests/conftest.py."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.db import Database
from tests.support.documents import make_pdf
from tests.support.network import reachable


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "contract.pdf", pages=3)


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("OPTICITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if not reachable(url, 6379):
        pytest.skip(f"Redis not reachable at {url} (set OPTICITE_TEST_REDIS_URL)")
    return url.rsplit("/", 1)[0] + "/13"  # a dedicated db number, queues named per test


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Database:
    """The metadata DB, each test once on SQLite and once on PostgreSQL (skipped when unreachable)."""
    url = (
        f"sqlite:///{tmp_path}/m.db" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    )
    database = Database(url)
    database.create_all()
    request.addfinalizer(database.dispose)  # before the PostgreSQL schema is dropped
    return database
