"""Pages/s of a 100-page scanned PDF through the HTTP API against a simulated vLLM server.

    .venv/bin/python -m bench.service_throughput [--pages 100] [--slots 8] [--service-s 2.0]

The simulated server (the fake vLLM in capacity mode, its own process) serves `slots` pages at once,
each taking `service_s`, so its capacity is slots / service_s pages/s. Runs: the in-process runner
(one API process), then Celery on the local Redis with 1 and 2 worker processes. Reported per run:
OCR pages/s from upload to the last page OCR'd, as a fraction of the server's capacity, and the time
to `done` (chunks embedded and indexed). Writes bench/results/service_throughput.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx

from bench.ocr_throughput import fake_in_subprocess
from tests.support.documents import make_pdf
from tests.support.network import free_port

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "service_throughput.json"
REDIS_URL = os.environ.get("OPTICITE_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")


def base_env(data_dir: Path, vllm_url: str, in_flight: int) -> dict[str, str]:
    return {
        "OPTICITE_DATA_DIR": str(data_dir),
        "OPTICITE_DEEPSEEK__URL": vllm_url,
        "OPTICITE_DEEPSEEK__CONCURRENCY": str(in_flight),
        "OPTICITE_JOBS__PAGE_CONCURRENCY": str(in_flight),
        "OPTICITE_JOBS__PAGE_BATCH_SIZE": "10",
        "HF_HUB_OFFLINE": "1",
        "PYTHONUNBUFFERED": "1",
    }


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env=os.environ | env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def wait_healthy(url: str, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API at {url} did not start")


def scanned_pdf(path: Path, pages: int) -> Path:
    """A scan as a scanner writes it: each page a grayscale JPEG at 150 dpi, no text layer."""
    import pymupdf

    text_pdf = make_pdf(path.with_name("text.pdf"), pages=pages)
    out = pymupdf.open()
    with pymupdf.open(text_pdf) as doc:
        for page in doc:
            jpeg = page.get_pixmap(dpi=150, colorspace=pymupdf.csGRAY).tobytes("jpeg", jpg_quality=75)
            out.new_page(width=page.rect.width, height=page.rect.height).insert_image(page.rect, stream=jpeg)
    out.save(path)
    out.close()
    return path


def wait_workers_ready(logs: list[Path], timeout_s: float = 180) -> None:
    """Celery prints "ready." once a worker consumes; timing starts after that, not during start-up."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if all(log.exists() and b" ready." in log.read_bytes() for log in logs):
            return
        time.sleep(0.5)
    raise RuntimeError(f"workers did not become ready: {[str(p) for p in logs]}")


def ingest_and_time(api: str, pdf: Path, pages: int) -> dict[str, float]:
    """Upload, then poll the job: seconds to the last page OCR'd and to done."""
    with httpx.Client(base_url=api, timeout=120) as client:
        started = time.perf_counter()
        with pdf.open("rb") as fh:
            reply = client.post(
                "/v1/documents", files={"file": (pdf.name, fh, "application/pdf")}, data={"kb": "bench"}
            )
        reply.raise_for_status()
        job_id = reply.json()["job_id"]
        ocr_s = None
        while True:
            job = client.get(f"/v1/jobs/{job_id}").json()
            now = time.perf_counter() - started
            if ocr_s is None and job["pages_done"] >= pages:
                ocr_s = now
            if job["state"] in {"done", "partial", "failed", "cancelled"}:
                if job["state"] != "done":
                    raise RuntimeError(f"job ended {job['state']}: {job.get('error')}")
                return {"ocr_s": round(ocr_s or now, 2), "done_s": round(now, 2)}
            time.sleep(0.1)


def run(
    label: str, workers: int, pdf: Path, pages: int, vllm_url: str, in_flight: int, capacity: float
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        data = Path(tmp)
        env = base_env(data, vllm_url, in_flight)
        if workers:
            env |= {
                "OPTICITE_RUNNER": "celery",
                "OPTICITE_REDIS_URL": REDIS_URL,
                "OPTICITE_JOBS__CELERY_QUEUE": f"bench-{uuid.uuid4().hex[:8]}",
                # one document: only the worker that finalizes it opens the embedded store
                "OPTICITE_JOBS__ALLOW_EMBEDDED_STORE_WITH_CELERY": "true",
            }
            for n in range(workers):
                stack.enter_context(
                    process(
                        ["-m", "api.cli", "worker", "--concurrency", str(in_flight)],
                        env,
                        data / f"worker{n}.log",
                    )
                )
        port = free_port()
        stack.enter_context(process(["-m", "api.cli", "serve", "--port", str(port)], env, data / "api.log"))
        api = f"http://127.0.0.1:{port}"
        wait_healthy(api)
        wait_workers_ready([data / f"worker{n}.log" for n in range(workers)])
        times = ingest_and_time(api, pdf, pages)
    pages_per_s = pages / times["ocr_s"]
    row = {
        "run": label,
        "workers": workers,
        **times,
        "ocr_pages_per_s": round(pages_per_s, 2),
        "fraction_of_capacity": round(pages_per_s / capacity, 3),
    }
    print(json.dumps(row), flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--slots", type=int, default=8)
    parser.add_argument("--service-s", type=float, default=2.0)
    parser.add_argument("--runs", default="inprocess,celery1,celery2")
    args = parser.parse_args()
    capacity = args.slots / args.service_s
    with tempfile.TemporaryDirectory() as tmp, fake_in_subprocess(args.slots, args.service_s) as vllm_url:
        pdf = scanned_pdf(Path(tmp) / f"scan-{args.pages}.pdf", args.pages)
        workers = {"inprocess": 0, "celery1": 1, "celery2": 2}
        rows = [
            run(r, workers[r], pdf, args.pages, vllm_url, args.slots, capacity) for r in args.runs.split(",")
        ]
    result = {
        "bench": "service_throughput",
        "command": f"python -m bench.service_throughput --pages {args.pages} --slots {args.slots} "
        f"--service-s {args.service_s}",
        "server": {"slots": args.slots, "service_s": args.service_s, "capacity_pages_per_s": capacity},
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "runs": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
