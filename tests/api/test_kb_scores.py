"""Kb isolation reaches scores: what another kb uploads never moves a kb's search scores; over real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload

pytestmark = pytest.mark.slow
KEY_ALPHA, KEY_BETA = "key-for-alpha-4f1a", "key-for-beta-9c2e"
PROBE = "zanzibarium payment terms"


def _ingest(client: httpx.Client, path: Path, kb: str) -> None:
    sub = upload(client, path, kb=kb).json()
    assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"


def _scores(client: httpx.Client, mode: str) -> list[tuple[str, float]]:
    reply = client.post("/v1/search", json={"query": PROBE, "mode": mode, "top_k": 5})
    assert reply.status_code == 200, reply.text
    return [(h["chunk_id"], h["score"]) for h in reply.json()["results"]]


def test_another_kbs_uploads_do_not_move_a_kbs_scores(tmp_path: Path) -> None:
    """The attack: beta uploads documents full of a term and watches alpha's score for it fall
    (collection-wide IDF), learning what alpha holds, or alpha learns what beta holds."""
    keys = [{"key": KEY_ALPHA, "kbs": ["alpha"]}, {"key": KEY_BETA, "kbs": ["beta"]}]
    settings = test_settings(tmp_path / "data", api_keys=keys)
    with (
        LiveServer(settings) as server,
        server.client(headers={"X-API-Key": KEY_ALPHA}) as alpha,
        server.client(headers={"X-API-Key": KEY_BETA}) as beta,
    ):
        _ingest(alpha, make_pdf(tmp_path / "alpha.pdf", pages=2, seed="zanzibarium"), "alpha")
        before = {mode: _scores(alpha, mode) for mode in ("sparse", "hybrid")}
        assert before["sparse"] and before["sparse"][0][1] > 0
        for n in range(2):
            _ingest(beta, make_pdf(tmp_path / f"beta{n}.pdf", pages=3, seed="zanzibarium"), "beta")
        assert {mode: _scores(alpha, mode) for mode in before} == before
