"""Webhooks: signed with a timestamp and per-kb secrets, retried with backoff against a loopback receiver
that fails first; targets vetted (special-use ranges, DNS rebinding); delivery outside the runner slot."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.errors import BadWebhookTarget
from api.schemas import DocumentPublic, JobPublic
from api.settings import WebhookSettings
from api.webhooks import SIGNATURE_HEADER, check_target, deliver_webhook, sign, verify
from tests.support.documents import make_pdf
from tests.support.servers import LiveServer, read_sse, test_settings, upload
from tests.support.webhooks import Receiver, SilentTarget

SECRET = "s3cret-for-tests"
KB_SECRET = "kb-s3cret-for-tests"
PUBLIC = "93.184.215.14"  # a globally routable address; nothing here must ever reach it


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://10.1.2.3/x",
        "http://[::1]/x",
        "http://169.254.169.254/x",  # cloud metadata (link-local)
        "http://100.100.100.200/x",  # a cloud metadata address in shared space 100.64/10
        "http://100.64.0.1/x",
        "http://192.0.0.170/x",  # special-purpose 192.0.0/24
        "http://198.18.0.1/x",  # benchmarking
        "http://224.0.1.1/x",  # multicast, though IANA calls it global
        "http://[fd00::1]/x",  # IPv6 unique local
        "http://[fe80::1]/x",
        "http://[::ffff:127.0.0.1]/x",  # IPv4-mapped
        "http://[64:ff9b::a00:1]/x",  # NAT64 of 10.0.0.1
        "http://[2002:7f00:1::1]/x",  # 6to4 of 127.0.0.1
        "http://0.0.0.0/x",
        "ftp://a/x",
        "http://[::1/x",
        "http://example.com:99999/x",
    ],
)
async def test_special_use_and_odd_targets_are_refused(url: str) -> None:
    with pytest.raises(BadWebhookTarget):
        await check_target(url)


async def test_every_resolved_address_is_vetted_and_the_first_is_pinned() -> None:
    async def mixed(host: str, port: int) -> list[str]:
        return [PUBLIC, "127.0.0.1"]

    with pytest.raises(BadWebhookTarget, match="127.0.0.1"):
        await check_target("http://mixed.test/x", resolve=mixed)
    assert await check_target("http://127.0.0.1/x", allow_private=True) == "127.0.0.1"
    assert await check_target(f"https://{PUBLIC}/x") == PUBLIC


def _event(kb: str = "default") -> tuple[JobPublic, DocumentPublic]:
    job = JobPublic(
        id="j1",
        document_id="d1",
        kind="ingest",
        state="done",
        stage="done",
        pages_done=1,
        pages_total=1,
        attempts=1,
    )
    doc = DocumentPublic.model_validate(
        {
            "id": "d1",
            "kb": kb,
            "filename": "a.pdf",
            "sha256": "0" * 64,
            "status": "done",
            "pages": 1,
            "chunks": 1,
        }
        | {"created": "2026-01-01T00:00:00Z"}
    )
    return job, doc


async def test_delivery_connects_to_the_address_it_vetted_not_a_second_answer() -> None:
    """The resolver answers 127.0.0.1, then 127.0.0.2: the POST goes to the first answer, with the
    original Host header, and nothing resolves the name again."""
    first = Receiver(failures=0)
    second = Receiver(failures=0, host="127.0.0.2", port=first.port)
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    calls: list[str] = []

    async def rebinding(host: str, port: int) -> list[str]:
        calls.append(host)
        return next(answers)

    settings = WebhookSettings(allow_private_targets=True, retries=0)
    try:
        async with httpx.AsyncClient() as client:
            url = f"http://hooks.test:{first.port}/hook"
            assert await deliver_webhook(client, url, *_event(), settings, resolve=rebinding)
    finally:
        first.close()
        second.close()
    assert calls == ["hooks.test"] and not second.received
    assert first.received[0][1]["Host"] == f"hooks.test:{first.port}"


@pytest.fixture
def rebinding_dns(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """`rebind.test` answers a public address twice, then 127.0.0.1 (the attack in issue 14, H4)."""
    real = socket.getaddrinfo
    answers: list[str] = []

    def getaddrinfo(host: object, port: object, *args: object, **kwargs: object) -> object:
        if host not in ("rebind.test", b"rebind.test"):  # anyio passes the name IDNA-encoded
            return real(host, port, *args, **kwargs)  # type: ignore[arg-type]
        answers.append(PUBLIC if len(answers) < 2 else "127.0.0.1")
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[-1], int(port)))]  # type: ignore[call-overload]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield answers


@pytest.mark.slow
def test_dns_rebinding_never_reaches_a_loopback_listener(tmp_path: Path, rebinding_dns: list[str]) -> None:
    receiver = Receiver(failures=0)
    hooks = {"timeout_s": 3, "retries": 2, "backoff_s": 0.05}
    settings = test_settings(tmp_path / "data", webhooks=hooks)
    try:
        # the asyncio loop, whose resolver is socket.getaddrinfo (uvloop's would bypass the fake DNS)
        with LiveServer(settings, loop="asyncio") as server, server.client() as client:
            url = f"http://rebind.test:{receiver.port}/hook"
            sub = upload(client, make_pdf(tmp_path / "a.pdf", pages=1), webhook_url=url).json()
            assert "job_id" in sub, sub
            assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
            deadline = time.monotonic() + 60
            while len(rebinding_dns) < 3 and time.monotonic() < deadline:  # upload, 1st attempt, 2nd
                time.sleep(0.05)
            time.sleep(1)  # a POST that got through would have arrived by now
    finally:
        receiver.close()
    assert len(rebinding_dns) >= 3 and receiver.received == []


@pytest.mark.slow
def test_completion_webhook_is_signed_per_kb_with_a_timestamp_and_retried(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "hooked.pdf", pages=1)
    receiver = Receiver(failures=2)
    hooks = {
        "secret": SECRET,
        "kb_secrets": {"hooked": KB_SECRET},
        "allow_private_targets": True,
        "backoff_s": 0.05,
        "retries": 3,
    }
    settings = test_settings(tmp_path / "data", webhooks=hooks)
    try:
        with LiveServer(settings) as server, server.client() as client:
            sub = upload(client, pdf, kb="hooked", webhook_url=receiver.url).json()
            assert read_sse(client, f"/v1/jobs/{sub['job_id']}/events")[-1][1]["state"] == "done"
            deadline = time.monotonic() + 10
            while len(receiver.received) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        receiver.close()
    assert [status for status, _, _ in receiver.received] == [500, 500, 200]
    _, headers, body = receiver.received[-1]
    signature = headers[SIGNATURE_HEADER]
    assert verify(body, KB_SECRET, signature)
    assert not verify(body, SECRET, signature)  # the kb's own secret, not the shared one
    assert not verify(body + b" ", KB_SECRET, signature)
    assert not verify(body, KB_SECRET, signature, now=time.time() + 600)  # a replay ten minutes on
    event = json.loads(body)
    assert event["event"] == "job.done" and event["job"]["id"] == sub["job_id"]
    assert event["document"]["id"] == sub["document_id"] and event["document"]["status"] == "done"


def test_signature_binds_the_timestamp() -> None:
    body = b'{"event":"job.done"}'
    signature = sign(body, SECRET, 1_700_000_000)
    assert signature.startswith("t=1700000000,v1=")
    assert verify(body, SECRET, signature, now=1_700_000_100)
    forged = signature.replace("t=1700000000", "t=1700000200")  # a fresh timestamp on an old signature
    assert not verify(body, SECRET, forged, now=1_700_000_200)
    assert not verify(body, SECRET, "sha256=abc") and not verify(body, SECRET, "t=x,v1=y")


@pytest.mark.slow
def test_a_hanging_webhook_does_not_hold_the_runner_slot(tmp_path: Path) -> None:
    """Two jobs whose webhook target never answers, one runner slot: a third job still runs at once."""
    target = SilentTarget()
    hooks = {"allow_private_targets": True, "timeout_s": 600, "retries": 3}
    settings = test_settings(tmp_path / "data", webhooks=hooks, jobs={"concurrency": 1})
    try:
        with LiveServer(settings) as server, server.client() as client:
            hooked = [
                upload(
                    client, make_pdf(tmp_path / f"h{n}.pdf", pages=1, seed=f"h{n}"), webhook_url=target.url
                )
                for n in range(2)
            ]
            plain = upload(client, make_pdf(tmp_path / "p.pdf", pages=1, seed="plain"), kb="other").json()
            assert (
                read_sse(client, f"/v1/jobs/{plain['job_id']}/events", timeout_s=120)[-1][1]["state"]
                == "done"
            )
            for sub in hooked:
                assert client.get(f"/v1/jobs/{sub.json()['job_id']}").json()["state"] == "done"
            deadline = time.monotonic() + 30
            while len(target.accepted) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(target.accepted) == 2  # both deliveries are still waiting for an answer
    finally:
        target.close()
