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
import tempfile
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from tests.support.load import search_load, upload_load

RESULTS = Path(__file__).resolve().parent / "results" / "load.json"


def rss_mb(pid: int) -> float:
    """Resident memory of the server process and its children."""
    proc = psutil.Process(pid)
    return round(sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]) / 2**20, 1)


def _settings_overrides(data_dir: Path, embedder: str, embed_url: str | None) -> dict[str, Any]:
    overrides: dict[str, Any] = {"data_dir": str(data_dir)}
    if embedder == "http":
        from tests.fakes.openai_server import EMBED_DIM

        overrides["embedder"] = {"backend": "http", "url": embed_url, "dim": EMBED_DIM}
    return overrides


def run(args: argparse.Namespace) -> dict[str, Any]:
    from tests.fakes.openai_server import FakeLlmServer
    from tests.support.documents import make_pdf
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
        help="local: the default embedder (e5) in the server process; http: a fake embeddings server",
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
