"""The Upload panel's Calibration section in real Chromium: a run streamed from the app (DeepSeek on the fake
vLLM server's simulated compression), its chart and table, and Save making the recommendation the kb's default."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fakes.vllm_server import FakeVllm
from tests.support.documents import make_pdf
from tests.support.environment import clean_env
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.ui


@pytest.fixture(scope="module")
def app_with_deepseek(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with clean_env(), FakeVllm(simulate_compression=True) as fake:
        deepseek = {"url": fake.url, "retries": 0, "backoff_s": 0.0}
        with LiveServer(test_settings(tmp_path_factory.mktemp("data"), deepseek=deepseek)) as server:
            yield server


def test_calibration_runs_shows_chart_and_table_and_saves_the_default(
    page: Any, app_with_deepseek: LiveServer, tmp_path: Path, shots: Any
) -> None:
    base = app_with_deepseek.url
    scan = make_pdf(tmp_path / "scan.pdf", pages=1, scanned=True, seed="ui")
    with httpx.Client(base_url=base, timeout=60) as client:
        job = upload(client, scan, kb="calui").json()["job_id"]
        assert read_sse(client, f"/v1/jobs/{job}/events", timeout_s=180)[-1][1]["state"] == "done"
    page.add_init_script("localStorage.setItem('opticite.kb', 'calui')")
    page.goto(base + "/#upload")
    page.wait_for_function(
        "() => /no saved modes/.test(document.querySelector('#calibration-saved').textContent)"
    )
    page.fill("#calibration-sample", "1")
    page.click("#calibration-run")
    page.wait_for_function("() => /reads in/.test(document.querySelector('#calibration-status').textContent)")
    assert page.locator("#calibration-chart svg polyline").count() == 1
    rows = page.locator("#calibration-table tbody tr")
    assert rows.count() == 5  # scanned_text in each mode
    recommended = page.locator("#calibration-table tr.found td").nth(1).inner_text()
    assert recommended in ("tiny", "small", "base", "large", "gundam")
    page.click("#calibration-save")
    page.wait_for_function(
        "() => /Default modes of calui/.test(document.querySelector('#calibration-saved').textContent)"
    )
    assert f"scanned_text → {recommended}" in page.locator("#calibration-saved").inner_text()
    saved = httpx.get(f"{base}/v1/kbs/calui/calibration", timeout=60).json()
    assert saved["modes"] == {"scanned_text": recommended}
    assert page.locator("#calibration-save").is_disabled()
    shots(page.locator("#calibration"), "calibration")
