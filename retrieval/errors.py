"""Errors raised by retrieval (embedders, the vector store, search, the chat model, chat).

RetrievalError                 (an OpticiteError, so the API's one handler renders it)
├── BadChatRequest      (422)  the conversation cannot be answered as sent
├── RetrievalConfigError       (a setting is wrong; the message names it and the fix)
│   ├── UnknownBackend         an embedder backend or store engine nobody registered
│   ├── DimensionMismatch      the embedder's vectors do not fit the existing collection
│   └── OutdatedCollection     a collection built with collection-wide IDF: re-index it
└── RetrievalServiceError      (a service we depend on is at fault)
    ├── EmbedderUnavailable    connection refused, DNS, no server
    ├── EmbedderTimeout
    ├── EmbedderBadResponse    malformed JSON, HTTP 4xx/5xx after retries
    ├── LlmUnavailable         the chat model: the same three
    ├── LlmTimeout
    └── LlmBadResponse
"""

from __future__ import annotations

from ingest.errors import OpticiteError


class RetrievalError(OpticiteError):
    code = "retrieval_error"
    status = 500


class BadChatRequest(RetrievalError):
    code = "bad_chat_request"
    status = 422


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


class LlmUnavailable(RetrievalServiceError):
    code = "llm_unavailable"
    status = 503


class LlmTimeout(RetrievalServiceError):
    code = "llm_timeout"
    status = 504


class LlmBadResponse(RetrievalServiceError):
    code = "llm_bad_response"
    status = 502
