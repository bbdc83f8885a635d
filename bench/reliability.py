"""Crash and restart at full size: 20 documents ingesting while the API (in-process runner) or a
Celery worker is SIGKILLed at random points and restarted; compared with a clean run.

OCR goes to a fake vLLM in this process (one recorded reply per page, a fixed service time), so
every OCR request is counted per page image. Writes bench/results/reliability.json.

    .venv/bin/python -m bench.reliability                       # 20 documents, 4 random kills each
    .venv/bin/python -m bench.reliability --docs 6 --kills 2 --only api --out /tmp/rel.json
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import socket
import sys
import tempfile
import uuid
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from api.settings import load_settings
from tests.fakes.openai_server import FakeLlmServer
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.crash import (
    clean_chunks,
    crash_problems,
    make_corpus,
    run_with_kills,
    service_overrides,
)
from tests.support.processes import ApiProcess, Process, WorkerProcess
from tests.support.servers import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "reliability.json"
REDIS = "redis://127.0.0.1:6379/15"  # the bench's own Redis database


def _redis_up(url: str) -> bool:
    host_port = url.split("//", 1)[1].split("/", 1)[0]
    host, _, port = host_port.partition(":")
    try:
        with socket.create_connection((host, int(port or 6379)), timeout=1):
            return True
    except OSError:
        return False


def scenario(kind: str, folder: Path, args: argparse.Namespace, embed_url: str) -> dict[str, Any]:
    """One crash run (`api` or `celery`) against its clean twin; the run's figures and problems."""
    rng = random.Random(args.seed)
    delays = [round(rng.uniform(args.min_delay, args.max_delay), 2) for _ in range(args.kills)]
    corpus = make_corpus(folder / "corpus", args.docs, seed=args.seed, max_pages=args.max_pages)
    with ExitStack() as stack:
        fake = stack.enter_context(FakeVllm(replies=load_recorded_replies()[:1]))
        fake.capacity(args.slots, args.service_s)
        extra: dict[str, Any] = {}
        if kind == "celery":
            queue = f"opticite-bench-{uuid.uuid4().hex[:8]}"
            extra = {
                "runner": "celery",
                "redis_url": args.redis,
                "jobs": {
                    "celery_queue": queue,
                    "visibility_timeout_s": 6,
                    "page_batch_size": 2,
                    "allow_embedded_store_with_celery": True,
                },
            }
        overrides = service_overrides(folder / "data", fake.url, embed_url, **extra)
        clean = clean_chunks(folder / "clean", corpus, overrides)
        fake.reset()
        fake.capacity(args.slots, args.service_s)
        settings = load_settings(**overrides)
        victim: Process
        if kind == "api":
            victim = ApiProcess(overrides, folder / "api.log")
            victim.start()
            stack.callback(victim.stop)
            client = stack.enter_context(victim.client())
        else:
            victim = WorkerProcess(overrides, folder / "worker.log")
            victim.start()
            stack.callback(victim.stop)
            client = stack.enter_context(stack.enter_context(LiveServer(settings)).client())
        run = run_with_kills(victim, client, fake, corpus, delays, timeout_s=args.timeout)
        stack.close()  # every process stopped: the embedded store may be opened here
        problems = crash_problems(run, clean, settings.docs_dir, settings.store_config())
    return {
        "scenario": kind,
        "kill_delays_s": delays,
        "restarts": victim.starts - 1,
        **run.summary(),
        "clean_chunks": sum(clean.values()),
        "problems": problems,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--max-pages", type=int, default=4)
    parser.add_argument("--kills", type=int, default=4)
    parser.add_argument(
        "--min-delay", type=float, default=0.2, help="seconds after OCR resumes before a kill"
    )
    parser.add_argument("--max-delay", type=float, default=5.0)
    parser.add_argument("--slots", type=int, default=1, help="fake vLLM pages served at once")
    parser.add_argument("--service-s", type=float, default=1.5, help="fake vLLM seconds per page")
    parser.add_argument("--seed", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--only", choices=["api", "celery"])
    parser.add_argument("--redis", default=REDIS)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results: list[dict[str, Any]] = []
    with FakeLlmServer() as embeddings, tempfile.TemporaryDirectory(prefix="opticite-crash-") as tmp:
        for kind in ("api", "celery"):
            if args.only not in (None, kind):
                continue
            if kind == "celery" and not _redis_up(args.redis):
                results.append({"scenario": kind, "skipped": f"Redis not reachable at {args.redis}"})
                continue
            results.append(scenario(kind, Path(tmp) / kind, args, embeddings.url))
            print(json.dumps(results[-1], indent=2), flush=True)
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{round(psutil.virtual_memory().total / 2**30)} GiB",
        "command": "python -m bench.reliability " + " ".join(argv if argv is not None else sys.argv[1:]),
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
