"""Contract review for the API and CLI: a schema's fields read from each document of a kb, stored.

`plan` checks a request (schema, kb, documents); `read_document` reads one document unless a result is stored
for this schema and its current version (file and chunks): an extraction job (`api/extract_jobs.py`) calls it
per document. `stored_table` returns what is stored. Results are kept in the document's folder, so deleting
the document deletes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from api.errors import ApiError, Forbidden
from api.schemas import DocumentPublic
from api.services import Services
from retrieval.answer import AnswerConfig, ExtractiveAnswerer
from retrieval.llm import LlmClient
from retrieval.review import Schema, SchemaError, extract_document, load_schema, parse_schema
from retrieval.review_llm import extract_document_llm

MAX_DOCUMENTS = 1000


class BadSchema(ApiError):
    code = "bad_schema"
    status = 422


def resolve_schema(spec: str | dict[str, Any]) -> Schema:
    try:
        if isinstance(spec, str):
            if spec != "contract":
                raise SchemaError(f"no built-in schema {spec!r}: send 'contract' or a schema object")
            return load_schema(spec)
        return parse_schema(spec)
    except SchemaError as exc:
        raise BadSchema(str(exc)) from exc


def _key(schema: Schema, backend: str) -> str:
    """Results are stored per schema name, version and content, and per backend: an edited schema (or
    another backend) reads again."""
    digest = hashlib.sha256(schema.model_dump_json().encode()).hexdigest()[:12]
    return f"{schema.name}.v{schema.version}.{digest}" + ("" if backend == "default" else f".{backend}")


def plan(
    services: Services,
    kb: str,
    doc_ids: list[str] | None,
    spec: str | dict[str, Any],
    scope: list[str] | None,
) -> tuple[Schema, list[DocumentPublic]]:
    """The schema and the documents an extraction reads; a bad schema, a kb the key may not read or an
    unknown document raise here, before any work starts."""
    return resolve_schema(spec), _documents(services, kb, doc_ids, scope)


def _documents(
    services: Services, kb: str, doc_ids: list[str] | None, scope: list[str] | None
) -> list[DocumentPublic]:
    if scope is not None and kb not in scope:
        raise Forbidden(f"this API key may not read kb {kb!r}; it may read: {', '.join(scope)}")
    docs, _ = services.list_documents([kb], limit=MAX_DOCUMENTS)
    if doc_ids is not None:
        for doc_id in doc_ids:
            services.get_document(doc_id, [kb])  # UnknownDocument when missing or in another kb
        docs = [d for d in docs if d.id in doc_ids]
    return [d for d in docs if d.status in ("done", "partial")]


def _stored(services: Services, doc: DocumentPublic, key: str) -> dict[str, Any] | None:
    path = services.files(doc.id).root / "review" / f"{key}.json"
    if not path.is_file():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data if data.get("version") == [doc.sha256, doc.chunks] else None


async def _read(services: Services, doc: DocumentPublic, schema: Schema, key: str) -> dict[str, Any]:
    kb = await asyncio.to_thread(services.components.knowledge_base)
    if services.settings.extract.backend == "llm":
        fields = await extract_document_llm(kb, doc.id, schema, _llm(services))
    else:
        fields = await extract_document(kb, doc.id, schema, ExtractiveAnswerer(AnswerConfig(), kb.embedder))
    result = {
        "doc_id": doc.id,
        "filename": doc.filename,
        "version": [doc.sha256, doc.chunks],
        "fields": [f.to_public() for f in fields],
    }
    path = services.files(doc.id).root / "review" / f"{key}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
    return result


def _llm(services: Services) -> LlmClient:
    """The answer section's chat model, its reply long enough for every field of a document."""
    config = services.settings.answer.llm
    config = config.model_copy(
        update={"max_tokens": max(config.max_tokens, services.settings.extract.max_tokens)}
    )
    return LlmClient(
        config, services.components.http_client("llm", config.connect_timeout_s, config.read_timeout_s)
    )


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "version"}


async def read_document(
    services: Services, doc: DocumentPublic, schema: Schema
) -> tuple[dict[str, Any], bool]:
    """The document's fields and whether they were read now: a stored result for its current version
    (file and chunks) is reused."""
    key = _key(schema, services.settings.extract.backend)
    result = await asyncio.to_thread(_stored, services, doc, key)
    if result is not None:
        return _public(result), False
    return _public(await _read(services, doc, schema, key)), True


def stored_table(services: Services, kb: str, spec: str, scope: list[str] | None) -> dict[str, Any]:
    """The stored table: documents not read yet (or changed since) are left out."""
    schema = resolve_schema(spec)
    key = _key(schema, services.settings.extract.backend)
    stored = [_stored(services, doc, key) for doc in _documents(services, kb, None, scope)]
    return {"schema": schema.name, "documents": [_public(r) for r in stored if r is not None]}
