"""OCR review and drift: sampling, reviewer rights, a correction found by search with its box and only
its chunks re-embedded, the figures in /quality and /metrics, and the signed drift webhook that a run
of bad pages sets off. Real app on loopback, real embedder and store."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.db import Database, DocumentRow, ReviewPageRow
from api.ocr_review import BlockCorrection, corrected_layout
from api.review_queue import release_interrupted, review_reason
from api.webhooks import SIGNATURE_HEADER, verify
from ingest.chunking import Chunk, ChunkingConfig
from ingest.layout import BBox, Block, PageLayout
from ingest.pipeline import DocumentFiles, Pipeline
from ingest.sources import SourceConfig
from tests.support.documents import make_pdf
from tests.support.environment import clean_env
from tests.support.servers import LiveServer, read_sse, test_settings, upload
from tests.support.webhooks import Receiver

SECRET = "drift-secret-0123456789"
REVIEWER = "reviewer-key-0123456789"
READER = "reader-key-0123456789ab"
OTHER = "other-reviewer-key-01234"


# --- pure rules ------------------------------------------------------------------------------------
def test_gate_retried_and_fallback_pages_always_enter_failed_never() -> None:
    assert review_reason("d", 1, "retried", 0.0) == "retried"
    assert review_reason("d", 1, "fallback", 0.0) == "fallback"
    assert review_reason("d", 1, "failed", 1.0) is None
    assert review_reason("d", 1, "ok", 1.0) == "sampled"
    assert review_reason("d", 1, "ok", 0.0) is None


def test_sample_share_follows_the_rate_and_repeats_per_page() -> None:
    picked = [review_reason(f"doc{n // 50}", n % 50 + 1, "ok", 0.1) for n in range(4000)]
    assert 0.07 < picked.count("sampled") / len(picked) < 0.13
    assert picked == [review_reason(f"doc{n // 50}", n % 50 + 1, "ok", 0.1) for n in range(4000)]


def _layout(page: int, texts: list[str]) -> PageLayout:
    blocks = [
        Block(
            kind="text", markdown=t, bbox=BBox(x0=0.1, y0=0.1 + 0.2 * i, x1=0.9, y1=0.25 + 0.2 * i), order=i
        )
        for i, t in enumerate(texts)
    ]
    return PageLayout(
        page=page, width=595, height=842, image_size=(1190, 1684), engine="textlayer", blocks=blocks
    )


def test_correction_keeps_the_box_drops_old_lines_and_counts_characters() -> None:
    layout = _layout(1, ["Tbe quick brown fox", "jumps"])
    new, distances = corrected_layout(layout, [BlockCorrection(block=0, markdown="The quick brown fox")])
    assert distances == [1]
    assert new.blocks[0].markdown == "The quick brown fox" and new.blocks[0].bbox == layout.blocks[0].bbox
    assert new.blocks[0].lines == [] and new.blocks[1] == layout.blocks[1]


class RecordingIndexer:
    def __init__(self) -> None:
        self.calls: list[tuple[list[Chunk], int, dict[str, str]]] = []

    def replace_document(self, doc_id: str, chunks: list[Chunk]) -> int:
        return len(chunks)

    def replace_chunks(self, doc_id: str, changed: list[Chunk], count: int, previous: Any = None) -> int:
        self.calls.append((list(changed), count, dict(previous or {})))
        return len(changed)


def test_reindex_page_embeds_only_the_corrected_pages_new_text(tmp_path: Path) -> None:
    files = DocumentFiles(tmp_path / "doc")
    for n in range(1, 6):
        files.save_layout(_layout(n, [f"## Section {n}", f"Body of section {n}. " * 30]))
    indexer = RecordingIndexer()
    config = ChunkingConfig(target_tokens=60, max_tokens=80)
    pipeline = Pipeline(SourceConfig(), None, config, indexer, lambda t: len(t.split()))  # type: ignore[arg-type]
    fixed = _layout(3, ["## Section 3", "Corrected body of section three. " * 30])
    count = pipeline.reindex_page("doc", "kb", "a.pdf", files, [], fixed, 5)
    [(changed, total, previous)] = indexer.calls
    assert total == count and changed
    new_text = [c for c in changed if c.embed_text() not in previous]  # what the indexer must embed
    assert new_text and all(c.pages == [3] for c in new_text), [c.pages for c in new_text]
    assert any("Corrected body" in c.markdown for c in new_text)
    assert all(c.pages[0] >= 3 for c in changed)  # pages 1-2 are not written at all
    assert files.saved_layout(3) == fixed and "Corrected body" in files.markdown.read_text()


def test_pages_left_mid_correction_wait_for_review_again(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'm.db'}")
    db.create_all()
    with db.session() as s:
        s.add(DocumentRow(id="d", kb="k", filename="a.pdf", sha256="0" * 64))
        s.flush()
        s.add(
            ReviewPageRow(
                doc_id="d", page=1, kb="k", reason="sampled", engine="textlayer", state="correcting"
            )
        )
    with db.session() as s:
        release_interrupted(s)
    with db.session() as s:
        assert s.get_one(ReviewPageRow, ("d", 1)).state == "pending"
    db.dispose()


# --- the service -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def hook() -> Iterator[Receiver]:
    receiver = Receiver(failures=0)
    yield receiver
    receiver.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, hook: Receiver) -> Iterator[LiveServer]:
    keys = [
        {"key": REVIEWER, "kbs": ["rev", "drift"], "name": "ana", "review": True},
        {"key": READER, "kbs": ["rev"], "name": "reader"},
        {"key": OTHER, "kbs": ["elsewhere"], "name": "bo", "review": True},
        {"key": "admin-key-0123456789abcd", "kbs": ["*"], "name": "admin"},
    ]
    review = {"rate": 1.0, "alert_window": 10, "alert_min_reviews": 6, "alert_webhook_url": hook.url}
    webhooks = {"secret": SECRET, "allow_private_targets": True, "backoff_s": 0.05}
    with clean_env():
        settings = test_settings(
            tmp_path_factory.mktemp("data"), api_keys=keys, review=review, webhooks=webhooks
        )
        with LiveServer(settings) as live:
            yield live


def _ingest(live: LiveServer, folder: Path, kb: str, pages: int) -> str:
    with live.client(headers={"X-API-Key": REVIEWER}) as client:
        sub = upload(client, make_pdf(folder / f"{kb}.pdf", pages=pages, seed=kb), kb=kb).json()
        assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
    return str(sub["document_id"])


def test_review_needs_a_key_with_review_rights_on_the_kb(server: LiveServer, tmp_path: Path) -> None:
    doc = _ingest(server, tmp_path, "rev", 2)
    path = f"/v1/kbs/rev/review/{doc}/1/accept"
    with server.client() as client:
        assert client.get("/v1/kbs/rev/review/next", headers={"X-API-Key": READER}).status_code == 200
        assert client.post(path, headers={"X-API-Key": READER}).json()["error"]["code"] == "forbidden"
        assert client.post(path, headers={"X-API-Key": OTHER}).status_code == 403
        verdict = client.post(path, headers={"X-API-Key": REVIEWER}, json={"reviewer": "mallory"}).json()
        assert (
            verdict["state"] == "accepted" and verdict["reviewer"] == "ana"
        )  # the key's name, not the body's
        again = client.post(path, headers={"X-API-Key": REVIEWER})
        assert again.status_code == 409


def test_correction_is_found_by_search_with_the_blocks_box(server: LiveServer, tmp_path: Path) -> None:
    doc = _ingest(server, tmp_path, "drift", 8)
    auth = {"X-API-Key": REVIEWER}
    with server.client(headers=auth) as client:
        item = client.get("/v1/kbs/drift/review/next").json()["item"]
        assert (item["doc_id"], item["page"], item["reason"]) == (doc, 1, "sampled")
        chunks_before = client.get(f"/v1/documents/{doc}").json()["chunks"]
        block = next(b for b in item["blocks"] if b["kind"] == "text")
        wrong = client.post(
            f"/v1/kbs/drift/review/{doc}/1/correct", json={"blocks": [{"block": 99, "markdown": "x"}]}
        )
        assert wrong.status_code == 422 and wrong.json()["error"]["code"] == "bad_correction"
        assert client.get("/v1/kbs/drift/review/next").json()["item"]["page"] == 1  # still waiting
        fix = {
            "blocks": [{"block": block["index"], "markdown": "Payment is due in Zanzibar florins quarterly."}]
        }
        verdict = client.post(f"/v1/kbs/drift/review/{doc}/1/correct", json=fix).json()
        assert verdict["state"] == "corrected" and verdict["edit_distance"] > 10
        assert verdict["chunks"] == chunks_before
        hits = client.post("/v1/search", json={"query": "Zanzibar florins", "kb": "drift"}).json()["results"]
        top = hits[0]
        assert "Zanzibar florins" in top["markdown"]
        boxes = [r["bbox"] for r in top["regions"] if r["page"] == 1]
        assert any(b == pytest.approx(block["bbox"], abs=1e-4) for b in boxes), (boxes, block["bbox"])
        stale = client.post("/v1/search", json={"query": block["markdown"], "kb": "drift"}).json()["results"]
        assert all(block["markdown"] not in h["markdown"] for h in stale[:3] if h["pages"] == [1])
        assert client.get(f"/v1/documents/{doc}/markdown").text.count("Zanzibar florins") == 1


def _wait(predicate: Any, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_a_run_of_bad_pages_sends_one_signed_drift_alert(server: LiveServer, hook: Receiver) -> None:
    """Pages 2-3 of the 'drift' kb read well; then a run of bad pages (4-8) needs corrections. With a
    window of 10 and at least 6 reviews, the accept rate falls below 0.9 and the webhook fires once."""
    with server.client(headers={"X-API-Key": REVIEWER}) as client:
        doc = client.get("/v1/kbs/drift/review/next").json()["item"]["doc_id"]
        before = client.get("/v1/kbs/drift/quality").json()
        assert before["window"]["reviews"] == 1 and not before["window"]["alert"]  # page 1's correction
        for page in (2, 3):
            client.post(f"/v1/kbs/drift/review/{doc}/{page}/accept").raise_for_status()
        for page in range(4, 9):
            item = client.get("/v1/kbs/drift/review/next").json()["item"]
            assert item["page"] == page
            fix = {"blocks": [{"block": 0, "markdown": item["blocks"][0]["markdown"] + " (misread)"}]}
            client.post(f"/v1/kbs/drift/review/{doc}/{page}/correct", json=fix).raise_for_status()
        report = client.get("/v1/kbs/drift/quality").json()
        metrics = client.get("/metrics", headers={"X-API-Key": "admin-key-0123456789abcd"}).text
    _wait(lambda: len(hook.received) >= 1)
    time.sleep(0.5)  # a second alert would come now
    assert len(hook.received) == 1
    _status, headers, body = hook.received[0]
    assert verify(body, SECRET, headers[SIGNATURE_HEADER])
    event = json.loads(body)
    assert event["event"] == "drift.alert" and event["kb"] == "drift"
    # the 6th review opened it: 2 accepted of 6 (page 1 corrected, 2-3 accepted, 4-6 corrected)
    assert event["window"]["reviews"] == 6 and event["window"]["accept_rate"] == 0.3333
    window = report["window"]
    assert window["alert"] and window["reviews"] == 8 and window["accept_rate"] == 0.25
    [today] = report["days"]
    assert (today["pages"], today["reviewed"], today["accepted"], today["failed"]) == (8, 8, 2, 0)
    assert today["engine"] == "textlayer" and today["edit_distance_mean"] > 0
    assert 'opticite_drift_alert{kb="drift"} 1.0' in metrics
    assert 'opticite_review_accept_rate{kb="drift"} 0.25' in metrics
    assert 'opticite_reviews_total{engine="textlayer",kb="drift",mode="",verdict="corrected"}' in metrics


def test_queue_is_empty_once_every_page_is_reviewed(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, headers={"X-API-Key": REVIEWER}) as client:
        reply = client.get("/v1/kbs/drift/review/next").json()
    assert reply == {"pending": 0, "item": None}
