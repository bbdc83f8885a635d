"""CPU ingest of born-digital contracts: pages/s and peak RSS of opticite's pipeline alone.

    .venv/bin/python -m bench.ingest_cpu [--testdata ../shared/testdata] [--label before] [--out FILE]

The opticite pipeline of `bench.vs_peers` (auto engine, the bundled all-MiniLM-L6-v2, embedded
Qdrant Edge, its embedder loaded before timing starts) on the ten cuad-dev contracts, without the
peers and the questions (nor LlamaIndex's torch in the process), so a before/after pair is cheap to run.
Writes bench/results/ingest_cpu.json (`--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import pymupdf

from bench.vs_peers import OpticitePipeline, document_sets, peak_rss

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "ingest_cpu.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    parser.add_argument("--label", default="")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    files = document_sets(args.testdata)["cuad"]
    pages = sum(pymupdf.open(f).page_count for f in files)
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = OpticitePipeline(Path(tmp))
        cpu0, started = time.process_time(), time.perf_counter()
        with peak_rss() as memory:
            chunks = pipeline.ingest(files)
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu0
        page_images = len(list(Path(tmp).glob("docs/*/pages/*.png")))
        pipeline.close()
    row = {
        "bench": "ingest_cpu",
        "command": "python -m bench.ingest_cpu",
        "label": args.label,
        "documents": len(files),
        "pages": pages,
        "chunks": chunks,
        "seconds": round(seconds, 2),
        "pages_per_s": round(pages / seconds, 3),
        "cpu_ms_per_page": round(1000 * cpu_s / pages, 1),
        "peak_rss_mib": round(memory["peak_mib"]),
        # the whole process's high-water mark (models and imports included), and whether torch was loaded
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "torch_imported": "torch" in sys.modules,
        "page_images_written": page_images,
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_avg_1m": os.getloadavg()[0],
        },
    }
    print(json.dumps(row), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(row, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
