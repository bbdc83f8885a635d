"""Calibration end to end on the fake vLLM server with its simulated compression (tests/fakes/compression.py):
`opticite calibrate --files` in process, `POST /v1/kbs/{kb}/calibration` streamed and through the CLI's
server client, the saved default per page kind, and uploads naming no mode read in it (a named mode wins)."""

from __future__ import annotations

import asyncio
import base64
import io
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image
from typer.testing import CliRunner

from api.calibration import apply_kb_modes
from api.cli import app
from api.db import Database, KbSettingsRow
from api.server_info import ServerClient
from api.settings import load_settings
from ingest.ocr.engine import KindRoute, OcrOptions
from ingest.ocr.mode_choice import MODE_MAX_SIDE_PX
from tests.fakes.vllm_server import FakeVllm, request_image_and_prompt
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow
PG9 = "docling-testdata/pdf/sources/2305.03393v1-pg9.pdf"  # the page of the first recorded output
MODES = ["tiny", "small", "base", "large", "gundam"]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeVllm]:
    with FakeVllm(simulate_compression=True) as server:
        yield server


@pytest.fixture(scope="module")
def scan(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pdf(tmp_path_factory.mktemp("scan") / "scan.pdf", pages=1, scanned=True, seed="calibrate")


def _long_side(body: dict) -> int:
    image, _ = request_image_and_prompt(body)
    with Image.open(io.BytesIO(base64.b64decode(image.split(",", 1)[1]))) as img:
        return max(img.size)


def test_apply_kb_modes_fills_kinds_without_a_mode_and_keeps_other_routes() -> None:
    options = OcrOptions(kinds={"screenshot": KindRoute(engine="vlm"), "photo": KindRoute(engine="deepseek")})
    applied = apply_kb_modes(options, {"scanned_text": "small", "screenshot": "base", "photo": "large"})
    assert applied.kinds["scanned_text"] == KindRoute(engine="auto", mode="small")
    assert applied.kinds["screenshot"] == KindRoute(engine="vlm")  # another engine's route is kept
    assert applied.kinds["photo"] == KindRoute(engine="deepseek", mode="large")
    named = OcrOptions(kinds={"scanned_text": KindRoute(engine="deepseek", mode="gundam")})
    assert apply_kb_modes(named, {"scanned_text": "tiny"}).kinds["scanned_text"].mode == "gundam"
    assert apply_kb_modes(OcrOptions(engine="rapidocr"), {"scanned_text": "tiny"}).kinds == {}


def test_cli_calibrates_files_prints_the_table_writes_the_chart_and_saves(
    fake: FakeVllm, scan: Path, testdata: Path, tmp_path: Path
) -> None:
    fake.reset()
    chart = tmp_path / "chart.svg"
    args = ["calibrate", "--files", str(testdata / PG9), "--files", str(scan), "--kb", "mixed", "--save"]
    args += ["--ocr-url", fake.url, "--chart", str(chart), "--sample", "2"]
    truth = tmp_path / "truth"
    truth.mkdir()
    (truth / "scan.txt").write_text("The text a user corrected on the scan.", encoding="utf-8")
    (truth / "2305.03393v1-pg9.pdf.txt").write_text("ignored: this page has a text layer", encoding="utf-8")
    args += ["--truth", str(truth)]
    result = CliRunner().invoke(app, args, env={"OPTICITE_DATA_DIR": str(tmp_path / "data")})
    assert result.exit_code == 0, result.stderr + repr(result.exception)
    for word in ("born_digital", "scanned_text", "recommended for", "saved as the default of kb mixed"):
        assert word in result.stdout, result.stdout
    assert len(fake.requests) == 2 * len(MODES)  # each page once per mode
    svg = chart.read_text()
    assert svg.startswith("<svg") and "born_digital" in svg and svg.count("<polyline") == 2
    db = Database(load_settings(data_dir=tmp_path / "data").database_url)
    with db.session() as s:
        row = s.get(KbSettingsRow, "mixed")
        assert row is not None and set(row.modes) == {"born_digital", "scanned_text"}
        report = row.calibration or {}
    pg9 = {p["mode"]: p for p in report["pages"] if p["kind"] == "born_digital"}
    assert pg9["gundam"]["reference"] == "text_layer"
    assert pg9["gundam"]["cer"] < 0.25  # the recorded output of this very page against its text layer
    assert pg9["tiny"]["cer"] > pg9["small"]["cer"] > pg9["gundam"]["cer"]  # the simulation's lost text
    scanned = [p for p in report["pages"] if p["kind"] == "scanned_text"]
    assert {p["reference"] for p in scanned} == {"corrected"}  # no text layer: the user's text, not Gundam's
    assert all(p["cer"] > 0.5 for p in scanned)  # the fake's recording is another page's text
    tokens = [pg9[m]["vision_tokens"] for m in MODES]
    assert tokens == sorted(tokens) and tokens[0] < tokens[-1]
    db.dispose()
    empty = CliRunner().invoke(
        app,
        ["calibrate", "--kb", "mixed", "--ocr-url", fake.url],
        env={"OPTICITE_DATA_DIR": str(tmp_path / "data")},
    )  # the kb's own pages, in this process: it has none ingested
    assert empty.exit_code == 2 and "no ingested documents" in empty.stderr, empty.stderr
    assert (
        CliRunner().invoke(app, ["calibrate", "--files", str(scan), "--save"]).exit_code == 2
    )  # --save needs --kb


@pytest.fixture(scope="module")
def server(fake: FakeVllm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("calibration") / "data"
    deepseek = {"url": fake.url, "retries": 0, "backoff_s": 0.0}
    with LiveServer(test_settings(data, deepseek=deepseek)) as live:
        yield live


def test_kb_calibration_streams_progress_saves_and_uploads_use_the_saved_mode(
    server: LiveServer, fake: FakeVllm, scan: Path, tmp_path: Path
) -> None:
    with server.client() as client:
        assert client.get("/v1/kbs/cal/calibration").json()["modes"] == {}
        missing = client.post("/v1/kbs/cal/calibration", json={"sample": 2})
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        sub = upload(client, scan, kb="cal").json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        fake.reset()
        events = read_sse(client, "/v1/kbs/cal/calibration", body={"sample": 2, "save": True, "stream": True})
        assert [e for e, _ in events] == ["page", "done"]
        assert events[0][1] == {"done": len(MODES), "total": len(MODES)}
        reply = events[-1][1]
        stats = {s["mode"]: s for s in reply["report"]["stats"]}
        assert stats["gundam"]["cer"] == 0.0  # no text layer, no corrected text: Gundam is the reference
        assert stats["tiny"]["cer"] > stats["gundam"]["cer"]
        saved = client.get("/v1/kbs/cal/calibration").json()
        mode = saved["modes"]["scanned_text"]
        assert saved["updated"].endswith(("Z", "+00:00"))  # UTC, on SQLite too
        assert mode == reply["report"]["recommended"]["scanned_text"] and saved["chart_svg"].startswith(
            "<svg"
        )

        fake.reset()
        again = make_pdf(tmp_path / "again.pdf", pages=1, scanned=True, seed="another")
        sub = upload(client, again, kb="cal").json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        options = client.get(f"/v1/documents/{sub['document_id']}").json()["options"]
        assert options["kinds"]["scanned_text"] == {"engine": "auto", "mode": mode}
        limit = MODE_MAX_SIDE_PX[mode] or 10**6
        assert _long_side(fake.requests[0]) <= limit  # the page was sent in the saved mode

        fake.reset()
        named = make_pdf(tmp_path / "named.pdf", pages=1, scanned=True, seed="named")
        sub = upload(client, named, kb="cal", mode="gundam").json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
        assert client.get(f"/v1/documents/{sub['document_id']}").json()["options"]["kinds"] == {}
        assert _long_side(fake.requests[0]) > 1280  # the named mode won


def test_cli_server_client_calibrates_a_kb_and_saves_through_the_server(
    server: LiveServer, fake: FakeVllm, scan: Path
) -> None:
    async def go() -> tuple[list[tuple[int, int]], dict, dict]:
        client = ServerClient(server.url)
        steps: list[tuple[int, int]] = []
        try:
            result = await client.calibrate_kb("cal", 1, 0.02, False, lambda *step: steps.append(step))
            put = await client.save_calibration("cal", {"photo": "large"}, result.report)
            return steps, result.model_dump(mode="json"), put.model_dump(mode="json")
        finally:
            await client.aclose()

    with server.client() as http:
        if not http.get("/v1/documents", params={"kb": "cal"}).json()["documents"]:
            sub = upload(http, scan, kb="cal").json()
            read_sse(http, f"/v1/jobs/{sub['job_id']}/events")
    steps, result, put = asyncio.run(go())
    assert steps and steps[-1] == (len(MODES), len(MODES))
    assert json.dumps(result["report"]["modes"]) == json.dumps(MODES)
    assert put["modes"] == {"photo": "large"} and put["report"]["modes"] == MODES
    refused = httpx.put(f"{server.url}/v1/kbs/cal/calibration", json={"modes": {"photo": "huge"}}, timeout=30)
    assert refused.status_code == 422
