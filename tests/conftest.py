"""Shared fixtures: the shared test data folder and a clean OPTICITE_* environment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

# fake servers on loopback: fixtures `fake_vllm` (DeepSeek-OCR on vLLM) and `fake_llm` (OpenAI chat)
pytest_plugins = ["tests.fakes.vllm_server", "tests.fakes.openai_server"]

TESTDATA = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


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
