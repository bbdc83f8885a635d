"""End-to-end tests of the web UI in real Chromium against the real app on loopback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import LiveServer, read_sse, upload

pytestmark = pytest.mark.ui

QUESTION = "Which law governs the agreement?"
INGEST_TIMEOUT_MS = 180_000
TOLERANCE = 0.01  # of the page size: a highlight may be off by at most 1 %
FINISHED = "xpath=self::*[@data-state='done' or @data-state='partial' or @data-state='failed']"


def relative_box(element: Any, image: str = "#source-pane .page-img") -> list[float]:
    """The element's box as fractions of the page image it is drawn over (both read at one instant,
    so a smooth scroll in progress cannot shift one against the other)."""
    return element.evaluate(
        """(el, sel) => {
            const img = document.querySelector(sel).getBoundingClientRect();
            const box = el.getBoundingClientRect();
            return [(box.left - img.left) / img.width, (box.top - img.top) / img.height,
                    (box.right - img.left) / img.width, (box.bottom - img.top) / img.height];
        }""",
        image,
    )


def upload_and_wait(tab: Any, base: str, pdf: Path) -> None:
    tab.goto(base + "/#upload")
    tab.set_input_files("#upload-input", str(pdf))
    row = tab.locator("#upload-progress .progress-row").first
    row.locator(FINISHED).wait_for(timeout=INGEST_TIMEOUT_MS)
    assert row.get_attribute("data-state") == "done", row.inner_text()
    assert "2/2 pages" in row.inner_text()


def ask_and_open_chip(tab: Any, base: str, question: str) -> Any:
    tab.goto(base + "/#ask")
    tab.fill("#question", question)
    tab.press("#question", "Enter")
    chip = tab.locator(".msg.assistant .markdown .chip[data-n='1']")
    chip.wait_for(timeout=60_000)
    chip.click()
    tab.locator("#source-pane .highlight").first.wait_for(timeout=30_000)
    tab.wait_for_function("() => document.querySelector('#source-pane .page-img').naturalWidth > 0")
    return chip


@pytest.fixture(scope="module")
def ingested(browser: Any, live_app: LiveServer, samples: list[Path]) -> LiveServer:
    """The sample contract uploaded through the Upload panel and indexed."""
    context = browser.new_context(viewport={"width": 1366, "height": 860})
    upload_and_wait(context.new_page(), live_app.url, samples[0])
    context.close()
    return live_app


def test_uploaded_pdf_shows_in_documents_with_pages_and_boxes(
    page: Any, ingested: LiveServer, shots: Any
) -> None:
    page.goto(ingested.url + "/#documents")
    row = page.locator(".doc-table tbody tr", has_text="sample-contract.pdf")
    row.wait_for()
    assert "done" in row.inner_text() and "textlayer" in row.inner_text()
    row.get_by_role("button", name="Open").click()
    viewer = page.locator("#doc-viewer")
    viewer.locator(".box").first.wait_for()
    layout = httpx.get(f"{ingested.url}/v1/documents/{row.get_attribute('data-id')}/layout").json()
    assert viewer.locator(".box").count() == len(layout["pages"][0]["blocks"])
    viewer.get_by_role("button", name="next page").click()
    page.wait_for_function("() => document.querySelector('#doc-viewer').dataset.page === '2'")
    assert "Governing Law" in viewer.locator(".page-markdown").inner_text()
    shots(page, "documents", full_page=True)


def test_citation_chip_opens_cited_page_with_highlight_at_cited_region(
    page: Any, ingested: LiveServer, shots: Any
) -> None:
    expected = httpx.post(
        f"{ingested.url}/v1/ask", json={"query": QUESTION, "kb": "default"}, timeout=60
    ).json()
    first = next(c for c in expected["citations"] if c["n"] == 1)
    cited_page = first["regions"][0]["page"]
    cited_boxes = [r["bbox"] for r in first["regions"] if r["page"] == cited_page]

    ask_and_open_chip(page, ingested.url, QUESTION)
    answer = page.locator(".msg.assistant").last
    assert "England and Wales" in answer.inner_text()
    pane = page.locator("#source-pane .doc-viewer")
    assert cited_page == 2  # the governing-law clause is on page 2 of the sample contract
    assert pane.get_attribute("data-page") == str(cited_page)
    assert "sample-contract.pdf" in answer.locator(".sources").inner_text()

    highlights = page.locator("#source-pane .highlight")
    assert highlights.count() == len(cited_boxes)
    for i, bbox in enumerate(cited_boxes):
        drawn = relative_box(highlights.nth(i))
        assert drawn == pytest.approx(bbox, abs=TOLERANCE), (drawn, bbox)
    first_highlight = highlights.first.bounding_box()
    viewport = page.viewport_size
    assert 0 <= first_highlight["y"] <= viewport["height"], "the highlight is scrolled into view"
    shots(page, "ask", docs=True)


def test_phone_width_has_no_horizontal_scroll_and_shows_the_highlight(
    browser: Any, ingested: LiveServer, shots: Any
) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    tab = context.new_page()
    try:
        ask_and_open_chip(tab, ingested.url, QUESTION)
        tab.wait_for_timeout(600)  # the smooth scroll to the highlight
        assert tab.evaluate("document.documentElement.scrollWidth") <= 390
        box = tab.locator("#source-pane .highlight").first.bounding_box()
        assert 0 <= box["y"] <= 844 and box["x"] + box["width"] <= 390
        shots(tab, "ask-phone")
    finally:
        context.close()


def test_ocr_preview_draws_one_box_per_block(
    page: Any, live_app: LiveServer, samples: list[Path], shots: Any
) -> None:
    page.goto(live_app.url + "/#preview")
    page.select_option("#panel-preview select[name=engine]", "rapidocr")
    with page.expect_response(lambda r: r.url.endswith("/v1/ocr")) as reply_info:
        page.set_input_files("#preview-input", str(samples[1]))
    reply = reply_info.value
    assert reply.status == 200, reply.text()
    blocks = json.loads(reply.text())["pages"][0]["blocks"]
    result = page.locator(".preview-result")
    result.locator(".box").first.wait_for()
    assert len(blocks) > 3
    assert result.locator(".box").count() == len(blocks)
    assert page.evaluate("document.querySelector('.preview-result .page-img').naturalWidth") > 0
    result.locator(".box").nth(0).hover()
    assert blocks[0]["markdown"][:20] in result.locator(".box-tip").inner_text()
    shots(page, "preview", full_page=True)


@pytest.mark.slow  # ingests the scan with RapidOCR
def test_empty_knowledge_base_offers_the_sample_set_and_loads_it(page: Any, live_app: LiveServer) -> None:
    page.add_init_script("localStorage.setItem('opticite.kb', 'firstrun')")
    page.goto(live_app.url + "/#ask")
    page.locator("#panel-ask #load-samples").click()
    page.locator("#panel-ask .progress-row").nth(1).wait_for()
    page.locator("#panel-ask .first-run").wait_for(state="detached", timeout=INGEST_TIMEOUT_MS)
    listed = httpx.get(f"{live_app.url}/v1/documents", params={"kb": "firstrun"}).json()["documents"]
    assert sorted((d["filename"], d["status"]) for d in listed) == [
        ("sample-contract-scan.png", "done"),
        ("sample-contract.pdf", "done"),
    ]
    assert page.input_value("#question") == QUESTION


def test_markdown_renderer_escapes_html_and_keeps_only_table_tags(page: Any, live_app: LiveServer) -> None:
    page.goto(live_app.url + "/")
    html = page.evaluate(
        """async () => (await import('/markdown.js')).renderMarkdown(
            '# T <img src=x onerror=alert(1)>\\n\\n**b** *i* `c` [1]\\n\\n- a\\n- b\\n\\n| h |\\n|---|\\n| v |\\n\\n'
            + '<table><tr><td colspan="2" onclick="x()">1<script>bad()</script><a href="javascript:y">z</a></td></tr></table>',
            {citations: new Set([1])})"""
    )
    assert "<img" not in html and "<script" not in html and "onclick" not in html and "<a " not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert (
        "<h1>" in html and "<strong>b</strong>" in html and "<em>i</em>" in html and "<code>c</code>" in html
    )
    assert '<button type="button" class="chip" data-n="1"' in html
    assert "<ul><li>a</li><li>b</li></ul>" in html and "<th>h</th>" in html
    assert '<td colspan="2">1bad()z</td>' in html


def test_reindex_follows_its_job_and_delete_removes_the_document(page: Any, ingested: LiveServer) -> None:
    page.goto(ingested.url + "/#documents")
    row = page.locator(".doc-table tbody tr", has_text="sample-contract.pdf")
    doc_id = row.get_attribute("data-id")
    row.get_by_role("button", name="Reindex").click()
    progress = page.locator("#panel-documents .progress-row", has_text="(reindex)")
    progress.locator(FINISHED).wait_for(timeout=INGEST_TIMEOUT_MS)
    assert progress.get_attribute("data-state") == "done", progress.inner_text()

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f".doc-table tbody tr[data-id='{doc_id}']").get_by_role("button", name="Delete").click()
    page.locator(f".doc-table tbody tr[data-id='{doc_id}']").wait_for(state="detached")
    assert httpx.get(f"{ingested.url}/v1/documents/{doc_id}").status_code == 404


def test_review_table_cell_opens_its_evidence_highlighted(
    page: Any, live_app: LiveServer, samples: list[Path], shots: Any
) -> None:
    with httpx.Client(base_url=live_app.url, timeout=60) as client:  # its own kb: other tests delete theirs
        job = upload(client, samples[0], kb="review").json()["job_id"]
        assert read_sse(client, f"/v1/jobs/{job}/events", timeout_s=180)[-1][1]["state"] == "done"
    page.add_init_script("localStorage.setItem('opticite.kb', 'review')")
    page.goto(live_app.url + "/#review")
    page.click("#review-run")
    page.wait_for_function("() => /read now/.test(document.querySelector('#review-status').textContent)")
    table = httpx.get(f"{live_app.url}/v1/extract", params={"kb": "review"}, timeout=60).json()
    doc = next(d for d in table["documents"] if d["filename"] == "sample-contract.pdf")
    law = next(f for f in doc["fields"] if f["name"] == "Governing Law")
    assert law["found"] and law["regions"], law
    row = page.locator(f"#review-table tr[data-id='{doc['doc_id']}']")
    cell = row.locator("td[data-field='Governing Law']")
    cell.wait_for()
    assert str(law["normalized"] or law["value"]) in cell.inner_text()
    assert row.locator("td").count() == len(doc["fields"])
    cell.click()
    pane = page.locator("#review-source")
    pane.locator(".highlight").first.wait_for(timeout=30_000)
    page.wait_for_function("() => document.querySelector('#review-source .page-img').naturalWidth > 0")
    cited_page = law["regions"][0]["page"]
    boxes = [r["bbox"] for r in law["regions"] if r["page"] == cited_page]
    assert pane.locator(".doc-viewer").get_attribute("data-page") == str(cited_page)
    for i, bbox in enumerate(boxes):
        drawn = relative_box(pane.locator(".highlight").nth(i), "#review-source .page-img")
        assert drawn == pytest.approx(bbox, abs=TOLERANCE), (drawn, bbox)
    shots(page, "review", docs=True)
