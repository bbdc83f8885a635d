"""The few opticite HTTP calls the operator and trigger make, and the content hash the server keys on.

A document's hash is the sha256 of the file's bytes (the server's `ingest/digest.py`), so a file already
in the kb is found with `GET /v1/documents?kb=K&sha256=H` and never sent again.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx

# document states after which nothing changes without a new upload, retry or reindex
TERMINAL_STATES = frozenset({"done", "partial", "failed", "cancelled"})
TIMEOUT = httpx.Timeout(120.0, connect=10.0)
RETRIES = 3  # connection attempts per request (httpx retries connect errors only)


class OpticiteApiError(Exception):
    """The server refused a request, or did not answer; `message` says which and why."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.status = status

    @property
    def transient(self) -> bool:
        return self.status == 0 or self.status == 429 or self.status >= 500


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()


def headers(api_key: str | None) -> dict[str, str]:
    return {"X-API-Key": api_key} if api_key else {}


def checked(reply: httpx.Response) -> Any:
    """The reply's JSON, or OpticiteApiError with the server's `{"error": {code, message}}`."""
    if reply.status_code < 400:
        return reply.json()
    try:
        error = reply.json()["error"]
        message = f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        message = f"HTTP {reply.status_code}: {reply.text[:200]}"
    raise OpticiteApiError(message, reply.status_code)


def unreachable(base_url: str, exc: httpx.TransportError) -> OpticiteApiError:
    return OpticiteApiError(
        f"the opticite server at {base_url} does not answer ({type(exc).__name__}: {exc})"
    )


class OpticiteClient:
    """Blocking calls for the operator's short first step (hash, find, upload)."""

    def __init__(self, base_url: str, api_key: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(
            base_url=self.base_url,
            headers=headers(api_key),
            timeout=TIMEOUT,
            transport=httpx.HTTPTransport(retries=RETRIES),
        )

    def __enter__(self) -> OpticiteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            return checked(self.http.request(method, path, **kwargs))
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc

    def find(self, kb: str, sha256: str) -> dict[str, Any] | None:
        """The kb's document with this content hash, or None."""
        found = self._call("GET", "/v1/documents", params={"kb": kb, "sha256": sha256, "limit": 1})
        return found["documents"][0] if found["documents"] else None

    def upload(self, path: Path, kb: str, engine: str | None, tags: list[str]) -> dict[str, Any]:
        """Queue the file; the reply's `document_id` and `job_id`."""
        form = (
            {"kb": kb} | ({"engine": engine} if engine else {}) | ({"tags": ",".join(tags)} if tags else {})
        )
        with path.open("rb") as fh:
            return dict(self._call("POST", "/v1/documents", data=form, files={"file": (path.name, fh)}))
