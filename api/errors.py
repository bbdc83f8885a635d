"""Errors raised by the service layer, rendered by the app's one handler as {"error": {"code", "message"}}.

ApiError                 (an OpticiteError: ingest/errors.py draws the root)
├── NotFound             (404)
│   ├── UnknownDocument
│   ├── JobNotFound
│   └── PageNotFound
├── Unauthorized         (401) no or unknown API key
├── Forbidden            (403) the key lacks the kb asked for
│   └── CrossOrigin            a state-changing request from another site's page
├── UploadTooLarge       (413)
├── OcrRequestTooLarge   (413) more pages or pixels than one /v1/ocr request may OCR
├── BodyTooLarge         (413) any other body over http.max_body_bytes
├── UnsupportedMediaType (415) a body that is not JSON (multipart on upload routes)
├── TooManyRequests      (429) too many wrong keys, too many open event streams
├── BadRequest           (400) a parameter that validation cannot express
│   └── BadHost                a Host header not in http.allowed_hosts
├── Conflict             (409) the document is busy
│   └── EmbedderMismatch       the kb was built with another embedder: reindex it
├── BadWebhookTarget     (422) loopback/private/unsupported webhook URL
├── ServiceUnavailable   (503) the job queue (Redis) cannot be reached
└── OcrBusy              (429) every /v1/ocr slot is taken: try again shortly
"""

from __future__ import annotations

from ingest.errors import OpticiteError


class ApiError(OpticiteError):
    code = "api_error"


class NotFound(ApiError):
    code = "not_found"
    status = 404


class UnknownDocument(NotFound):
    code = "unknown_document"

    def __init__(self, doc_id: str) -> None:
        super().__init__(f"no document {doc_id!r}; list documents with GET /v1/documents")


class JobNotFound(NotFound):
    code = "unknown_job"

    def __init__(self, job_id: str) -> None:
        super().__init__(f"no job {job_id!r}; the document's job id is in GET /v1/documents/{{id}}")


class PageNotFound(NotFound):
    code = "unknown_page"


class Unauthorized(ApiError):
    code = "unauthorized"
    status = 401


class Forbidden(ApiError):
    code = "forbidden"
    status = 403


class CrossOrigin(Forbidden):
    code = "cross_origin"


class UploadTooLarge(ApiError):
    code = "upload_too_large"
    status = 413


class BodyTooLarge(ApiError):
    code = "body_too_large"
    status = 413


class UnsupportedMediaType(ApiError):
    code = "unsupported_media_type"
    status = 415


class TooManyRequests(ApiError):
    code = "too_many_requests"
    status = 429


class BadRequest(ApiError):
    code = "bad_request"
    status = 400


class BadHost(BadRequest):
    code = "bad_host"


class Conflict(ApiError):
    code = "conflict"
    status = 409


class EmbedderMismatch(Conflict):
    code = "embedder_mismatch"


class BadWebhookTarget(ApiError):
    code = "bad_webhook_target"
    status = 422


class ServiceUnavailable(ApiError):
    code = "service_unavailable"
    status = 503


class OcrRequestTooLarge(ApiError):
    code = "ocr_request_too_large"
    status = 413


class OcrBusy(ApiError):
    code = "ocr_busy"
    status = 429


# Service faults: their messages may name internal URLs and quote exceptions, so a client gets a
# fixed sentence per code and the message goes to the log.
SERVICE_FAULTS = {
    "service_error": "a service behind this server failed",
    "engine_unavailable": "the OCR server could not be reached",
    "engine_timeout": "the OCR server did not answer in time",
    "engine_bad_response": "the OCR server answered with an error",
    "retrieval_service_error": "a service behind search failed",
    "embedder_unavailable": "the embedding server could not be reached",
    "embedder_timeout": "the embedding server did not answer in time",
    "embedder_bad_response": "the embedding server answered with an error",
    "llm_unavailable": "the language model server could not be reached",
    "llm_timeout": "the language model server did not answer in time",
    "llm_bad_response": "the language model server answered with an error",
}


INTERNAL_ERROR = "an internal error occurred; the server log has the details"


def public_message(code: str, message: str) -> str:
    """What a client sees of an error's message: a service fault's fixed sentence, else the message."""
    if code not in SERVICE_FAULTS:
        return message
    return f"{SERVICE_FAULTS[code]}; try again later, and if it goes on ask the operator (the server log has the details)"


def public_reason(reason: str | None) -> str | None:
    """A job's or document's recorded error ("code: message") as a client may see it."""
    code, sep, message = (reason or "").partition(": ")
    if not sep or (code not in SERVICE_FAULTS and code != "internal_error"):
        return reason
    if code == "internal_error":  # the job runner records the exception's text
        return "internal_error: the job failed on an internal error; the server log has the details"
    return f"{code}: {public_message(code, message)}"
