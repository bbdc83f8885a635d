"""Shared fixtures: the shared test data folder, a clean OPTICITE_* environment and a PostgreSQL schema."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from tests.support.documents import TESTDATA
from tests.support.network import reachable

# fake servers on loopback: fixtures `fake_vllm` (DeepSeek-OCR on vLLM) and `fake_llm` (OpenAI chat)
pytest_plugins = ["tests.fakes.vllm_server", "tests.fakes.openai_server"]


@pytest.fixture
def testdata() -> Path:
    """../shared/testdata next to the checkout; tests using it skip when it is absent."""
    if not TESTDATA.is_dir():
        pytest.skip(f"shared test data not found at {TESTDATA}")
    return TESTDATA


@pytest.fixture(autouse=True)
def _clean_opticite_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in list(os.environ):
        if key.startswith("OPTICITE_"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    yield


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    base = os.environ.get("OPTICITE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
    if not reachable(base, 5432):
        pytest.skip(f"PostgreSQL not reachable at {base} (set OPTICITE_TEST_POSTGRES_URL)")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in base else "?"
    yield f"{base}{sep}options=-csearch_path%3D{schema}"
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    engine.dispose()
