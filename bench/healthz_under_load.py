"""`/healthz` latency while the server works: does anything stall its event loop?

    .venv/bin/python -m bench.healthz_under_load [--pages 100] [--streams 200]

One API process (in-process runner) against the simulated vLLM (its own process, 16 slots, 0.2 s a
page). A probe thread asks `/healthz` every 50 ms on one kept-alive connection during each scenario:

- `scan_ingest`: a `--pages` page scanned PDF uploaded and ingested to `done` (render, encode, OCR
  requests, then Markdown, chunks, embedding, indexing);
- `ocr_x4`: four parallel `POST /v1/ocr` of a 12-page scan, twice over;
- `streams`: `--streams` open job event streams on one running ingest.

Reported per scenario: p50, p99 and max of `/healthz` in ms. Writes bench/results/healthz_under_load.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.ocr_throughput import fake_in_subprocess
from bench.service_throughput import base_env, process, scanned_pdf, wait_healthy
from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "healthz_under_load.json"
TERMINAL = {"done", "partial", "failed", "cancelled"}


@contextmanager
def probe(api: str, every_s: float = 0.05) -> Iterator[list[float]]:
    """Milliseconds of each `/healthz` answer while the block runs."""
    samples: list[float] = []
    stop = threading.Event()

    def loop() -> None:
        with httpx.Client(base_url=api, timeout=60) as client:  # one kept-alive connection
            while not stop.is_set():
                started = time.perf_counter()
                try:
                    client.get("/healthz").raise_for_status()
                except httpx.HTTPError:
                    samples.append(60_000.0)
                else:
                    samples.append((time.perf_counter() - started) * 1000)
                stop.wait(every_s)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return {
        "probes": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p99_ms": round(p99, 1),
        "max_ms": round(ordered[-1], 1),
    }


def upload(client: httpx.Client, pdf: Path, kb: str = "bench") -> str:
    with pdf.open("rb") as fh:
        reply = client.post(
            "/v1/documents", files={"file": (pdf.name, fh, "application/pdf")}, data={"kb": kb}
        )
    reply.raise_for_status()
    return str(reply.json()["job_id"])


def wait_done(client: httpx.Client, job_id: str) -> dict[str, Any]:
    """The job's end state, with the seconds to its last page OCR'd and to its end."""
    started, ocr_s = time.perf_counter(), None
    while True:
        job = client.get(f"/v1/jobs/{job_id}").json()
        if ocr_s is None and job["pages_done"] >= job["pages_total"]:
            ocr_s = round(time.perf_counter() - started, 1)
        if job["state"] in TERMINAL:
            return {"state": job["state"], "ocr_s": ocr_s, "done_s": round(time.perf_counter() - started, 1)}
        time.sleep(0.5)


def scan_ingest(api: str, pdf: Path) -> dict[str, Any]:
    with httpx.Client(base_url=api, timeout=600) as client:
        return wait_done(client, upload(client, pdf))


def ocr_x4(api: str, pdf: Path) -> dict[str, Any]:
    def one(_: int) -> None:
        with pdf.open("rb") as fh:
            httpx.post(
                api + "/v1/ocr", files={"file": (pdf.name, fh, "application/pdf")}, timeout=600
            ).raise_for_status()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(one, range(8)))
    return {"requests": 8}


def streams(api: str, pdf: Path, count: int) -> dict[str, Any]:
    """`count` event streams on one ingest, each read to its `done` event."""
    with httpx.Client(base_url=api, timeout=600) as client:
        job_id = upload(client, pdf, kb="streams")  # another kb: the same file is not deduplicated

    def follow(_: int) -> None:
        with httpx.stream("GET", f"{api}/v1/jobs/{job_id}/events", timeout=600) as reply:
            reply.raise_for_status()
            for line in reply.iter_lines():
                if line.startswith("event: done"):
                    return

    with ThreadPoolExecutor(count) as pool:
        list(pool.map(follow, range(count)))
    with httpx.Client(base_url=api, timeout=600) as client:
        return {"streams": count} | wait_done(client, job_id)


def measure(api: str, name: str, work: Callable[[], dict[str, Any] | None]) -> dict[str, Any]:
    started = time.perf_counter()
    with probe(api) as samples:
        extra = work() or {}
    row = {"scenario": name, "seconds": round(time.perf_counter() - started, 1), **summary(samples), **extra}
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--streams", type=int, default=200)
    parser.add_argument("--label", default="", help="a note stored with the result (e.g. before/after)")
    parser.add_argument("--scenarios", default="idle,scan_ingest,ocr_x4,streams")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        fake_in_subprocess(16, 0.2) as vllm_url,
    ):
        data = Path(tmp)
        big = scanned_pdf(data / f"scan-{args.pages}.pdf", args.pages)
        small = scanned_pdf(data / "scan-4.pdf", 4)
        medium = scanned_pdf(data / "scan-12.pdf", 12)
        env = base_env(data / "data", vllm_url, 16) | {
            "OPTICITE_HTTP__EVENT_STREAMS": str(args.streams + 16),
            "OPTICITE_HTTP__EVENT_STREAMS_PER_CLIENT": str(args.streams + 16),
            "OPTICITE_OCR_REQUEST__CONCURRENCY": "4",
        }
        port = free_port()
        with process(["-m", "api.cli", "serve", "--port", str(port)], env, data / "api.log"):
            api = f"http://127.0.0.1:{port}"
            wait_healthy(api)
            with httpx.Client(base_url=api, timeout=600) as client:  # warm: embedder and store loaded
                wait_done(client, upload(client, small))
            scenarios: dict[str, Callable[[], dict[str, Any] | None]] = {
                "idle": lambda: time.sleep(5),
                "scan_ingest": lambda: scan_ingest(api, big),
                "ocr_x4": lambda: ocr_x4(api, medium),
                "streams": lambda: streams(api, big, args.streams),
            }
            rows = [measure(api, name, scenarios[name]) for name in args.scenarios.split(",")]
    result = {
        "bench": "healthz_under_load",
        "command": f"python -m bench.healthz_under_load --pages {args.pages} --streams {args.streams} "
        f"--scenarios {args.scenarios}",
        "label": args.label,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "scenarios": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
