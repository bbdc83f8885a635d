"""Webhooks: signed, retried with backoff against a loopback receiver that fails first; targets vetted."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from api.errors import BadWebhookTarget
from api.webhooks import SIGNATURE_HEADER, check_target, verify
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload
from tests.support.webhooks import Receiver

SECRET = "s3cret-for-tests"


def test_private_and_odd_targets_are_refused_unless_allowed() -> None:
    for url in (
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/x",
        "ftp://a/x",
    ):
        with pytest.raises(BadWebhookTarget):
            check_target(url)
    check_target("http://127.0.0.1/x", allow_private=True)


@pytest.mark.slow
def test_completion_webhook_is_signed_and_retried(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "hooked.pdf", pages=1)
    receiver = Receiver(failures=2)
    hooks = {"secret": SECRET, "allow_private_targets": True, "backoff_s": 0.05, "retries": 3}
    settings = test_settings(tmp_path / "data", webhooks=hooks)
    try:
        with LiveServer(settings) as server, server.client() as client:
            sub = upload(client, pdf, webhook_url=receiver.url).json()
            assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
            deadline = time.monotonic() + 10
            while len(receiver.received) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        receiver.close()
    assert [status for status, _, _ in receiver.received] == [500, 500, 200]
    _, headers, body = receiver.received[-1]
    assert verify(body, SECRET, headers[SIGNATURE_HEADER])
    assert not verify(body + b" ", SECRET, headers[SIGNATURE_HEADER])
    event = json.loads(body)
    assert event["event"] == "job.done" and event["job"]["id"] == sub["job_id"]
    assert event["document"]["id"] == sub["document_id"] and event["document"]["status"] == "done"
