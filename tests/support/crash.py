"""The service as separate processes for crash runs: `opticite serve` and `opticite worker`, SIGKILLed
at chosen points and restarted, with the checks that nothing was lost, duplicated or OCR'd twice.

Shared by tests/reliability/test_crash.py (a reduced run) and bench/reliability.py (the full one);
the processes themselves are tests/support/processes.py.
OCR goes to a fake vLLM in the calling process, so every OCR request is seen and counted there.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from api.settings import load_settings
from retrieval.store import VectorStore
from tests.fakes.openai_server import EMBED_DIM
from tests.fakes.vllm_server import FakeVllm, request_image_and_prompt
from tests.support.documents import make_pdf
from tests.support.processes import Process
from tests.support.servers import LiveServer, upload

TERMINAL = frozenset({"done", "partial", "failed", "cancelled"})


def make_corpus(
    folder: Path, count: int, seed: int = 7, max_pages: int = 4, scanned_every: int = 2
) -> list[Path]:
    """`count` small contract PDFs of 1..max_pages pages; every `scanned_every`-th one scanned (needs OCR)."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    return [
        make_pdf(
            folder / f"doc{i:02d}.pdf",
            pages=rng.randint(1, max_pages),
            scanned=i % scanned_every == 0,
            seed=f"doc {i}",
        )
        for i in range(count)
    ]


def upload_all(client: httpx.Client, paths: list[Path], kb: str = "crash") -> dict[str, dict[str, Any]]:
    subs: dict[str, dict[str, Any]] = {}
    for path in paths:
        reply = upload(client, path, kb=kb)
        assert reply.status_code == 202, reply.text
        subs[path.name] = reply.json()
    return subs


def job_states(client: httpx.Client, subs: Mapping[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: client.get(f"/v1/jobs/{sub['job_id']}").json() for name, sub in subs.items()}


def wait_terminal(
    client: httpx.Client, subs: Mapping[str, dict[str, Any]], timeout_s: float
) -> dict[str, Any]:
    """Every document's detail once all jobs ended; raises with the stuck ones after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        jobs = job_states(client, subs)
        if all(job["state"] in TERMINAL for job in jobs.values()):
            return {
                name: client.get(f"/v1/documents/{sub['document_id']}").json() for name, sub in subs.items()
            }
        if time.monotonic() > deadline:
            stuck = {
                n: (j["state"], j["stage"], j["pages_done"])
                for n, j in jobs.items()
                if j["state"] not in TERMINAL
            }
            raise AssertionError(f"jobs not finished after {timeout_s}s: {stuck}")
        time.sleep(0.2)


def image_hash(body: Mapping[str, Any]) -> str:
    image, _ = request_image_and_prompt(dict(body))
    return hashlib.sha256(image.encode()).hexdigest()[:16]


def repeated_without_kill(hashes: list[str], marks: list[int]) -> list[str]:
    """Pages requested again with no kill in between: work that was done and then redone.

    `marks[k]` is how many requests the fake had seen right after kill k; a repeat is only
    legitimate when a kill falls between the two requests (the first never finished).
    """
    last: dict[str, int] = {}
    repeated: list[str] = []
    for i, h in enumerate(hashes):
        if h in last and not any(last[h] < m <= i for m in marks):
            repeated.append(h)
        last[h] = i
    return repeated


@dataclass
class CrashRun:
    """What a run with kills produced, for the assertions and the bench JSON."""

    documents: dict[str, Any] = field(default_factory=dict)
    kills: list[dict[str, Any]] = field(default_factory=list)
    ocr_hashes: list[str] = field(default_factory=list)
    marks: list[int] = field(default_factory=list)
    seconds: float = 0.0
    stuck: str | None = None  # jobs that had not ended by the deadline

    def summary(self) -> dict[str, Any]:
        docs = self.documents.values()
        return {
            "documents": len(self.documents),
            "pages": sum(d["pages"] for d in docs),
            "chunks": sum(d["chunks"] for d in docs),
            "statuses": dict(Counter(d["status"] for d in docs)),
            "kills": self.kills,
            "ocr_requests": len(self.ocr_hashes),
            "distinct_pages_ocrd": len(set(self.ocr_hashes)),
            "repeated_without_kill": len(repeated_without_kill(self.ocr_hashes, self.marks)),
            "seconds": round(self.seconds, 1),
        }


def run_with_kills(
    victim: Process,
    client: httpx.Client,
    fake: FakeVllm,
    corpus: list[Path],
    delays_s: list[float],
    timeout_s: float = 300,
) -> CrashRun:
    """Upload `corpus`, then for each delay: wait for OCR to be under way, wait the delay, SIGKILL
    `victim` and restart it. Returns once every job has ended."""
    started = time.monotonic()
    run = CrashRun()
    subs = upload_all(client, corpus)
    for delay in delays_s:
        seen = len(fake.requests)

        def resumed(seen: int = seen) -> bool:
            return len(fake.requests) > seen or _all_ended(client, subs)

        _wait_for(resumed, 60, "OCR after a (re)start")
        time.sleep(delay)
        jobs = job_states(client, subs)
        if all(job["state"] in TERMINAL for job in jobs.values()):
            break  # the work ended before this kill point
        victim.kill()
        time.sleep(0.2)  # requests the dead process had sent are in the fake's list by now
        run.marks.append(len(fake.requests))
        run.kills.append(
            {
                "after_s": round(time.monotonic() - started, 2),
                "delay_s": round(delay, 2),
                "pages_done": sum(j["pages_done"] for j in jobs.values()),
                "ocr_requests": len(fake.requests),
            }
        )
        victim.start()
    try:
        run.documents = wait_terminal(client, subs, timeout_s)
    except AssertionError as exc:  # recorded as a problem of the run, not a crash of the bench
        run.stuck = str(exc)
        run.documents = {
            n: client.get(f"/v1/documents/{sub['document_id']}").json() for n, sub in subs.items()
        }
    run.ocr_hashes = [image_hash(body) for body in list(fake.requests)]
    run.seconds = time.monotonic() - started
    return run


def _all_ended(client: httpx.Client, subs: Mapping[str, dict[str, Any]]) -> bool:
    return all(job["state"] in TERMINAL for job in job_states(client, subs).values())


def _wait_for(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def ocr_log_counts(docs_dir: Path, doc_id: str) -> Counter[int]:
    """OCR calls per page from the document's ocr.log (one line per page OCR'd and saved)."""
    path = docs_dir / doc_id / "ocr.log"
    lines = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    return Counter(int(line.split("\t")[0]) for line in lines if line.strip())


def service_overrides(data_dir: Path, vllm_url: str, embed_url: str, **extra: Any) -> dict[str, Any]:
    """Settings for a crash run: DeepSeek on the fake vLLM, embeddings from the fake OpenAI server."""
    overrides: dict[str, Any] = {
        "data_dir": str(data_dir),
        "deepseek": {
            "url": vllm_url,
            "concurrency": 2,
            "retries": 1,
            "backoff_s": 0.05,
            "read_timeout_s": 30,
        },
        "jobs": {"concurrency": 2, "page_concurrency": 2},
        "embedder": {"backend": "http", "url": embed_url, "dim": EMBED_DIM},
    }
    for key, value in extra.items():
        overrides[key] = overrides.get(key, {}) | value if isinstance(value, dict) else value
    return overrides


def clean_chunks(data_dir: Path, corpus: list[Path], overrides: dict[str, Any]) -> dict[str, int]:
    """Chunks per file from an uninterrupted in-process run of the same settings (no kills)."""
    settings = load_settings(**(overrides | {"data_dir": str(data_dir), "runner": "inprocess"}))
    with LiveServer(settings) as server, server.client() as client:
        docs = wait_terminal(client, upload_all(client, corpus), timeout_s=600)
    statuses = {d["status"] for d in docs.values()}
    if statuses != {"done"}:
        raise AssertionError(f"the clean run did not finish cleanly: {statuses}")
    return {name: doc["chunks"] for name, doc in docs.items()}


def crash_problems(
    run: CrashRun, clean: Mapping[str, int], docs_dir: Path, store_config: Any
) -> dict[str, Any]:
    """Everything a crashed run got wrong against a clean one; empty when nothing was lost or redone."""
    docs = run.documents
    problems: dict[str, Any] = {
        "stuck": run.stuck,
        "not_done": {n: d["status"] for n, d in docs.items() if d["status"] != "done"},
        "chunks_differ": {
            n: (d["chunks"], clean.get(n)) for n, d in docs.items() if d["chunks"] != clean.get(n)
        },
        "missing": sorted(set(clean) - set(docs)),
        "pages_not_done": {
            n: bad
            for n, d in docs.items()
            if (bad := [p["page"] for p in d["page_details"] if p["status"] != "done"])
        },
        "repeated_without_kill": repeated_without_kill(run.ocr_hashes, run.marks),
    }
    stored = stored_chunks(store_config, EMBED_DIM, [d["id"] for d in docs.values()])
    problems["store_points_differ"] = {
        n: (stored[d["id"]], d["chunks"]) for n, d in docs.items() if stored[d["id"]] != d["chunks"]
    }
    logs = {n: ocr_log_counts(docs_dir, d["id"]) for n, d in docs.items()}
    problems["ocr_log_repeats"] = {
        n: repeats for n, counts in logs.items() if (repeats := [p for p, c in counts.items() if c > 1])
    }
    return {key: value for key, value in problems.items() if value}


def stored_chunks(store_config: Any, dim: int, doc_ids: list[str]) -> dict[str, int]:
    """Points per document in the embedded store; open it only once every process has stopped."""
    store = VectorStore(store_config, dim)
    try:
        return {doc_id: store.count(doc_id=doc_id) for doc_id in doc_ids}
    finally:
        store.close()
