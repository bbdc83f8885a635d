"""The service's DeepSeek path (render, encode, request, parse, save) against a simulated vLLM server,
on a given number of cores: share of the server's capacity and client CPU-ms per page.

    .venv/bin/python -m bench.ocr_service_path --slots 40 --service-s 2.0 --cores 1,2,4,8,16

The simulated server (the fake vLLM in capacity mode, its own process, not counted) serves `slots`
pages at once, `service_s` each: capacity slots / service_s pages/s. Each level runs
`Pipeline.ocr_pages` on a scanned PDF (text-dense pages put through `scan_copy`: 200 dpi grey, turned,
noisy, JPEG) in a fresh process pinned to the first `cores` CPUs (`os.sched_setaffinity`, which the
render pool's workers inherit and size themselves by). CPU time is the pinned process tree's
(psutil), from the first page to the last, the pool's start-up excluded, and split into the event
loop's process and the render pool's. Writes bench/results/ocr_service_path.json.

To compare with another version of the code in one run, extract its `ingest` package and pass it:

    git archive COMMIT ingest | tar -x -C /tmp/before
    .venv/bin/python -m bench.ocr_service_path --cores 1 --baseline /tmp/before --repeat 2

Each level then runs with both, alternating which goes first; `summary` has the means.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

import psutil
import pymupdf

from bench.scan_copy import scan_copy
from tests.fakes.vllm_server import RECORDED_DIR, FakeVllm, load_recorded_replies

RESULTS = Path(__file__).parent / "results" / "ocr_service_path.json"
PARAGRAPH = (
    "{n}. The Supplier shall deliver the Products to the Delivery Location in accordance with the "
    "Purchase Order, and title and risk of loss shall pass to the Purchaser upon delivery. Either party "
    "may terminate this Agreement upon sixty (60) days' prior written notice if the other party breaches "
    "any material provision and fails to cure such breach within thirty (30) days of notice thereof."
)


def scanned_pdf(path: Path, pages: int) -> Path:
    """`pages` scanned contract pages (four distinct scans repeated: scanning is slow and all look alike)."""
    text = pymupdf.open()
    for p in range(4):
        page = text.new_page(width=612, height=792)
        body = "\n\n".join(PARAGRAPH.format(n=10 * p + i + 1) for i in range(9))
        page.insert_textbox(pymupdf.Rect(72, 72, 540, 740), body, fontsize=10.5)
    scans = [scan_copy(text[p], p + 1, seed=p).image_png for p in range(4)]
    out = pymupdf.open()
    for n in range(pages):
        page = out.new_page(width=612, height=792)
        page.insert_image(page.rect, stream=scans[n % 4])
    out.save(path)
    return path


def _serve(slots: int, service_s: float, replies_dir: str, ports: mp.Queue, stop: EventType) -> None:
    os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[-1:])  # the last core; levels take the first
    with FakeVllm(replies=load_recorded_replies(Path(replies_dir))) as fake:
        fake.capacity(slots, service_s)
        ports.put(fake.port)
        stop.wait()


@contextmanager
def fake_server(slots: int, service_s: float, replies_dir: Path) -> Iterator[str]:
    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_serve, args=(slots, service_s, str(replies_dir), ports, stop), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=60)}/v1"
    finally:
        stop.set()
        proc.join(timeout=10)


def process_cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def tree_cpu_s(proc: psutil.Process) -> float:
    total = 0.0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.NoSuchProcess:
            pass
    return total


async def run_level(pdf: Path, url: str, mode: str, in_flight: int, work: Path) -> dict[str, Any]:
    """One level, inside the pinned process."""
    from ingest.chunking import ChunkingConfig
    from ingest.ocr.chat_server import build_client
    from ingest.ocr.deepseek import DeepSeekConfig, DeepSeekEngine
    from ingest.ocr.engine import OcrOptions
    from ingest.ocr.router import OcrRouter
    from ingest.pipeline import DocumentFiles, Hooks, Pipeline
    from ingest.render_pool import render_in_pool
    from ingest.sources import SourceConfig

    cores = len(os.sched_getaffinity(0))
    # start every render worker before the clock (spawned processes import PyMuPDF and OpenCV once)
    await asyncio.gather(*(asyncio.to_thread(render_in_pool, str(pdf), 1, 36) for _ in range(2 * cores)))
    config = DeepSeekConfig(url=url, concurrency=in_flight, read_timeout_s=300)
    options = OcrOptions(engine="deepseek", mode=mode)  # type: ignore[arg-type]
    async with build_client(config) as client:
        router = OcrRouter({"deepseek": DeepSeekEngine(config, client)}, cpu_fallback_on_error=False)
        pipeline = Pipeline(SourceConfig(), router, ChunkingConfig(), None, len, in_flight)
        files = DocumentFiles(work / "doc")
        me = psutil.Process()
        cpu0, main0, t0 = tree_cpu_s(me), process_cpu_s(me), time.perf_counter()
        outcomes = await pipeline.ocr_pages(pdf, files, options, Hooks())
        seconds, cpu = time.perf_counter() - t0, tree_cpu_s(me) - cpu0
        main_cpu = process_cpu_s(me) - main0
    failed = [o.page for o in outcomes if o.status == "failed"]
    return {
        "cores": cores,
        "mode": mode,
        "pages": len(outcomes),
        "failed": len(failed),
        "seconds": round(seconds, 2),
        "pages_per_s": round(len(outcomes) / seconds, 2),
        "client_cpu_ms_per_page": round(1000 * cpu / len(outcomes), 1),
        # of which the event loop's process (HTTP, base64, JSON, parsing, saving) and the render pool's
        "main_cpu_ms_per_page": round(1000 * main_cpu / len(outcomes), 1),
        "render_cpu_ms_per_page": round(1000 * (cpu - main_cpu) / len(outcomes), 1),
    }


def pinned_level(
    pdf: Path, url: str, mode: str, in_flight: int, cores: int, ingest_from: Path | None = None
) -> dict[str, Any]:
    """One level in a fresh process pinned to `cores` CPUs; `ingest_from`: a folder holding another
    version's `ingest` package to import instead of this tree's (the bench itself stays this tree's)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "row.json"
        first = f"sys.path.insert(0, {str(ingest_from)!r});" if ingest_from else ""
        code = (
            f"import asyncio, json, os, sys; from pathlib import Path;{first}"
            f"os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:{cores}]);"
            "from bench.ocr_service_path import run_level;"
            f"row = asyncio.run(run_level(Path({str(pdf)!r}), {url!r}, {mode!r}, {in_flight}, Path({tmp!r})));"
            f"Path({str(out)!r}).write_text(json.dumps(row))"
        )
        subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])
        return dict(json.loads(out.read_text()))


def summarize(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean CPU-ms per page and share of capacity per (mode, cores, code), over the repeats."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault((row["mode"], row["cores"], row["code"]), []).append(row)
    keys = (
        "client_cpu_ms_per_page",
        "main_cpu_ms_per_page",
        "render_cpu_ms_per_page",
        "fraction_of_capacity",
    )
    return [
        {"mode": mode, "cores": cores, "code": code, "runs": len(group)}
        | {key: round(sum(r.get(key, 0.0) for r in group) / len(group), 3) for key in keys}
        for (mode, cores, code), group in groups.items()
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=40)
    parser.add_argument("--service-s", type=float, default=2.0)
    parser.add_argument("--cores", default="1,2,4,8,16", help="CPU counts to pin the service path to")
    parser.add_argument("--modes", default="gundam,base")
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--in-flight", type=int, default=0, help="pages in flight (default: 1.5 x slots)")
    parser.add_argument(
        "--replies", type=Path, default=RECORDED_DIR, help="recorded DeepSeek outputs to replay"
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        help="a folder holding another version's ingest package (git archive COMMIT ingest | tar -x -C DIR): "
        "each level also runs with it, interleaved with this tree's",
    )
    parser.add_argument("--repeat", type=int, default=1, help="runs of each level (interleaved)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    capacity = args.slots / args.service_s
    in_flight = args.in_flight or round(1.5 * args.slots)
    available = len(os.sched_getaffinity(0))
    rows = []
    with tempfile.TemporaryDirectory() as tmp, fake_server(args.slots, args.service_s, args.replies) as url:
        pdf = scanned_pdf(Path(tmp) / "scan.pdf", args.pages)
        codes: list[tuple[str, Path | None]] = [("this tree", None)]
        if args.baseline:
            codes.insert(0, ("baseline", args.baseline.resolve()))
        for mode in args.modes.split(","):
            for cores in (int(c) for c in args.cores.split(",")):
                if cores > available - 1:  # one core stays with the simulated server
                    continue
                for run in range(args.repeat):
                    for label, ingest_from in codes if run % 2 == 0 else codes[::-1]:
                        row = pinned_level(pdf, url, mode, in_flight, cores, ingest_from)
                        row["fraction_of_capacity"] = round(row["pages_per_s"] / capacity, 3)
                        rows.append({"code": label, "run": run, **row} if args.baseline else row)
                        print(json.dumps(rows[-1]), flush=True)
    result = {
        "bench": "ocr_service_path",
        "command": f"python -m bench.ocr_service_path --slots {args.slots} --service-s {args.service_s} "
        f"--cores {args.cores} --modes {args.modes} --pages {args.pages}"
        + (f" --baseline {args.baseline} --repeat {args.repeat}" if args.baseline else ""),
        "server": {"slots": args.slots, "service_s": args.service_s, "capacity_pages_per_s": capacity},
        "in_flight": in_flight,
        "replies": len(load_recorded_replies(args.replies)),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "levels": rows,
    }
    if args.baseline:
        result["summary"] = summarize(rows)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
