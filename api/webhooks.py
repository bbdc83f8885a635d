"""Webhooks: a signed JSON POST when a job ends (or a kb's OCR drifts: `send_event`), retried with
backoff, to vetted targets only.

Signature: `X-Opticite-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">`, keyed
by the kb's secret (`webhooks.kb_secrets`) or `webhooks.secret`; a receiver checks it with `verify`
and refuses old timestamps (replays). Targets must be globally routable (`is_public_address`:
loopback, private, shared 100.64/10, link-local and metadata, ULA, reserved, multicast and the IPv4
inside IPv6 forms are refused) unless `webhooks.allow_private_targets` is set. Each attempt
resolves the host once, vets every address and connects to the vetted one (pinned: no second
resolution for DNS rebinding to answer). Deliveries run in the background (`WebhookSender`), so a
slow target never holds a job's runner slot.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import httpx

from api.errors import BadWebhookTarget
from api.schemas import DocumentPublic, JobPublic
from api.settings import WebhookSettings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Opticite-Signature"
RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
SIGNATURE_TOLERANCE_S = 300
NAT64 = ipaddress.ip_network("64:ff9b::/96")
Resolver = Callable[[str, int], Awaitable[list[str]]]  # (host, port) -> addresses, in preference order


def sign(body: bytes, secret: str, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(
    body: bytes,
    secret: str,
    signature: str,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when `signature` signs `body` with `secret` and its timestamp is within `tolerance_s` of now."""
    fields = dict(part.split("=", 1) for part in signature.split(",") if "=" in part)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    return hmac.compare_digest(sign(body, secret, timestamp), f"t={timestamp},v1={fields.get('v1', '')}")


def is_public_address(address: str) -> bool:
    """Globally routable unicast, and so is any IPv4 address carried inside an IPv6 one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone ("fe80::1%eth0") is link-local anyway
    inner: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        inner += [a for a in (ip.ipv4_mapped, ip.sixtofour, *(ip.teredo or ())) if a is not None]
        if ip in NAT64:
            inner.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
    return all(a.is_global and not a.is_multicast for a in inner)


async def system_resolve(host: str, port: int) -> list[str]:
    # socket.getaddrinfo in a thread, whatever the loop (uvloop resolves in libuv otherwise)
    infos = await asyncio.to_thread(socket.getaddrinfo, host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _parts(url: str) -> tuple[SplitResult, int]:
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:  # "http://[::1/", a port past 65535
        parts, port = urlsplit(""), 0
    if parts.scheme not in ("http", "https") or not parts.hostname or not 0 < port < 65536:
        raise BadWebhookTarget(f"webhook_url {url!r} must be an absolute http(s) URL with a valid port")
    return parts, port


async def check_target(url: str, allow_private: bool = False, resolve: Resolver = system_resolve) -> str:
    """The address to connect to for `url`; BadWebhookTarget for a non-http(s) URL, a host that does not
    resolve, or (unless `allow_private`) any resolved address that is not public."""
    parts, port = _parts(url)
    host = parts.hostname or ""
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        try:
            addresses = await resolve(host, port)
        except OSError as exc:
            raise BadWebhookTarget(f"webhook_url host {host!r} does not resolve") from exc
    if not addresses:
        raise BadWebhookTarget(f"webhook_url host {host!r} does not resolve")
    blocked = [a for a in addresses if not is_public_address(a)]
    if blocked and not allow_private:
        raise BadWebhookTarget(
            f"webhook_url {url!r} points at a non-public address ({', '.join(blocked)}); use a public "
            "host, or set webhooks.allow_private_targets for a single-host deployment"
        )
    return addresses[0]


def pinned(url: str, address: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """`url` with its host replaced by `address`; the Host header and TLS name stay the original host's."""
    parts, _ = _parts(url)
    userinfo = parts.netloc.rpartition("@")[0]
    host = f"[{address}]" if ":" in address else address
    netloc = (f"{userinfo}@" if userinfo else "") + host + (f":{parts.port}" if parts.port else "")
    extensions = {"sni_hostname": parts.hostname or ""} if parts.scheme == "https" else {}
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": parts.netloc.rpartition("@")[2]}, extensions


def build_payload(job: JobPublic, document: DocumentPublic) -> bytes:
    body = {
        "event": f"job.{job.state}",
        "job": job.model_dump(),
        "document": document.model_dump(mode="json"),
    }
    return json.dumps(body, separators=(",", ":"), sort_keys=True).encode()


async def deliver_webhook(
    client: httpx.AsyncClient,
    url: str,
    job: JobPublic,
    document: DocumentPublic,
    settings: WebhookSettings,
    resolve: Resolver = system_resolve,
) -> bool:
    """POST the job's signed event (see `post_signed`)."""
    body = build_payload(job, document)
    secret = settings.kb_secrets.get(document.kb, settings.secret)
    return await post_signed(client, url, body, f"job.{job.state}", secret, settings, resolve)


async def post_signed(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    event: str,
    secret: str | None,
    settings: WebhookSettings,
    resolve: Resolver = system_resolve,
) -> bool:
    """POST `body` signed with `secret` to a vetted target; retry connection errors, 408/429/5xx with
    doubling backoff. True once delivered."""
    delay = settings.backoff_s
    for attempt in range(settings.retries + 1):
        try:
            address = await check_target(url, settings.allow_private_targets, resolve)
        except BadWebhookTarget as exc:
            log.warning("webhook %s not sent: %s", event, exc.message)
            return False
        target, headers, extensions = pinned(url, address)
        headers |= {
            "Content-Type": "application/json",
            "X-Opticite-Event": event,
            "X-Opticite-Delivery": str(uuid.uuid4()),
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(body, secret, int(time.time()))
        try:
            reply = await client.post(
                target,
                content=body,
                headers=headers,
                timeout=settings.timeout_s,
                extensions=extensions,
                follow_redirects=False,  # a redirect would lead to a target nobody vetted
            )
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


class WebhookSender:
    """Delivers job events as background tasks on the running loop, outside any runner slot."""

    def __init__(
        self,
        client: Callable[[], httpx.AsyncClient],
        settings: WebhookSettings,
        resolve: Resolver = system_resolve,
    ) -> None:
        self.client = client
        self.settings = settings
        self.resolve = resolve
        self._tasks: set[asyncio.Task[bool]] = set()

    def send(self, url: str, job: JobPublic, document: DocumentPublic) -> None:
        self._start(deliver_webhook(self.client(), url, job, document, self.settings, self.resolve), job.id)

    def send_event(self, url: str, kb: str, event: str, payload: dict[str, object]) -> None:
        """Another event than a job's (the drift alert), signed with the kb's secret."""
        body = json.dumps({"event": event} | payload, separators=(",", ":"), sort_keys=True).encode()
        secret = self.settings.kb_secrets.get(kb, self.settings.secret)
        self._start(post_signed(self.client(), url, body, event, secret, self.settings, self.resolve), event)

    def _start(self, delivery: Coroutine[Any, Any, bool], name: str) -> None:
        task = asyncio.get_running_loop().create_task(delivery, name=f"webhook-{name}")
        self._tasks.add(task)  # a strong reference until it ends; the loop keeps only weak ones
        task.add_done_callback(self._tasks.discard)

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def aclose(self) -> None:
        """Stop deliveries still retrying (shutdown)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
