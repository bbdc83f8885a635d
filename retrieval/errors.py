"""Errors raised by retrieval (embedders, the vector store, search).

RetrievalError                 (an IngestError, so the API's one handler renders it)
├── RetrievalConfigError       (a setting is wrong; the message names it and the fix)
│   ├── UnknownBackend         an embedder backend or store engine nobody registered
│   ├── DimensionMismatch      the embedder's vectors do not fit the existing collection
│   └── OutdatedCollection     a collection built with collection-wide IDF: re-index it
└── RetrievalServiceError      (a service we depend on is at fault)
    ├── EmbedderUnavailable    connection refused, DNS, no server
    ├── EmbedderTimeout
    └── EmbedderBadResponse    malformed JSON, HTTP 4xx/5xx after retries
"""

from __future__ import annotations

from ingest.errors import IngestError


class RetrievalError(IngestError):
    code = "retrieval_error"
    status = 500


class RetrievalConfigError(RetrievalError):
    code = "retrieval_config_error"
    status = 500


class UnknownBackend(RetrievalConfigError):
    code = "unknown_backend"


class DimensionMismatch(RetrievalConfigError):
    code = "dimension_mismatch"
    status = 409


class OutdatedCollection(RetrievalConfigError):
    code = "outdated_collection"
    status = 409


class RetrievalServiceError(RetrievalError):
    code = "retrieval_service_error"
    status = 502


class EmbedderUnavailable(RetrievalServiceError):
    code = "embedder_unavailable"
    status = 503


class EmbedderTimeout(RetrievalServiceError):
    code = "embedder_timeout"
    status = 504


class EmbedderBadResponse(RetrievalServiceError):
    code = "embedder_bad_response"
