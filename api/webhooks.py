"""Job webhooks: a signed JSON POST when a job ends, retried with backoff, to vetted targets only.

The signature header is `X-Opticite-Signature: sha256=<hex HMAC-SHA256 of the raw body>` keyed
by `webhooks.secret`. Loopback, private, link-local and reserved addresses are refused unless
`webhooks.allow_private_targets` is set (the check runs again at delivery, against DNS rebinding).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import uuid
from urllib.parse import urlsplit

import httpx

from api.errors import BadWebhookTarget
from api.schemas import DocumentPublic, JobPublic
from api.settings import WebhookSettings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Opticite-Signature"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, secret: str, signature: str) -> bool:
    return hmac.compare_digest(sign(body, secret), signature)


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    return not (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
    )


def check_target(url: str, allow_private: bool = False) -> None:
    """Raise BadWebhookTarget for a non-http(s) URL or one resolving to a non-public address."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:  # an unclosed "[", a port past 65535
        raise BadWebhookTarget(f"webhook_url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadWebhookTarget(f"webhook_url {url!r} must be an absolute http(s) URL")
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, port or 443, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise BadWebhookTarget(f"webhook_url host {parts.hostname!r} does not resolve: {exc}") from exc
    blocked = sorted({str(info[4][0]) for info in infos if not _public(str(info[4][0]))})
    if blocked:
        raise BadWebhookTarget(
            f"webhook_url {url!r} points at a private or loopback address ({', '.join(blocked)}); use a public "
            "host, or set webhooks.allow_private_targets for a single-host deployment"
        )


def build_payload(job: JobPublic, document: DocumentPublic) -> bytes:
    body = {
        "event": f"job.{job.state}",
        "job": job.model_dump(),
        "document": document.model_dump(mode="json"),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


async def deliver_webhook(
    client: httpx.AsyncClient, url: str, job: JobPublic, document: DocumentPublic, settings: WebhookSettings
) -> bool:
    """POST the signed event; retry connection errors, 408/429/5xx with doubling backoff."""
    try:
        check_target(url, settings.allow_private_targets)
    except BadWebhookTarget as exc:
        log.warning("webhook for job %s not sent: %s", job.id, exc.message)
        return False
    body = build_payload(job, document)
    headers = {
        "Content-Type": "application/json",
        "X-Opticite-Event": f"job.{job.state}",
        "X-Opticite-Delivery": str(uuid.uuid4()),
    }
    if settings.secret:
        headers[SIGNATURE_HEADER] = sign(body, settings.secret)
    delay = settings.backoff_s
    for attempt in range(settings.retries + 1):
        try:
            reply = await client.post(url, content=body, headers=headers, timeout=settings.timeout_s)
            if reply.status_code < 300:
                return True
            if reply.status_code not in RETRY_STATUSES:
                log.warning("webhook %s refused with %s; not retried", url, reply.status_code)
                return False
            reason = f"HTTP {reply.status_code}"
        except httpx.HTTPError as exc:
            reason = f"{type(exc).__name__}: {exc}"
        log.info("webhook %s attempt %d failed (%s)", url, attempt + 1, reason)
        if attempt < settings.retries:
            await asyncio.sleep(delay)
            delay *= 2
    return False
