"""The error root of every package, and the errors raised by ingestion.

OpticiteError                     (everything opticite raises on purpose: a stable `code`, an HTTP
│                                  `status` and a `message` for people; `to_body()` is the wire shape)
├── IngestError                   (below)
├── RetrievalError                retrieval/errors.py
├── ApiError                      api/errors.py
├── SettingsError                 api/settings.py
├── CliError                      api/cli_files.py
└── ServerError                   api/server_info.py (the announced server refused or is unreachable)

    IngestError
    ├── UserInputError            (the file or request is at fault; the user can fix it)
    │   ├── UnsupportedFile       unknown or mislabelled format
    │   ├── EmptyFile
    │   ├── DamagedFile           truncated or corrupt
    │   ├── EncryptedPdf
    │   ├── FileTooLarge          bytes, pages or pixels over the configured limits
    │   └── BadOcrOption          empty prompt or `locate` without locate_text (422 at upload);
    │                             engine not configured or unfit for the page (that page fails
    │                             with the reason). An unknown engine or mode name is refused
    │                             earlier by validation: 422 invalid_request.
    └── ServiceError              (a service we depend on is at fault)
        ├── EngineUnavailable     connection refused, DNS, no server configured
        ├── EngineTimeout
        └── EngineBadResponse     malformed JSON, HTTP 4xx/5xx after retries

Each class has a stable snake_case `code` that the API renders as {"error": {"code", "message"}}.
"""

from __future__ import annotations


class OpticiteError(Exception):
    code = "error"
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_body(self) -> dict[str, dict[str, str]]:
        return {"error": {"code": self.code, "message": self.message}}


class IngestError(OpticiteError):
    code = "ingest_error"


class UserInputError(IngestError):
    code = "bad_input"
    status = 400


class UnsupportedFile(UserInputError):
    code = "unsupported_file"
    status = 415


class EmptyFile(UserInputError):
    code = "empty_file"


class DamagedFile(UserInputError):
    code = "damaged_file"
    status = 422


class EncryptedPdf(UserInputError):
    code = "encrypted_pdf"
    status = 422


class FileTooLarge(UserInputError):
    code = "file_too_large"
    status = 413


class BadOcrOption(UserInputError):
    code = "bad_ocr_option"
    status = 422


class ServiceError(IngestError):
    code = "service_error"
    status = 502


class EngineUnavailable(ServiceError):
    code = "engine_unavailable"
    status = 503


class EngineTimeout(ServiceError):
    code = "engine_timeout"
    status = 504


class EngineBadResponse(ServiceError):
    code = "engine_bad_response"
