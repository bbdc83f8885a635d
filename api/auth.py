"""API keys: `Authorization: Bearer KEY` or `X-API-Key: KEY`, each scoped to a list of kbs (and, with
`review: true`, allowed to accept and correct OCR in the review queue of those kbs).

With no keys configured, auth is off and every kb is visible. The scope a request gets is
`None` (every kb) or the key's list of kbs; documents outside it answer 404, kbs outside it 403.
"""

from __future__ import annotations

import hmac

from api.errors import Forbidden, Unauthorized
from api.settings import ApiKey, Settings


def presented_key(authorization: str | None, x_api_key: str | None) -> str | None:
    if x_api_key:
        return x_api_key.strip()
    if authorization and authorization[:7].lower() == "bearer ":
        return authorization[7:].strip()
    return None


def find_key(keys: list[ApiKey], presented: str) -> ApiKey | None:
    """Constant-time comparison against every configured key."""
    found = None
    for key in keys:
        if hmac.compare_digest(key.key.encode(), presented.encode()):
            found = key
    return found


def key_scope(settings: Settings, authorization: str | None, x_api_key: str | None) -> list[str] | None:
    """The kbs this request may read (None = all); raises Unauthorized for a missing/unknown key."""
    return presented_scope(settings, presented_key(authorization, x_api_key))


def presented_scope(settings: Settings, presented: str | None) -> list[str] | None:
    """The kbs the key `presented` may read (None = all); Unauthorized for a missing/unknown key."""
    if not settings.api_keys:
        return None
    if not presented:
        raise Unauthorized(
            "this server needs an API key: send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
        )
    key = find_key(settings.api_keys, presented)
    if key is None:
        raise Unauthorized("the API key is not valid; check it or ask the operator for one")
    return None if "*" in key.kbs else list(key.kbs)


def require_kb(scope: list[str] | None, kb: str) -> None:
    if scope is not None and kb not in scope:
        raise Forbidden(f"this API key may not use kb {kb!r}; it may use: {', '.join(scope)}")


def reviewer_name(settings: Settings, presented: str | None, kb: str) -> str | None:
    """Who reviews OCR in `kb`: the key's name (None with auth off); Forbidden for a key without
    review rights on that kb."""
    require_kb(presented_scope(settings, presented), kb)
    if not settings.api_keys:
        return None
    key = find_key(settings.api_keys, presented or "")
    assert key is not None  # presented_scope refused a missing or unknown key
    if not key.review:
        raise Forbidden(
            f"this API key may read kb {kb!r} but not review its OCR; ask the operator for a key with review: true"
        )
    return key.name or f"key {key.key[:4]}…"
