"""Errors raised by the service layer, rendered by the app's one handler as {"error": {"code", "message"}}.

ApiError                 (an OpticiteError: ingest/errors.py draws the root)
├── NotFound             (404)
│   ├── UnknownDocument
│   ├── JobNotFound
│   └── PageNotFound
├── Unauthorized         (401) no or unknown API key
├── Forbidden            (403) the key lacks the kb asked for
├── UploadTooLarge       (413)
├── OcrRequestTooLarge   (413) more pages or pixels than one /v1/ocr request may OCR
├── BadRequest           (400) a parameter that validation cannot express
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


class UploadTooLarge(ApiError):
    code = "upload_too_large"
    status = 413


class BadRequest(ApiError):
    code = "bad_request"
    status = 400


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
