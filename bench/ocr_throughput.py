"""Pages/s through the DeepSeek-OCR client against the fake vLLM in capacity mode.

The fake serves `slots` requests at once, each taking `service_s` (a GPU batch), so its capacity is
slots / service_s pages/s; the bench reports what the client reaches at each number of pages in flight.

    .venv/bin/python -m bench.ocr_throughput            # writes bench/results/ocr_throughput.json
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import multiprocessing as mp
import os
import platform
import time
from collections.abc import Iterator
from contextlib import contextmanager
from multiprocessing.synchronize import Event as EventType
from pathlib import Path

from PIL import Image, ImageDraw

from ingest.ocr.chat_server import build_client
from ingest.ocr.deepseek import DeepSeekConfig, DeepSeekEngine
from ingest.ocr.engine import OcrOptions
from ingest.page import PageImage
from tests.fakes.vllm_server import FakeVllm

RESULTS = Path(__file__).parent / "results" / "ocr_throughput.json"


def letter_page(page: int = 1) -> PageImage:
    """A US-letter page rendered at 144 dpi with lines of 'text' (a realistic PNG size)."""
    size = (1224, 1584)
    img = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(img)
    for y in range(120, 1480, 28):
        draw.text(
            (110, y), f"Line {y}: the supplier shall deliver the goods described in schedule A.", fill="black"
        )
    out = io.BytesIO()
    img.save(out, format="PNG")
    return PageImage(
        page=page, width=612, height=792, unit="pt", image_png=out.getvalue(), image_size=size, dpi=144
    )


async def run_level(url: str, in_flight: int, pages: int, page: PageImage) -> dict[str, float | int]:
    config = DeepSeekConfig(url=url, concurrency=in_flight, read_timeout_s=120)
    stats_url = url.removesuffix("/v1") + "/fake/stats"

    async def one(engine: DeepSeekEngine) -> None:
        await engine.recognize(page, OcrOptions())

    async with build_client(config) as client:
        engine = DeepSeekEngine(config, client)
        await asyncio.gather(*(one(engine) for _ in range(min(in_flight, 4))))  # warm the connections
        await client.delete(stats_url)
        start = time.perf_counter()
        await asyncio.gather(*(one(engine) for _ in range(pages)))
        seconds = time.perf_counter() - start
        stats = (await client.get(stats_url)).json()
    return {
        "in_flight": in_flight,
        "pages": pages,
        "seconds": round(seconds, 3),
        "pages_per_s": round(pages / seconds, 2),
        "server_max_in_flight": stats["max_in_flight"],
    }


def pages_for(in_flight: int, slots: int, service_s: float, target_s: float) -> int:
    """Enough pages for about `target_s` of work at this concurrency, and at least two full waves."""
    return max(2 * in_flight, 20, round(target_s * min(in_flight, slots) / service_s))


def _serve(slots: int, service_s: float, ports: mp.Queue, stop: EventType) -> None:
    with FakeVllm() as fake:
        fake.capacity(slots, service_s)
        ports.put(fake.port)
        stop.wait()


@contextmanager
def fake_in_subprocess(slots: int, service_s: float) -> Iterator[str]:
    """The fake vLLM in its own process, so the server's work does not share the client's GIL."""
    ctx = mp.get_context("spawn")
    ports: mp.Queue = ctx.Queue()
    stop = ctx.Event()
    proc = ctx.Process(target=_serve, args=(slots, service_s, ports, stop), daemon=True)
    proc.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=60)}/v1"
    finally:
        stop.set()
        proc.join(timeout=10)


async def bench(slots: int, service_s: float, levels: list[int], target_s: float) -> dict:
    capacity = slots / service_s
    page = letter_page()
    rows = []
    with fake_in_subprocess(slots, service_s) as url:
        for n in levels:
            row = await run_level(url, n, pages_for(n, slots, service_s, target_s), page)
            row["fraction_of_capacity"] = round(float(row["pages_per_s"]) / capacity, 3)
            rows.append(row)
            print(json.dumps(row))
    return {
        "bench": "ocr_throughput",
        "command": "python -m bench.ocr_throughput " + f"--slots {slots} --service-s {service_s}",
        "server": {"slots": slots, "service_s": service_s, "capacity_pages_per_s": capacity},
        "page_png_bytes": len(page.image_png),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
        "levels": rows,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slots", type=int, default=16)
    parser.add_argument("--service-s", type=float, default=0.2)
    parser.add_argument("--levels", default="1,8,16,32,64,256")
    parser.add_argument("--target-s", type=float, default=8.0, help="seconds of work per level (about)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    levels = [int(v) for v in args.levels.split(",")]
    result = asyncio.run(bench(args.slots, args.service_s, levels, args.target_s))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
