"""Concurrent clients on loopback: searches for a fixed time and a burst of uploads, with latencies.

Shared by tests/reliability/test_load.py (a short run) and bench/load.py (the full one)."""

from __future__ import annotations

import asyncio
import random
import statistics
import time
from pathlib import Path
from typing import Any

import httpx

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
