"""Load on loopback: concurrent clients on /v1/search for a fixed time, then concurrent uploads.

The server runs as its own process (`opticite serve`); this process is the client. Reports the
error rate, p50/p95/p99 latency and the server's RSS before and after. Bounded in clients, time
and count; loopback only.

    .venv/bin/python -m bench.load                     # 50 clients x 60 s, 20 uploads
    .venv/bin/python -m bench.load --clients 10 --seconds 5 --uploads 4 --out /tmp/load.json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import tempfile
import time
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

QUERIES = [
    "payment terms invoice thirty days",
    "termination notice period",
    "confidential information five years",
    "governing law England",
    "liability cap twelve months fees",
    "warranties reasonable skill and care",
    "notices in writing",
    "assignment prior written consent",
    "bank transfer",
    "effective date clause",
]
RESULTS = Path(__file__).resolve().parent / "results" / "load.json"


def percentiles(latencies_s: list[float]) -> dict[str, float]:
    if not latencies_s:
        return {}
    ordered = sorted(latencies_s)

    def at(q: float) -> float:
        return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)

    return {
        "p50_ms": at(0.50),
        "p95_ms": at(0.95),
        "p99_ms": at(0.99),
        "max_ms": round(1000 * ordered[-1], 1),
        "mean_ms": round(1000 * statistics.fmean(ordered), 1),
    }


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children."""
    proc = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20, 1)


async def search_load(
    url: str,
    clients: int,
    seconds: float,
    headers: dict[str, str] | None = None,
    top_k: int = 10,
    keepalive_s: float = 5.0,
) -> dict[str, Any]:
    """`clients` loops posting /v1/search back to back for `seconds`; every non-200 is an error.

    `keepalive_s` is how long the client keeps an idle connection (httpx's default is 5 s, the same
    as uvicorn's keep-alive timeout, so a reused connection can meet the server's close)."""
    latencies: list[float] = []
    errors: dict[str, int] = {}
    deadline = time.monotonic() + seconds
    limits = httpx.Limits(
        max_connections=clients, max_keepalive_connections=clients, keepalive_expiry=keepalive_s
    )
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:

        async def client(n: int) -> None:
            rng = random.Random(n)
            while time.monotonic() < deadline:
                body = {"query": rng.choice(QUERIES), "top_k": top_k}
                started = time.monotonic()
                try:
                    reply = await http.post("/v1/search", json=body)
                    key = (
                        None
                        if reply.status_code == 200 and "results" in reply.json()
                        else f"HTTP {reply.status_code}"
                    )
                except httpx.HTTPError as exc:
                    key = type(exc).__name__
                latencies.append(time.monotonic() - started)
                if key:
                    errors[key] = errors.get(key, 0) + 1

        started = time.monotonic()
        await asyncio.gather(*(client(n) for n in range(clients)))
        elapsed = time.monotonic() - started
    total = len(latencies)
    return {
        "clients": clients,
        "seconds": round(elapsed, 1),
        "requests": total,
        "requests_per_s": round(total / elapsed, 1),
        "errors": errors,
        "error_rate": round(sum(errors.values()) / total, 4) if total else None,
        **percentiles(latencies),
    }


async def upload_load(
    url: str, paths: list[Path], headers: dict[str, str] | None = None, timeout_s: float = 600
) -> dict[str, Any]:
    """All `paths` uploaded at once; upload reply latency, then time until every job ended."""
    limits = httpx.Limits(max_connections=len(paths))
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=120) as http:

        async def one(path: Path) -> tuple[float, dict[str, Any] | str]:
            started = time.monotonic()
            try:
                reply = await http.post(
                    "/v1/documents", files={"file": (path.name, path.read_bytes(), "application/pdf")}
                )
            except httpx.HTTPError as exc:
                return time.monotonic() - started, type(exc).__name__
            body = reply.json() if reply.status_code == 202 else f"HTTP {reply.status_code}"
            return time.monotonic() - started, body

        started = time.monotonic()
        sent = await asyncio.gather(*(one(p) for p in paths))
        jobs = [body["job_id"] for _, body in sent if isinstance(body, dict)]
        states = await _wait_jobs(http, jobs, timeout_s)
        elapsed = time.monotonic() - started
    errors = [body for _, body in sent if not isinstance(body, dict)]
    return {
        "uploads": len(paths),
        "upload_errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "all_done_s": round(elapsed, 1),
        "job_states": states,
        **{k.replace("_ms", "_upload_ms"): v for k, v in percentiles([s for s, _ in sent]).items()},
    }


async def _wait_jobs(http: httpx.AsyncClient, jobs: list[str], timeout_s: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout_s
    while True:
        states = [(await http.get(f"/v1/jobs/{j}")).json()["state"] for j in jobs]
        if (
            all(s in ("done", "partial", "failed", "cancelled") for s in states)
            or time.monotonic() > deadline
        ):
            return {s: states.count(s) for s in sorted(set(states))}
        await asyncio.sleep(0.5)


def _settings_overrides(data_dir: Path, embedder: str, embed_url: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {"data_dir": str(data_dir)}
    if embedder == "http":
        from tests.fakes.openai_server import EMBED_DIM

        overrides["embedder"] = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    return overrides


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.api.conftest import make_pdf
    from tests.fakes.openai_server import FakeLlmServer
    from tests.support.processes import ApiProcess

    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="opticite-load-")))
        embed_url = stack.enter_context(FakeLlmServer()).url if args.embedder == "http" else None
        api = ApiProcess(_settings_overrides(folder / "data", args.embedder, embed_url), folder / "api.log")
        api.start()
        stack.callback(api.stop)
        seed_docs = [make_pdf(folder / f"seed{i}.pdf", pages=3, seed=f"seed {i}") for i in range(args.docs)]
        seeded = asyncio.run(upload_load(api.url, seed_docs))
        rss_before = rss_mb(api.pid)
        search = asyncio.run(search_load(api.url, args.clients, args.seconds, keepalive_s=args.keepalive_s))
        rss_after_search = rss_mb(api.pid)
        batch = [make_pdf(folder / f"up{i}.pdf", pages=2, seed=f"upload {i}") for i in range(args.uploads)]
        uploads = asyncio.run(upload_load(api.url, batch))
        log = api.log.read_text(errors="replace").splitlines()
        return {
            "date": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": f"{platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
            f"{round(psutil.virtual_memory().total / 2**30)} GiB; load avg {psutil.getloadavg()[0]:.1f}",
            "embedder": args.embedder,
            "client_keepalive_s": args.keepalive_s,
            "seed": seeded,
            "search": search,
            "upload": uploads,
            "rss_mb": {
                "before_search": rss_before,
                "after_search": rss_after_search,
                "after_uploads": rss_mb(api.pid),
            },
            "server_log_problems": [line for line in log if "ERROR" in line or "Error" in line][:20],
        }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--uploads", type=int, default=20)
    parser.add_argument("--docs", type=int, default=10, help="documents ingested before the search load")
    parser.add_argument(
        "--embedder",
        choices=["local", "http"],
        default="local",
        help="local: the bundled MiniLM in the server; http: a fake embeddings server",
    )
    parser.add_argument("--keepalive-s", type=float, default=5.0, help="client idle-connection expiry")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    result = run(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
