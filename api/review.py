"""Contract review for the API and CLI: a schema's fields read from each document of a kb, stored.

`extract_progress` reads every asked document that has no stored result for this schema (or whose file
or chunks changed since), yielding each as it is read (the API's event stream, the CLI's progress bar);
`extract_table` collects them into the table; `stored_table` returns what is stored. Results are kept in
the document's folder, so deleting the document deletes them.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import AsyncIterator
from typing import Any, NamedTuple

from api.errors import ApiError, Forbidden
from api.schemas import DocumentPublic
from api.services import Services
from retrieval.answer import AnswerConfig, ExtractiveAnswerer
from retrieval.review import Schema, SchemaError, extract_document, load_schema, parse_schema

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


def _key(schema: Schema) -> str:
    """Results are stored per schema name, version and content: an edited schema reads again."""
    digest = hashlib.sha256(schema.model_dump_json().encode()).hexdigest()[:12]
    return f"{schema.name}.v{schema.version}.{digest}"


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
    answerer = ExtractiveAnswerer(AnswerConfig(), kb.embedder)
    fields = await extract_document(kb, doc.id, schema, answerer)
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


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k != "version"}


class ExtractStep(NamedTuple):
    """One document of an extraction: its place, whether it was read now (else stored), its result."""

    n: int
    total: int
    read: bool
    document: dict[str, Any]


async def extract_progress(
    services: Services,
    kb: str,
    doc_ids: list[str] | None,
    spec: str | dict[str, Any],
    scope: list[str] | None,
) -> AsyncIterator[ExtractStep]:
    """Each asked document's fields, read now when none are stored for its current version."""
    schema = resolve_schema(spec)
    key = _key(schema)
    docs = await asyncio.to_thread(_documents, services, kb, doc_ids, scope)
    for n, doc in enumerate(docs, start=1):
        result = await asyncio.to_thread(_stored, services, doc, key)
        fresh = result is None
        if result is None:
            result = await _read(services, doc, schema, key)
        yield ExtractStep(n, len(docs), fresh, _public(result))


async def extract_table(
    services: Services,
    kb: str,
    doc_ids: list[str] | None,
    spec: str | dict[str, Any],
    scope: list[str] | None,
) -> dict[str, Any]:
    """Read the schema from every asked document not read since it last changed; the whole table."""
    steps = [step async for step in extract_progress(services, kb, doc_ids, spec, scope)]
    return table_of(resolve_schema(spec).name, steps)


def table_of(schema: str, steps: list[ExtractStep]) -> dict[str, Any]:
    return {"schema": schema, "read": sum(s.read for s in steps), "documents": [s.document for s in steps]}


def stored_table(services: Services, kb: str, spec: str, scope: list[str] | None) -> dict[str, Any]:
    """The stored table: documents not read yet (or changed since) are left out."""
    schema = resolve_schema(spec)
    key = _key(schema)
    stored = [_stored(services, doc, key) for doc in _documents(services, kb, None, scope)]
    return {"schema": schema.name, "documents": [_public(r) for r in stored if r is not None]}
