"""QueryBatcher: concurrent callers' queries share a pass, each gets its own vector, errors reach every caller."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

from retrieval.e5 import E5Embedder
from retrieval.query_batch import QueryBatcher


class SlowEncoder:
    """Vectors that name their text; the first pass blocks until released, so others queue behind it."""

    def __init__(self) -> None:
        self.passes: list[list[str]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()

    def __call__(self, texts: list[str]) -> list[list[float]]:
        self.passes.append(list(texts))
        if len(self.passes) == 1:
            self.first_started.set()
            assert self.release.wait(30)
        if "boom" in texts:
            raise RuntimeError("encoder failed")
        return [[float(len(t)), float(ord(t[0]))] for t in texts]


def _queue_behind_first(batcher: QueryBatcher, encoder: SlowEncoder, texts: list[str]) -> list[object]:
    """Run texts[0] alone (blocked), queue the rest behind it, then release; the results in order."""
    with ThreadPoolExecutor(len(texts)) as pool:
        first = pool.submit(batcher, texts[0])
        assert encoder.first_started.wait(30)
        rest = [pool.submit(batcher, t) for t in texts[1:]]
        deadline = time.monotonic() + 30
        while len(batcher._pending) < len(rest) and time.monotonic() < deadline:  # all queued behind it
            time.sleep(0.01)
        encoder.release.set()
        futures = [first, *rest]
        return [f.exception(30) or f.result() for f in futures]


def test_a_lone_query_runs_at_once_and_alone() -> None:
    encoder = SlowEncoder()
    encoder.release.set()
    assert QueryBatcher(encoder)("abc") == [3.0, 97.0]
    assert encoder.passes == [["abc"]]


def test_queries_queued_behind_a_pass_share_the_next_one() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder)
    texts = ["a", "bb", "ccc", "dddd", "eeeee"]
    results = _queue_behind_first(batcher, encoder, texts)
    assert results == [[float(len(t)), float(ord(t[0]))] for t in texts]  # each caller its own vector
    assert encoder.passes[0] == ["a"]
    assert sorted(encoder.passes[1]) == texts[1:]  # the four waiting queries: one pass
    assert len(encoder.passes) == 2


def test_passes_are_capped_at_max_batch() -> None:
    encoder = SlowEncoder()
    texts = ["first", *[f"q{i}" for i in range(7)]]
    results = _queue_behind_first(QueryBatcher(encoder, max_batch=3), encoder, texts)
    assert results == [[float(len(t)), float(ord(t[0]))] for t in texts]
    assert [len(p) for p in encoder.passes] == [1, 3, 3, 1]


def test_an_error_reaches_the_callers_of_its_pass_only() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder)
    results = _queue_behind_first(batcher, encoder, ["ok", "boom", "fine"])
    assert results[0] == [2.0, 111.0]  # the first pass, before the failing one
    assert all(isinstance(r, RuntimeError) for r in results[1:])
    assert batcher("later") == [5.0, 108.0]  # the batcher is not left busy


def test_e5_queries_embedded_concurrently_equal_one_at_a_time() -> None:
    e5 = E5Embedder()
    texts = [f"which law governs clause {i}?" for i in range(8)] + ["管辖法律是什么？"]
    alone = [e5.embed_query(t) for t in texts]
    with ThreadPoolExecutor(len(texts)) as pool:
        together = list(pool.map(e5.embed_query, texts))
    for a, b in zip(alone, together, strict=True):
        assert sum(x * y for x, y in zip(a, b, strict=True)) > 0.9999
