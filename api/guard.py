"""The HTTP edge: an ASGI middleware every request passes before a route reads its body.

In order: the Host must be one we serve (against DNS rebinding); where API keys are set, `/v1` and
`/metrics` need a valid one (401 before any body is read; wrong keys are rate limited per
address); a state-changing request must come from our own origin and carry JSON (multipart on the
upload routes), so no page elsewhere can post a simple form to us; its body is counted while it
streams (413 at once when Content-Length is over the limit, else once the count passes it). Every
reply gets the security headers. Starlette's own body limit is not used: it answers in plain
text, lets the app start on an oversized declared body, and keeps the connection open.
"""

from __future__ import annotations

import ipaddress
import logging
import time
from collections import deque
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import metrics
from api.auth import key_scope, presented_key
from api.errors import (
    ApiError,
    BadHost,
    BodyTooLarge,
    CrossOrigin,
    TooManyRequests,
    UnsupportedMediaType,
    UploadTooLarge,
)
from api.routes import facade
from api.settings import Settings, SettingsError
from api.uploads import MULTIPART_SLACK_BYTES, too_large_message

log = logging.getLogger(__name__)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
UPLOAD_ROUTES = frozenset({("POST", "/v1/documents"), ("POST", "/v1/ocr")})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
KEYED_PREFIXES = ("/v1/", "/metrics")
UNCHECKED_HOST_PATHS = frozenset({"/healthz"})  # probes reach it by the pod's address
FAILED_KEY_WINDOW_S = 60.0
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


class BodyOverLimit(HTTPException):
    """Raised from `receive` as the body streams past the limit: FastAPI's body parsing lets an
    HTTPException through unchanged, and the app's handler renders it with `code`."""

    def __init__(self, error: ApiError) -> None:
        super().__init__(error.status, error.message)
        self.code = error.code


def error_reply(status: int, code: str, message: str, close: bool = False) -> JSONResponse:
    """The one error shape, `{"error": {"code", "message"}}`, counted in the metrics."""
    metrics.HTTP_ERRORS.labels(code=code).inc()
    headers = {"connection": "close"} if close else None
    return JSONResponse({"error": {"code": code, "message": message}}, status, headers=headers)


def refusal_reply(path: str, refusal: ApiError, close: bool) -> JSONResponse:
    """The guard's refusal in the shape the path's clients read (OpenAI's on the facade)."""
    if not facade.serves(path):
        return error_reply(refusal.status, refusal.code, refusal.message, close=close)
    metrics.HTTP_ERRORS.labels(code=refusal.code).inc()
    reply = facade.error_response(refusal.status, refusal.code, refusal.message, refusal)
    if close:
        reply.headers["connection"] = "close"
    return reply


def host_name(host_header: str) -> str:
    """The name in a Host header without its port ("[::1]:8000" -> "::1"); "" when unparsable."""
    try:
        return (urlsplit("//" + host_header).hostname or "").lower()
    except ValueError:
        return ""


def is_loopback(host: str) -> bool:
    try:
        return host in LOOPBACK_HOSTS or ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_exposure(settings: Settings, host: str) -> None:
    """`opticite serve` on `host`: with no API keys only loopback, unless open access is intended."""
    if settings.api_keys or settings.http.open_access or is_loopback(host):
        return
    raise SettingsError(
        f"refusing to serve on {host} with no API keys: anyone who can reach it could read and delete "
        "every document. Set api_keys (OPTICITE_API_KEYS), serve on 127.0.0.1, or, if open access is "
        "intended, set http.open_access (OPTICITE_HTTP__OPEN_ACCESS=true)."
    )


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The Host names served (None: any): loopback names and http.allowed_hosts."""
    if "*" in settings.http.allowed_hosts:
        return None
    return LOOPBACK_HOSTS | {h.lower() for h in settings.http.allowed_hosts}


class FailedKeys:
    """Wrong API keys per client address within the last minute."""

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._seen: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        times = self._seen.setdefault(address, deque())
        while times and times[0] < now - FAILED_KEY_WINDOW_S:
            times.popleft()
        return times

    def over(self, address: str) -> bool:
        return address in self._seen and len(self._recent(address, time.monotonic())) >= self.per_minute

    def record(self, address: str) -> None:
        now = time.monotonic()
        self._recent(address, now).append(now)
        if len(self._seen) > 10_000:  # forget addresses that stopped failing
            self._seen = {a: t for a, t in self._seen.items() if self._recent(a, now)}


class RequestGuard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = allowed_hosts(settings)
        self.failed_keys = FailedKeys(settings.http.failed_keys_per_minute)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = headers.get("content-length", "")
        declared_bytes = int(declared) if declared.isdigit() else 0
        has_body = declared_bytes > 0 or "transfer-encoding" in headers
        upload = (scope["method"], scope["path"]) in UPLOAD_ROUTES
        limit, too_large = self.body_limit(upload)
        try:
            self.check(scope, headers, has_body, upload)
            if declared_bytes > limit:
                raise too_large
        except ApiError as refusal:  # answered before the app runs: the body is never read
            reply = refusal_reply(str(scope["path"]), refusal, close=has_body)
            await reply(scope, receive, self.secured(send))
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyOverLimit(too_large)
            return message

        async def closing(message: Message) -> None:
            # the rest of an oversized body is never read: close so the client stops sending
            if message["type"] == "http.response.start" and received > limit:
                message = {**message, "headers": [*message.get("headers", []), (b"connection", b"close")]}
            await send(message)

        await self.app(scope, counted, self.secured(closing))

    def body_limit(self, upload: bool) -> tuple[int, ApiError]:
        """The most bytes a body may have, and the error past it."""
        if upload:
            limit = self.settings.max_upload_bytes
            return limit + MULTIPART_SLACK_BYTES, UploadTooLarge(too_large_message(limit))
        limit = self.settings.http.max_body_bytes
        return limit, BodyTooLarge(f"the request body is over the limit of {limit} bytes; send less")

    def check(self, scope: Scope, headers: Headers, has_body: bool, upload: bool) -> None:
        """Raise the first refusal that applies: Host, API key, Origin, media type."""
        path, method = str(scope["path"]), str(scope["method"])
        host = headers.get("host", "")
        if self.hosts is not None and path not in UNCHECKED_HOST_PATHS and host_name(host) not in self.hosts:
            raise BadHost(
                f"this server does not answer to the host {host[:100]!r}; add it to http.allowed_hosts "
                "(OPTICITE_HTTP__ALLOWED_HOSTS)"
            )
        if self.settings.api_keys and path.startswith(KEYED_PREFIXES):
            self.check_key(scope, headers)
        if method in SAFE_METHODS or not path.startswith("/v1/"):
            return
        origin = headers.get("origin")
        if origin is not None and not self.same_origin(origin, host):
            raise CrossOrigin(
                f"requests from the page at {origin[:100]!r} are refused; add it to "
                "http.allowed_origins to allow it"
            )
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if upload and media != "multipart/form-data":
            raise UnsupportedMediaType("send the file as multipart/form-data (a 'file' field)")
        if (
            not upload
            and (media or has_body)
            and not (media == "application/json" or media.endswith("+json"))
        ):
            raise UnsupportedMediaType("send the request body as JSON (Content-Type: application/json)")

    def same_origin(self, origin: str, host: str) -> bool:
        """The page's origin names the Host it posts to (the scheme may differ behind a TLS proxy),
        or is allowed; "null" (sandboxed frames, files) never is."""
        own = {f"{scheme}://{host}".lower() for scheme in ("http", "https")}
        return origin in self.settings.http.allowed_origins or origin.lower() in own

    def check_key(self, scope: Scope, headers: Headers) -> None:
        address = scope["client"][0] if scope.get("client") else ""
        if self.failed_keys.over(address):
            raise TooManyRequests("too many requests with a wrong API key from this address; wait a minute")
        try:
            key_scope(self.settings, headers.get("authorization"), headers.get("x-api-key"))
        except ApiError:
            if presented_key(headers.get("authorization"), headers.get("x-api-key")):
                self.failed_keys.record(address)
            raise

    def secured(self, send: Send) -> Send:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
            await send(message)

        return with_headers
