"""Contract review with an LLM: a schema's fields read by an OpenAI-compatible chat model, each value held to
the page it quotes.

Per document, one request: each field's question, and the passages the document search finds for the
fields, numbered `[n]` with their page. The model answers JSON, `{"fields": [{"name", "found", "value",
"quote", "source"}]}`; the reply is validated (`LlmReply`: unknown keys ignored, names outside the schema
dropped) and each value is kept only when its quote is on a passage's page (words compared, case and
punctuation aside: the named passage first, then the others) and its field's type reads a value from it as
the default backend does (`read_value`: a date that does not parse is not found). The value's regions are
the quote's words on the page (`cite`). "Not found" stays an answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from retrieval.answer import cite
from retrieval.citations import normalize
from retrieval.errors import LlmBadResponse
from retrieval.hits import SearchFilters, SearchHit
from retrieval.llm import LlmClient, Message
from retrieval.review import FieldSpec, FieldValue, Schema, read_value
from retrieval.search import KnowledgeBase

log = logging.getLogger(__name__)
TOP_K = 3  # passages per field's question
MAX_PASSAGES = 24
CONFIDENCE = 0.7  # a model's value whose quote is on the page
SYSTEM = (
    "You read contracts and fill in fields. Use only the numbered passages. Answer with one JSON object, "
    'no prose: {"fields": [{"name": <field name>, "found": true|false, "value": <the value as written; '
    'a list of names for a party list; "yes" or "no" for a yes/no field>, "quote": <the exact words of the '
    'passage that state it, copied verbatim>, "source": <the passage number>}]}. A field the passages do '
    'not state is {"name": ..., "found": false}. Never guess.'
)


class LlmField(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    found: bool = True
    value: str | list[str] | None = None
    quote: str | None = None
    source: int | None = None


class LlmReply(BaseModel):
    model_config = ConfigDict(extra="ignore")

    fields: list[LlmField]


def gather_passages(kb: KnowledgeBase, doc_id: str, schema: Schema, top_k: int = TOP_K) -> list[SearchHit]:
    """Each field's best passages in the document, each passage once, in the order first found."""
    passages: dict[str, SearchHit] = {}
    for spec in schema.fields:
        for hit in kb.search(spec.question, SearchFilters(doc_ids=[doc_id]), mode="hybrid", top_k=top_k):
            passages.setdefault(hit.chunk_id, hit)
    return list(passages.values())[:MAX_PASSAGES]


def build_messages(schema: Schema, passages: list[SearchHit]) -> list[Message]:
    """The request's messages: the fields with their types, then the numbered passages."""
    fields = "\n".join(f"- {f.name} ({f.type}): {f.question}" for f in schema.fields)
    sources = "\n\n".join(
        f"[{n}] (page {', '.join(str(p) for p in hit.pages)})\n{hit.markdown}"
        for n, hit in enumerate(passages, start=1)
    )
    user = f"Fields:\n{fields}\n\nPassages:\n{sources}\n\nThe JSON object:"
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def parse_reply(text: str) -> LlmReply:
    """The model's JSON (inside a ``` fence or prose, if it added one) as an `LlmReply`."""
    start, end = text.find("{"), text.rfind("}")
    try:
        return LlmReply.model_validate(json.loads(text[start : end + 1] if 0 <= start < end else text))
    except (ValueError, ValidationError) as exc:
        raise LlmBadResponse(f"the LLM's reply is not the fields' JSON: {text[:200]!r}") from exc


def _on_page(quote: str, hit: SearchHit) -> bool:
    page = " ".join(r.text for r in hit.regions if r.text) or hit.markdown
    q = normalize(quote)
    return bool(q) and q in normalize(page)


def check_field(spec: FieldSpec, item: LlmField | None, passages: list[SearchHit]) -> FieldValue:
    """The model's answer for one field, kept only when its quote is on the page and its value reads
    as the field's type; otherwise not found."""
    absent = FieldValue(name=spec.name, found=False)
    if item is None or not item.found or not item.quote or item.value in (None, "", []):
        return absent
    named = [passages[item.source - 1]] if item.source and 0 < item.source <= len(passages) else []
    n, hit = next(((i, h) for i, h in _numbered(named, passages) if _on_page(item.quote, h)), (0, None))
    if hit is None:
        log.info("review: dropped %s, its quote is not on the page: %r", spec.name, item.quote[:80])
        return absent
    citation = cite(n, hit, item.quote)
    value, normalized = _typed(spec, item.value, item.quote)
    if value is None:
        return absent
    return FieldValue(
        name=spec.name,
        found=True,
        value=value,
        normalized=normalized,
        quote=item.quote,
        clause=citation.clause,
        regions=citation.regions,
        confidence=CONFIDENCE,
    )


def _numbered(named: list[SearchHit], passages: list[SearchHit]) -> list[tuple[int, SearchHit]]:
    """The passage the model named first, then every passage, with their numbers."""
    numbers = {h.chunk_id: n for n, h in enumerate(passages, start=1)}
    return [(numbers[h.chunk_id], h) for h in [*named, *passages]]


def _typed(spec: FieldSpec, value: str | list[str], quote: str) -> tuple[Any, Any]:
    """(value, normalized) of the model's value by the field's type, normalized from the value or else its
    quote ("New York" from "the laws of the State of New York"); (None, None) when it is not one."""
    if spec.type == "party_list":
        names = [value] if isinstance(value, str) else value
        return (names, names) if all(n.strip() for n in names) else (None, None)
    text = value if isinstance(value, str) else "; ".join(value)
    if spec.type == "yes_no":
        answer = text.strip().lower()
        return (answer, answer) if answer in ("yes", "no") else (None, None)
    if spec.type == "pattern":
        return (text, text) if any(re.search(p, text) for p in spec.patterns) else (None, None)
    if spec.type == "text":
        return text, None
    written, normalized = read_value(spec, text)
    if written is None:
        written, normalized = read_value(spec, quote)
    return (text, normalized) if written is not None else (None, None)


async def extract_document_llm(
    kb: KnowledgeBase, doc_id: str, schema: Schema, llm: LlmClient, top_k: int = TOP_K
) -> list[FieldValue]:
    """Every field of `schema` read from document `doc_id` by the model, in the schema's order."""
    passages = await asyncio.to_thread(gather_passages, kb, doc_id, schema, top_k)
    if not passages:
        return [FieldValue(name=f.name, found=False) for f in schema.fields]
    reply = parse_reply(await llm.complete(build_messages(schema, passages)))
    answers = {item.name: item for item in reply.fields}
    return [check_field(spec, answers.get(spec.name), passages) for spec in schema.fields]
