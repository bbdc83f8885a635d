"""A process environment without OPTICITE_* variables, for app fixtures wider than one test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def clean_env() -> Iterator[None]:
    """No OPTICITE_* variables while a module-scoped app reads its settings (the autouse fixture is per test)."""
    with pytest.MonkeyPatch.context() as mp:
        for key in [k for k in os.environ if k.startswith("OPTICITE_")]:
            mp.delenv(key)
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setenv("TRANSFORMERS_OFFLINE", "1")
        yield
