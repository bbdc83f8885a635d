"""`opticite calibrate` on a mixed sample against the fake vLLM server's SIMULATED compression.

The figures are a simulation, not DeepSeek-OCR's accuracy: the fake replays the recorded output of a
page and drops or misreads text in the cheaper modes by rules (tests/fakes/compression.py). What this
shows is the command end to end (sample, reads, scores, table, chart, saved default) and its overhead.
The born-digital page is the one page with a recording of its own (docling's 2305.03393v1-pg9, scored
against its text layer); every other page is scored against its Gundam read.

    .venv/bin/python -m bench.calibration_sim   # writes bench/results/calibration_sim.{json,svg,txt}
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from api.db import Database, KbSettingsRow
from api.settings import load_settings
from tests.fakes.vllm_server import FakeVllm
from tests.support import page_kinds
from tests.support.documents import TESTDATA

RESULTS = Path(__file__).parent / "results"
SHARED = [
    "docling-testdata/pdf/sources/2305.03393v1-pg9.pdf",  # first: the fake's first recording is its page
    "tesseract-test/phototest.tif",
    "docling-testdata/ocr/sources/ocr_test.pdf",
    "sroie-sample/img/000.jpg",
]
SAMPLE = 6


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="calibration-sim-"))
    files = [str(TESTDATA / name) for name in SHARED]
    for name, page in (("screenshot.png", page_kinds.screenshot(1)), ("drawing.png", page_kinds.drawing(1))):
        img = cv2.imdecode(np.frombuffer(page.image_png, np.uint8), cv2.IMREAD_COLOR)
        cv2.imwrite(str(work / name), img)
        files.append(str(work / name))
    repo = RESULTS.parent.parent
    chart = (RESULTS / "calibration_sim.svg").relative_to(repo)  # as the table prints it
    with FakeVllm(simulate_compression=True) as fake:
        command = [str(Path(sys.executable).with_name("opticite")), "calibrate", "--kb", "demo", "--save"]
        command += [arg for f in files for arg in ("--files", f)]
        command += ["--sample", str(SAMPLE), "--ocr-url", fake.url, "--chart", str(chart)]
        env = {**os.environ, "OPTICITE_DATA_DIR": str(work / "data"), "COLUMNS": "110"}
        started = time.perf_counter()
        done = subprocess.run(command, env=env, cwd=repo, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - started
    table = done.stdout
    print(table)
    print(f"command wall time: {seconds:.1f} s (process start, imports and the fake's replies included)")
    db = Database(load_settings(data_dir=work / "data").database_url)
    with db.session() as s:
        row = s.get(KbSettingsRow, "demo")
        assert row is not None
        saved = {"kb": "demo", "modes": row.modes, "report": row.calibration}
    db.dispose()
    result = {
        "simulation": "tests/fakes/compression.py rules, not DeepSeek-OCR measurements",
        "command": " ".join(["opticite", *command[1:]])
        .replace(fake.url, "FAKE_URL")
        .replace(str(work), "TMP")
        .replace(str(TESTDATA), "../shared/testdata"),
        "files": [Path(f).name for f in files],
        "command_seconds": round(seconds, 1),
        "saved": saved,
    }
    (RESULTS / "calibration_sim.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (RESULTS / "calibration_sim.txt").write_text(table, encoding="utf-8")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
