"""Bad input through the HTTP API, one row per file: the OCRmyPDF robustness corpus and generated
hostile files, each with the reply (4xx code, or the finished document's status) and its time.

Scans go to a fake vLLM (instant replies). Writes bench/results/reliability_inputs.json; the
assertions on the same inputs are tests/reliability/test_bad_input.py.

    .venv/bin/python -m bench.reliability_inputs
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

from api.settings import load_settings
from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.fakes.vllm_server import FakeVllm, load_recorded_replies
from tests.support.bad_input import huge_pdf, outcome, png_bomb, send
from tests.support.documents import TESTDATA, make_pdf
from tests.support.servers import LiveServer

RESULTS = Path(__file__).resolve().parent / "results" / "reliability_inputs.json"


def generated(folder: Path) -> list[tuple[str, str, bytes]]:
    """(case, upload filename, bytes) for the hostile inputs."""
    pdf = make_pdf(folder / "base.pdf", pages=3, seed="base").read_bytes()
    return [
        ("empty file", "empty.pdf", b""),
        ("truncated PDF (first third)", "truncated.pdf", pdf[: len(pdf) // 3]),
        ("random bytes named .pdf", "random.pdf", os.urandom(50_000)),
        ("random bytes, no extension", "blob", os.urandom(50_000)),
        ("PNG bomb (60000x60000 declared)", "bomb.png", png_bomb(folder / "bomb.png").read_bytes()),
        ("10,000-page PDF", "huge.pdf", huge_pdf(folder / "huge.pdf").read_bytes()),
        ("PDF named .png", "scan.png", pdf),
        ("text named .pdf", "notes.pdf", b"just some words, not a PDF\n" * 50),
        ("traversal name ../../etc/passwd.pdf", "../../etc/passwd.pdf", pdf + b"\n% t\n"),
    ]


def run(folder: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    corpus = sorted(p for p in (TESTDATA / "ocrmypdf-test-resources").iterdir() if p.is_file())
    cases = [(f"ocrmypdf-test-resources/{p.name}", p.name, p.read_bytes()) for p in corpus]
    with FakeLlmServer() as embeddings, FakeVllm(replies=load_recorded_replies()[:1]) as vllm:
        settings = load_settings(
            data_dir=folder / "data",
            deepseek={"url": vllm.url, "retries": 0, "read_timeout_s": 10},
            embedder={"backend": "http", "url": embeddings.url, "dim": EMBED_DIM},
        )
        with LiveServer(settings) as server, server.client() as client:
            for case, name, data in [*cases, *generated(folder)]:
                started = time.monotonic()
                reply, reply_s = send(
                    client, folder / "x", name=name, content_type="application/octet-stream", data=data
                )
                result = outcome(client, reply)
                result.pop("id", None)
                rows.append(
                    {
                        "input": case,
                        "bytes": len(data),
                        **result,
                        "reply_s": round(reply_s, 2),
                        "total_s": round(time.monotonic() - started, 2),
                    }
                )
                print(json.dumps(rows[-1]), flush=True)
            rows.append({"input": "healthz afterwards", "status": client.get("/healthz").status_code})
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="opticite-inputs-") as tmp:
        rows = run(Path(tmp))
    report = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {psutil.cpu_count()} CPUs, "
        f"{round(psutil.virtual_memory().total / 2**30)} GiB",
        "command": "python -m bench.reliability_inputs",
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
