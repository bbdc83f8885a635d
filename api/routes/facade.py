"""The OpenAI-compatible facade: `/v1/models`, `/v1/chat/completions`, `/v1/embeddings`.

A model is a knowledge base, named "kb:NAME" or "NAME". Errors on these paths take OpenAI's shape,
`{"error": {"message", "type", "param", "code"}}` (our stable code in `code`), so OpenAI SDKs and
chat front-ends raise and show them as they do for OpenAI.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse

from api.deps import KeyDep, ServicesDep
from api.errors import BadRequest, NotFound, public_message
from api.responses import EVENT_STREAM, OpenAiErrorBody, errors
from api.routes.jobs import SSE_HEADERS
from api.schemas import ChatCompletionBody, EmbeddingRequest, KbPublic
from api.services import scope_filters
from retrieval.chat import KB_PREFIX, complete_chat, kb_from_model, stream_chat
from retrieval.hits import SearchFilters

router = APIRouter(tags=["openai"])
PATHS = ("/v1/models", "/v1/chat/completions", "/v1/embeddings")
ERROR_TYPES = {
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    429: "rate_limit_error",
}


OPENAI_NOT_FOUND = errors(404, body=OpenAiErrorBody)
OPENAI_CONFLICT = errors(409, body=OpenAiErrorBody)


class ModelNotFound(NotFound):
    code = "model_not_found"


def serves(path: str) -> bool:
    return path.rstrip("/").startswith(PATHS)


def error_response(status: int, code: str, message: str, exc: Exception) -> JSONResponse:
    """OpenAI's error object; `param` names the first invalid body field of a validation error."""
    param = None
    if isinstance(exc, RequestValidationError) and exc.errors():
        loc = [str(part) for part in exc.errors()[0]["loc"] if part != "body"]
        param = ".".join(loc) or None
    kind = ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")
    body = {"message": message, "type": kind, "param": param, "code": code}
    return JSONResponse({"error": body}, status_code=status)


def model_objects(kb: KbPublic) -> list[dict[str, Any]]:
    """The two names a kb answers to, as OpenAI model objects."""
    return [
        {"id": name, "object": "model", "created": kb.created, "owned_by": "opticite", "kb": kb.kb}
        for name in (KB_PREFIX + kb.kb, kb.kb)
    ]


@router.get("/models")
async def list_models(services: ServicesDep, scope: KeyDep) -> dict[str, Any]:
    """One model per kb the key may read: "kb:NAME", then "NAME"."""
    models = [model for kb in services.list_kbs(scope) for model in model_objects(kb)]
    return {"object": "list", "data": models}


@router.get("/models/{model_id}", responses=OPENAI_NOT_FOUND)
async def get_model(services: ServicesDep, scope: KeyDep, model_id: str) -> dict[str, Any]:
    for kb in services.list_kbs(scope):
        for model in model_objects(kb):
            if model["id"] == model_id:
                return model
    raise ModelNotFound(f"no model {model_id!r}; the models this key may use are listed by GET /v1/models")


@router.post(
    "/chat/completions",
    response_model=None,
    responses=OPENAI_NOT_FOUND | OPENAI_CONFLICT | {200: EVENT_STREAM},
)
async def chat_completions(
    services: ServicesDep, scope: KeyDep, body: ChatCompletionBody
) -> dict[str, Any] | StreamingResponse:
    """`model` names the kb; the message carries [n] markers, the reply `citations` and `flags`."""
    scope_filters(SearchFilters(kb=kb_from_model(body.model)), scope)  # 403 before any stream starts
    service = await services.chat_service(scope)
    if body.stream:
        return StreamingResponse(
            public_errors(stream_chat(body, service)), media_type="text/event-stream", headers=SSE_HEADERS
        )
    return await complete_chat(body, service)


async def public_errors(chunks: AsyncIterator[str]) -> AsyncIterator[str]:
    """The stream with a service fault's message in its last chunk made public (the retrieval layer
    writes the fault's own message, which may name the server's URL; the log keeps it)."""
    async for chunk in chunks:
        if chunk.startswith("data: {") and '"error"' in chunk:
            data = json.loads(chunk[6:])
            if isinstance(data.get("error"), dict):
                error = data["error"]
                error["message"] = public_message(str(error.get("code")), str(error.get("message")))
                chunk = f"data: {json.dumps(data, ensure_ascii=False)}\n\n"
        yield chunk


@router.post("/embeddings", responses=OPENAI_NOT_FOUND | OPENAI_CONFLICT)
async def embeddings(services: ServicesDep, scope: KeyDep, body: EmbeddingRequest) -> dict[str, Any]:
    """The kb's embedder for clients that embed their own queries (`input_type: passage` for documents)."""
    texts = [body.input] if isinstance(body.input, str) else body.input
    result = await services.embed(kb_from_model(body.model), texts, body.input_type == "query", scope)
    if body.dimensions is not None and result.vectors and body.dimensions != len(result.vectors[0]):
        raise BadRequest(
            f"this kb's embedder gives {len(result.vectors[0])} dimensions, not {body.dimensions}; "
            "leave `dimensions` out"
        )
    data = [
        {"object": "embedding", "index": i, "embedding": encode_vector(v, body.encoding_format)}
        for i, v in enumerate(result.vectors)
    ]
    usage = {"prompt_tokens": result.tokens, "total_tokens": result.tokens}
    return {"object": "list", "data": data, "model": body.model, "usage": usage}


def encode_vector(vector: list[float], encoding_format: str) -> list[float] | str:
    """Floats, or OpenAI's base64 form: little-endian float32 bytes (the SDKs' default request)."""
    if encoding_format == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector
