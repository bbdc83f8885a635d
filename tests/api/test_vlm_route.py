"""Over real HTTP: an upload routed by page kind (`kinds=screenshot=vlm,drawing=vlm`) sends a screenshot
and a drawing to the second vision model (a fake MiniCPM-V 2.6 on vLLM), keeps a scan on the usual
path, and search cites the screenshot's and the drawing's text with located boxes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ingest.layout import BBox
from ingest.ocr.grounding import PAGE_BOX
from tests.fakes.vllm_server import FakeVllm, Reply
from tests.support.documents import print_size_pdf
from tests.support.page_kinds import SCREEN, drawing, settings_window
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow
MINICPM = "openbmb/MiniCPM-V-2_6"


@pytest.fixture(scope="module")
def fake_minicpm() -> Iterator[FakeVllm]:
    with FakeVllm(model=MINICPM) as fake:
        yield fake


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory, fake_minicpm: FakeVllm) -> Iterator[httpx.Client]:
    data = tmp_path_factory.mktemp("vlm") / "data"
    vlm = {"url": fake_minicpm.url, "read_timeout_s": 120, "retries": 0}
    with LiveServer(test_settings(data, vlm=vlm, jobs={"page_concurrency": 1})) as live, live.client() as c:
        yield c


def _ingest(client: httpx.Client, path: Path, **fields: Any) -> str:
    sub = upload(client, path, kb="screens", kinds="screenshot=vlm,drawing=vlm", **fields)
    assert sub.status_code == 202, sub.text
    final = read_sse(client, f"/v1/jobs/{sub.json()['job_id']}/events")[-1]
    assert final[1]["state"] == "done", final
    return str(sub.json()["document_id"])


def _layout(client: httpx.Client, doc_id: str) -> dict[str, Any]:
    (page,) = client.get(f"/v1/documents/{doc_id}/layout").json()["pages"]
    return dict(page)


def _located(client: httpx.Client, query: str, doc_id: str) -> BBox:
    hits = client.post("/v1/search", json={"query": query, "kb": "screens", "top_k": 5}).json()["results"]
    hit = next(h for h in hits if h["doc_id"] == doc_id)
    (region,) = [r for r in hit["regions"] if query.split()[0] in hit["markdown"]][:1]
    return BBox(**dict(zip(("x0", "y0", "x1", "y1"), region["bbox"], strict=True)))


def test_screenshot_and_drawing_go_to_the_vision_model_and_are_cited_where_they_are(
    client: httpx.Client, fake_minicpm: FakeVllm, tmp_path: Path
) -> None:
    screen_text = "\n".join(text for text, _, _ in SCREEN)
    fake_minicpm.script(Reply(content=screen_text), Reply(content="SCALE 1:2 MATERIAL AL 6061"))
    screen = tmp_path / "settings.png"
    screen.write_bytes(settings_window().image_png)
    sheet = tmp_path / "bracket.png"
    sheet.write_bytes(drawing(7).image_png)
    screen_id, sheet_id = _ingest(client, screen), _ingest(client, sheet)
    assert [body["model"] for body in fake_minicpm.requests] == [MINICPM, MINICPM]

    screen_page, sheet_page = _layout(client, screen_id), _layout(client, sheet_id)
    assert (screen_page["engine"], screen_page["page_kind"]["kind"]) == ("vlm", "screenshot")
    assert (sheet_page["engine"], sheet_page["page_kind"]["kind"]) == ("vlm", "drawing")
    assert screen_page["page_kind"]["reason"].endswith(": vlm")

    storage = _located(client, "Storage used", screen_id)
    assert storage != PAGE_BOX and storage.y1 - storage.y0 < 0.2  # a line of the window, not the page
    material = _located(client, "MATERIAL AL 6061", sheet_id)
    assert material != PAGE_BOX and material.y0 > 0.8  # the title block at the foot of the sheet


def test_a_scan_keeps_the_usual_path_when_its_kind_has_no_route(
    client: httpx.Client, fake_minicpm: FakeVllm, tmp_path: Path
) -> None:
    before = len(fake_minicpm.requests)
    doc_id = _ingest(client, print_size_pdf(tmp_path / "scan.pdf", [(14, False)]))
    page = _layout(client, doc_id)
    assert page["page_kind"]["kind"] == "scanned_text" and page["engine"] == "rapidocr"  # no DeepSeek here
    assert len(fake_minicpm.requests) == before
