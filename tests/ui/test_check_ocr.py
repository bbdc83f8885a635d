"""The Check OCR panel in real Chromium: a reviewer corrects a block on the page image's side, the
corrected text is then found by search and cited with the block's box, and the drift figures move
(with the alert's warning once the accept rate falls below the threshold)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.environment import clean_env
from tests.support.servers import LiveServer, read_sse, test_settings, upload
from tests.ui.test_web_ui import TOLERANCE, relative_box

pytestmark = pytest.mark.ui

NEW_TEXT = "Payment is due in Zanzibar florins every quarter."


@pytest.fixture(scope="module")
def reviewed_app(tmp_path_factory: pytest.TempPathFactory, samples: list[Path]) -> Iterator[LiveServer]:
    """Every page sampled for review; one correction is enough to open the drift alert."""
    review = {"rate": 1.0, "alert_min_reviews": 1}
    with clean_env(), LiveServer(test_settings(tmp_path_factory.mktemp("data"), review=review)) as server:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            job = upload(client, samples[0], kb="checkocr").json()["job_id"]
            assert read_sse(client, f"/v1/jobs/{job}/events", timeout_s=180)[-1][1]["state"] == "done"
        yield server


def test_correcting_a_block_reindexes_it_and_moves_the_figures(
    page: Any, reviewed_app: LiveServer, shots: Any
) -> None:
    base = reviewed_app.url
    item = httpx.get(f"{base}/v1/kbs/checkocr/review/next").json()["item"]
    assert item["page"] == 1
    block = next(b for b in item["blocks"] if b["kind"] == "text" and len(b["markdown"]) > 40)

    page.add_init_script("localStorage.setItem('opticite.kb', 'checkocr')")
    page.goto(base + "/#checkocr")
    page.locator("#checkocr-blocks textarea").first.wait_for()
    page.wait_for_function("() => document.querySelector('#checkocr-page .page-img').naturalWidth > 0")
    assert page.locator("#checkocr-page .box").count() == len(item["blocks"])
    assert page.locator("#drift-table td.reviewed").first.inner_text() == "0"
    assert page.locator("#drift-warning").is_hidden()

    area = page.locator(f"#checkocr-blocks label[data-index='{block['index']}'] textarea")
    assert area.input_value() == block["markdown"]
    area.fill(NEW_TEXT)
    page.click("#checkocr-save")
    page.wait_for_function(
        "() => /page 2/.test(document.querySelector('#checkocr-title').textContent)", timeout=120_000
    )

    # the figures moved: one page reviewed, corrected (not accepted), with its edit distance
    page.wait_for_function("() => document.querySelector('#drift-table td.reviewed')?.textContent === '1'")
    row = page.locator("#drift-table tbody tr").first
    assert row.locator("td.reviewed").inner_text() == "1"
    assert row.locator("td.accept-rate").inner_text() == "0%"
    assert float(row.locator("td.edit-distance").inner_text()) > 20
    assert page.locator(".drift-chart rect.bar").count() == 1
    warning = page.locator("#drift-warning")
    assert warning.is_visible() and "OCR drift" in warning.inner_text()
    shots(page, "check-ocr", full_page=True)

    # the corrected text is searched and cited at the block's box, drawn where the block is on the page
    hits = httpx.post(
        f"{base}/v1/search", json={"query": "Zanzibar florins", "kb": "checkocr"}, timeout=60
    ).json()
    top = hits["results"][0]
    assert NEW_TEXT in top["markdown"]
    assert any(r["page"] == 1 and r["bbox"] == pytest.approx(block["bbox"], abs=1e-4) for r in top["regions"])
    question = "In which currency is payment due every quarter?"
    answer = httpx.post(f"{base}/v1/ask", json={"query": question, "kb": "checkocr"}, timeout=60).json()
    cited = next(c for c in answer["citations"] if c["n"] == 1)["regions"][0]
    x0, y0, x1, y1 = block["bbox"]
    assert cited["page"] == 1 and cited["bbox"][1::2] == pytest.approx([y0, y1], abs=1e-4)
    assert x0 - 1e-4 <= cited["bbox"][0] < cited["bbox"][2] <= x1 + 1e-4  # within the block (quote's share)
    page.goto(base + "/#ask")
    page.fill("#question", question)
    page.press("#question", "Enter")
    chip = page.locator(".msg.assistant .markdown .chip[data-n='1']")
    chip.wait_for(timeout=60_000)
    assert "Zanzibar florins" in page.locator(".msg.assistant").last.inner_text()
    chip.click()
    highlight = page.locator("#source-pane .highlight").first
    highlight.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#source-pane .page-img').naturalWidth > 0")
    assert relative_box(highlight) == pytest.approx(cited["bbox"], abs=TOLERANCE)
