"""What a route may answer besides its result, as OpenAPI `responses` for `/openapi.json`.

Every /v1 route passes the HTTP edge (api/guard.py) and request validation, so each may give the
errors of `EDGE`; a route adds its own (404 for an unknown id, 409 for a busy document or a kb built
with another embedder) and the media types it serves other than JSON. Errors have one shape,
`ErrorBody`; the OpenAI facade's are OpenAI's, `OpenAiErrorBody`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

Responses = dict[int | str, dict[str, Any]]


class ErrorDetail(BaseModel):
    code: str  # stable, snake_case: what a client branches on
    message: str  # what happened and what to do


class ErrorBody(BaseModel):
    error: ErrorDetail


class OpenAiErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str


class OpenAiErrorBody(BaseModel):
    error: OpenAiErrorDetail


DESCRIPTIONS: dict[int | str, str] = {
    400: "a bad parameter, a body that is not valid JSON, or a Host this server does not answer to",
    401: "no API key, or one that is not valid (where keys are set)",
    403: "the key may not use this kb, or the request came from another site's page",
    404: "no such document, job, page, kb or model (or one outside the key's kbs)",
    409: "the document is being processed, or the kb was built with another embedder (reindex it)",
    413: "the body or upload is over the limit",
    415: "the body is not JSON (multipart/form-data on uploads), or the file type is not supported",
    422: "a field is missing, of the wrong type or out of range",
    429: "too many wrong keys from this address, too many open event streams, or every OCR slot busy",
    "5XX": "a service behind this server failed or did not answer (the server log has the details)",
}
EDGE_STATUSES: tuple[int | str, ...] = (400, 401, 403, 413, 415, 422, 429, "5XX")


def errors(*statuses: int | str, body: type[BaseModel] = ErrorBody) -> Responses:
    return {status: {"model": body, "description": DESCRIPTIONS[status]} for status in statuses}


EDGE = errors(*EDGE_STATUSES)
OPENAI_EDGE = errors(*EDGE_STATUSES, body=OpenAiErrorBody)
NOT_FOUND = errors(404)
CONFLICT = errors(409)


def content(media_type: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """A 200 reply of `media_type` (added to the route's JSON, if it has one); a string by default."""
    return {"description": description, "content": {media_type: {"schema": schema or {"type": "string"}}}}


BINARY = {"type": "string", "format": "binary"}
# before OpenAPI 3.2 (FastAPI writes 3.1) an event stream's schema describes each event
SERVER_SENT_EVENT = {
    "type": "object",
    "required": ["data"],
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "JSON; `[DONE]` ends an OpenAI stream"},
    },
}
EVENT_STREAM = content("text/event-stream", "server-sent events", SERVER_SENT_EVENT)
