"""Contract review: a schema's fields read from one document, each value with the words that state it.

No LLM: each field's question is searched within the document (`KnowledgeBase.search` with its doc id,
so the card statement of a title, party or date comes first), the extractive answerer picks the
sentence and cites it narrowed to the quoted words, and the field's type reads a value out of that
quote (a date, a period, a jurisdiction, a pattern). A typed field whose quote holds no such value is
"not found" rather than guessed; "not found" is an answer, not an error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ingest.card import find_date
from ingest.chunking import CARD_HEADING
from ingest.layout import Region
from retrieval.answer import Answer, Citation, ExtractiveAnswerer, cite
from retrieval.extractive import _PERIOD, NAMED_LAW, TERM_STATEMENT  # the answerer's patterns: one place
from retrieval.hits import SearchFilters, SearchHit
from retrieval.search import KnowledgeBase

FieldType = Literal["text", "date", "duration", "jurisdiction", "party_list", "yes_no", "pattern"]
TOP_K = 8
# how sure a value is, by what backs it: the document card states it; a typed value read out of the
# chosen sentence; an untyped sentence (a clause) the answerer chose
_MARKERS = re.compile(r"\s*(?:\[\d+\])+\s*")
CONFIDENCE = {"card": 0.9, "typed": 0.75, "sentence": 0.5}
# a date the sentence gives as an end ("shall expire on December 31, 2028") answers only a question about one
_ENDS_BEFORE = re.compile(r"\b(?:expire[sd]?|terminates?|ends?|until|through)\s+(?:on\s+)?$", re.I)
_ASKS_END = re.compile(r"\b(?:expir\w*|end\w*|terminat\w*|until)\b", re.I)


# Evidence patterns of the built-in fields (the agreement's own term statement: `TERM_STATEMENT`, shared
# with the answerer's expiry questions).
# a renewal the agreement provides for: for further periods, or automatically ("non-renewal of such
# insurance" is not one; neither is "unless mutually extended by written agreement")
RENEWAL = (
    r"\b(?:renew\w*|extend\w*|extension)\b[^.;]{0,80}?\b(?:additional|successive|further|consecutive|renewal)\b"
    r"|\brenewal\s+(?:terms?|periods?)\b|\bautomatic\w*\s+(?:be\s+)?(?:renew|extend)\w*"
    r"|\b(?:renew|extend)\w*\s+automatic\w*|\b(?:renew|extend)\w*\s+(?:this|the)\s+(?:agreement|term)\b"
)
# how a notice to stop a renewal is tied to it: the renewal itself, or the end of a term it would follow
_RENEWAL_END = (
    r"\b(?:non-?renewal|renew\w*|extension|extend\w*)\b"
    r"|\b(?:end|expiration|expiry)\s+of\s+the\s+(?:then[- ]current\s+|initial\s+|renewal\s+)?term\b"
)

# a notice tied to the agreement's renewal or end ("notice of any non-renewal ... of such insurance" is not)
NOTICE_OF_NON_RENEWAL = (
    rf"^(?=.*\bnoti(?:ce|fy|fies|fied|fication)\b)(?=.*\b(?:agreement|term)\b)(?=.*(?:{_RENEWAL_END}))"
)


class ReviewConfig(BaseModel):
    # default: search, span selection and patterns (no LLM); llm: the answer section's chat model
    # (answer.llm) reads each document's passages (`retrieval/review_llm.py`)
    backend: Literal["default", "llm"] = "default"
    max_tokens: int = 2048  # the LLM's reply holds every field of a document


class FieldSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    question: str = Field(min_length=3)
    type: FieldType = "text"
    # regular expressions: a `pattern` field's value is the first match; any other field's evidence
    # (the sentence quoted) must match one of them, when given, or the field is not found
    patterns: list[str] = Field(default_factory=list)

    @field_validator("patterns")
    @classmethod
    def _compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"bad regular expression {pattern!r}: {exc}") from exc
        return patterns

    @model_validator(mode="after")
    def _pattern_needs_one(self) -> FieldSpec:
        if self.type == "pattern" and not self.patterns:
            raise ValueError("a field of type 'pattern' needs at least one regular expression in 'patterns'")
        return self


class Schema(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    version: int = 1  # results are kept per schema name and version
    fields: list[FieldSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_names(self) -> Schema:
        names = [f.name for f in self.fields]
        if twice := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"field names must be unique: {', '.join(twice)} repeated")
        return self


class SchemaError(ValueError):
    """A user schema that cannot be used; the message names the field at fault."""


class FieldValue(BaseModel):
    name: str
    found: bool
    value: str | list[str] | None = None  # as written on the page
    normalized: str | int | float | list[str] | None = None  # ISO date, months, jurisdiction, names
    quote: str | None = None  # the cited words, verbatim
    clause: str | None = None  # the numbered clause quoted ("12.3")
    regions: list[Region] = Field(default_factory=list)  # the quote's boxes
    confidence: float = 0.0

    def to_public(self) -> dict[str, Any]:
        return self.model_dump(mode="json") | {"regions": [r.to_public() for r in self.regions]}


CONTRACT = Schema(
    name="contract",
    version=1,
    fields=[
        FieldSpec(name="Document Name", question="What is the name of this agreement?"),
        FieldSpec(name="Parties", question="Who are the parties to this agreement?", type="party_list"),
        FieldSpec(
            name="Agreement Date",
            question="What is the date of this agreement?",
            type="date",
            patterns=[r"\b(dated|date|made|entered|as of|executed)\b"],
        ),
        FieldSpec(
            name="Effective Date",
            question="When does this agreement become effective?",
            type="date",
            patterns=[r"\b(effective|commenc\w*|takes? effect)\b"],
        ),
        FieldSpec(
            name="Expiration Date",
            question="When does this agreement expire?",
            patterns=[TERM_STATEMENT],
        ),
        FieldSpec(
            name="Renewal Term",
            question="What is the renewal term of this agreement?",
            type="duration",
            patterns=[RENEWAL],
        ),
        FieldSpec(
            name="Notice Period To Terminate Renewal",
            question="How much notice is required to terminate the renewal of this agreement?",
            type="duration",
            patterns=[NOTICE_OF_NON_RENEWAL],
        ),
        FieldSpec(
            name="Governing Law", question="What is the governing law of this agreement?", type="jurisdiction"
        ),
        # clause fields CUAD also labels (not in cuad-dev's metadata, so unmeasured): "yes" with the clause
        FieldSpec(
            name="Termination For Convenience",
            question="Can a party terminate this agreement for convenience, without cause?",
            type="yes_no",
            patterns=[r"\bterminat\w*\b.*\b(convenience|without cause|for any reason|at any time)\b"],
        ),
        FieldSpec(
            name="Cap On Liability",
            question="Is either party's liability limited or capped at an amount?",
            patterns=[r"\bliabilit\w*\b.*\b(exceed|limited to|cap|maximum|aggregate)\b"],
        ),
        FieldSpec(
            name="Anti-Assignment",
            question="Can a party assign this agreement without the other party's consent?",
            type="yes_no",
            patterns=[r"\bassign\w*\b.*\b(consent|approval)\b|\b(consent|approval)\b.*\bassign"],
        ),
        FieldSpec(
            name="Non-Compete",
            question="Is a party restricted from competing with the other?",
            type="yes_no",
            patterns=[r"\bcompet\w*"],
        ),
        FieldSpec(
            name="Exclusivity",
            question="Is the relationship exclusive?",
            type="yes_no",
            patterns=[r"\bexclusiv\w*"],
        ),
        FieldSpec(
            name="Audit Rights",
            question="Does a party have the right to audit the other's books and records?",
            type="yes_no",
            patterns=[r"\baudit\w*|\binspect\w*"],
        ),
        FieldSpec(
            name="License Grant",
            question="Does a party grant a license?",
            type="yes_no",
            patterns=[r"\b(grants?|granted)\b.*\blicen[cs]e"],
        ),
    ],
)
BUILT_IN = {"contract": CONTRACT}


def load_schema(source: str | Path) -> Schema:
    """A built-in schema by name, or a user schema from a YAML or JSON file; `SchemaError` names the
    field at fault ("fields[2] 'Renewal' .type: ...")."""
    if isinstance(source, str) and source in BUILT_IN:
        return BUILT_IN[source]
    path = Path(source)
    if not path.is_file():
        raise SchemaError(
            f"no schema {str(source)!r}: built-in ones are {', '.join(BUILT_IN)}, or give a file"
        )
    text = path.read_text(encoding="utf-8")
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError) as exc:
        raise SchemaError(
            f"{path.name} is not valid {'JSON' if path.suffix == '.json' else 'YAML'}: {exc}"
        ) from exc
    return parse_schema(data)


def parse_schema(data: Any) -> Schema:
    """`data` (parsed JSON or YAML) as a Schema, or a `SchemaError` naming each field at fault."""
    try:
        return Schema.model_validate(data)
    except ValidationError as exc:
        raise SchemaError("; ".join(_where(data, e) + e["msg"] for e in exc.errors())) from exc


def _where(data: Any, error: Any) -> str:
    loc = list(error["loc"])
    if len(loc) >= 2 and loc[0] == "fields" and isinstance(loc[1], int):
        fields = data.get("fields") if isinstance(data, dict) else None
        spec = fields[loc[1]] if isinstance(fields, list) and loc[1] < len(fields) else None
        name = spec.get("name") if isinstance(spec, dict) else None
        rest = "." + ".".join(str(p) for p in loc[2:]) if loc[2:] else ""
        return f"fields[{loc[1]}]" + (f" {name!r}" if name else "") + f"{rest}: "
    return ".".join(str(p) for p in loc) + ": " if loc else ""


# --- reading a value out of a quote ---------------------------------------------------------------

# the number words `retrieval.extractive` counts as a period's number
# fmt: off
_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "twelve": 12, "fifteen": 15, "thirty": 30, "sixty": 60, "ninety": 90,
}
# fmt: on
_MONTHS_PER = {"day": 1 / 30, "week": 7 / 30, "month": 1, "year": 12}
_JURISDICTION = re.compile(
    r"\b(?i:laws?\s+of\s+(?:the\s+)?(?:(?:State|Commonwealth|Province|Republic)\s+of\s+)?)"
    r"(?P<name>[A-Z][\w.]*(?:\s+(?i:of\s+)?[A-Z][\w.]*)*)"
)
_NOT_PLACE = frozenset({"United States of America", "United States"})  # "...and the federal laws of"


def months(period: str) -> int | float | None:
    """The months a period names: "five (5) years" -> 60, "ninety (90) days" -> 3."""
    match = re.match(
        r"(\d+|[a-z]+)\D*?(?:\(\d+\)\s*)?(?:business\s+|calendar\s+)?(day|week|month|year)", period, re.I
    )
    if match is None:
        return None
    count = match.group(1).lower()
    number = int(count) if count.isdigit() else _NUMBER_WORDS.get(count)
    if number is None:
        return None
    total = round(float(number * _MONTHS_PER[match.group(2).lower()]), 2)
    return int(total) if total.is_integer() else total


def jurisdiction(text: str) -> str | None:
    """The jurisdiction whose laws a clause names: "the laws of the State of New York" -> "New York"."""
    matches = [*_JURISDICTION.finditer(text), *NAMED_LAW.finditer(text)]
    names = [_readable(m.group("name").rstrip(".")) for m in matches]
    return next((n for n in names if n not in _NOT_PLACE), names[0] if names else None)


def _readable(name: str) -> str:
    """A name from a clause in capitals, as usually written: "NEW YORK" -> "New York"."""
    name = " ".join(name.split())  # a text layer's double spaces: "United  States"
    return name.title().replace(" Of ", " of ") if name.isupper() else name


def read_value(
    spec: FieldSpec, quote: str, partial_date: bool = False
) -> tuple[str | None, str | int | float | None]:
    """(value as written, normalized value) of `spec`'s type in `quote`; (None, None) when absent. A
    partial date ("this ____ day of ______, 2013") counts only with `partial_date`: the card's, read from
    the preamble."""
    if spec.type == "date":  # the date as written, also where the quote is its clause's sentence
        found = find_date(quote, partial=partial_date)
        return found if found else (None, None)
    if spec.type == "duration":
        match = _PERIOD.search(quote)
        return (match.group(0), months(match.group(0))) if match else (None, None)
    if spec.type == "jurisdiction":
        match = _JURISDICTION.search(quote) or NAMED_LAW.search(quote)
        return (match.group(0).rstrip("."), jurisdiction(quote)) if match else (None, None)
    if spec.type == "pattern":
        match = next((m for p in spec.patterns if (m := re.search(p, quote))), None)
        return (match.group(0), match.group(0)) if match else (None, None)
    if spec.type == "yes_no":
        return "yes", "yes"
    return quote, None


# --- extraction -----------------------------------------------------------------------------------


async def extract_field(spec: FieldSpec, hits: list[SearchHit], answerer: ExtractiveAnswerer) -> FieldValue:
    """One field from its question's hits within one document."""
    # a field's evidence patterns choose among the sentences that answer its question, so a term clause
    # ranked below a sentence about expiry in passing is still found
    accept = _matches_any(spec.patterns) if spec.patterns and spec.type != "pattern" else None
    answer = await answerer.answer(spec.question, hits, accept=accept)
    if answer.refused or not answer.citations:
        return FieldValue(name=spec.name, found=False)
    by_chunk = {h.chunk_id: h for h in hits}
    first = answer.citations[0]
    from_card = by_chunk[first.chunk_id].heading_path == [CARD_HEADING]
    if spec.type == "party_list":
        return _parties(spec, answer, from_card)
    sentence = _MARKERS.split(answer.answer)[0]  # the first sentence chosen, cited by `first`
    if (
        spec.type != "pattern"
        and spec.patterns
        and not any(re.search(p, sentence, re.I) for p in spec.patterns)
    ):
        return FieldValue(name=spec.name, found=False)
    quote = first.quote
    if from_card and spec.type == "text":  # "Title: this document is the ...": the title as written
        quote = " ".join(r.text for r in first.regions if r.text) or quote
    value, normalized = read_value(spec, quote, partial_date=from_card)
    if value is None or (spec.type == "date" and _an_end(spec, sentence, quote)):
        return FieldValue(name=spec.name, found=False)
    typed = spec.type in ("date", "duration", "jurisdiction", "pattern")
    # a date or a pattern's match is cited word by word; a period or a jurisdiction with its clause's
    # sentence, which is what states its conditions ("unless either party gives notice ...")
    narrow = spec.type in ("date", "pattern") or (from_card and spec.type == "text")
    citation = cite(first.n, by_chunk[first.chunk_id], value) if narrow and value != first.quote else first
    return FieldValue(
        name=spec.name,
        found=True,
        value=value,
        normalized=normalized,
        quote=citation.quote,
        clause=citation.clause,
        regions=citation.regions,
        confidence=CONFIDENCE["card" if from_card else "typed" if typed else "sentence"],
    )


def _matches_any(patterns: list[str]) -> Callable[[str], bool]:
    compiled = [re.compile(p, re.I) for p in patterns]
    return lambda sentence: any(p.search(sentence) for p in compiled)


def _an_end(spec: FieldSpec, sentence: str, date: str) -> bool:
    """Whether `sentence` gives `date` as an end while the field does not ask for one."""
    at = sentence.find(date)
    return at >= 0 and bool(_ENDS_BEFORE.search(sentence[:at])) and not _ASKS_END.search(spec.question)


def _parties(spec: FieldSpec, answer: Answer, from_card: bool) -> FieldValue:
    """The card names each party as its own citation; a clause's sentence is one value."""
    cited: list[Citation] = answer.citations if from_card else answer.citations[:1]
    names = [c.quote for c in cited]
    return FieldValue(
        name=spec.name,
        found=True,
        value=names,
        normalized=names,
        quote=" / ".join(names),
        clause=cited[0].clause,
        regions=[r for c in cited for r in c.regions],
        confidence=CONFIDENCE["card" if from_card else "sentence"],
    )


async def extract_document(
    kb: KnowledgeBase, doc_id: str, schema: Schema, answerer: ExtractiveAnswerer, top_k: int = TOP_K
) -> list[FieldValue]:
    """Every field of `schema` read from document `doc_id`, in the schema's order."""
    out: list[FieldValue] = []
    for spec in schema.fields:
        hits = kb.search(spec.question, SearchFilters(doc_ids=[doc_id]), mode="hybrid", top_k=top_k)
        out.append(await extract_field(spec, hits, answerer))
    return out
