"""api.components: the embedder's weights load once however many jobs start at the same moment."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import sentence_transformers

from api import components
from api.components import Components
from tests.support.servers import test_settings


class SlowModel:
    """Stands in for SentenceTransformer: counts constructions; loading takes a while, as it does."""

    made: list[SlowModel] = []
    lock = threading.Lock()

    def __init__(self, name: str, device: str | None = None) -> None:
        time.sleep(0.3)  # wide enough for a second thread to arrive mid-load
        with SlowModel.lock:
            SlowModel.made.append(self)

    def get_embedding_dimension(self) -> int:
        return 8


def test_two_first_uses_at_once_load_the_model_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentence_transformers, "SentenceTransformer", SlowModel)
    monkeypatch.setattr(components, "_EMBEDDERS", {})  # this process's real model stays untouched
    monkeypatch.setattr(SlowModel, "made", [])
    settings = test_settings(
        tmp_path / "data", embedder={"backend": "local", "model": "stand-in-model", "device": "cpu"}
    )
    jobs = [Components(settings), Components(settings)]  # two Services in one process, as two jobs
    start = threading.Barrier(len(jobs) * 2)

    def first_use(part: Components) -> Any:
        start.wait()
        embedder = part.embedder()
        return embedder.dim, embedder.model  # type: ignore[attr-defined]

    with ThreadPoolExecutor(len(jobs) * 2) as pool:
        results = list(pool.map(first_use, jobs * 2))
    assert len(SlowModel.made) == 1
    assert {dim for dim, _ in results} == {8} and all(model is SlowModel.made[0] for _, model in results)
