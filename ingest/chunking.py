"""Chunks: sections by heading path, tables on their own, every contributing region kept.

Sizes are counted with the embedder's tokenizer (`count_tokens`); the chunker is a pure function.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, Field

from ingest.card import DocumentCard, read_card
from ingest.clauses import mark_clauses, parse_number, run_in_title, sub_clause
from ingest.layout import Block, Line, PageLayout, Region

CARD_HEADING = "Document card"
CHUNK_NAMESPACE = uuid.UUID("5b0c7f0e-7a43-4b8e-9a55-0f4c3c1d2e10")


def chunk_id(doc_id: str, ordinal: int) -> str:
    """Deterministic: re-chunking the same document gives the same ids (idempotent upserts)."""
    return str(uuid.uuid5(CHUNK_NAMESPACE, f"{doc_id}:{ordinal}"))


class Chunk(BaseModel):
    id: str
    doc_id: str
    kb: str
    ordinal: int
    kind: Literal["text", "table"]
    heading_path: list[str] = Field(default_factory=list)
    markdown: str
    regions: list[Region] = Field(default_factory=list)  # every contributing block/line, per page
    pages: list[int] = Field(default_factory=list)
    tokens: int = 0
    clause: str | None = None  # the legal clause its content sits in ("12.3", "12.3(a)", "Article IV")
    filename: str = ""
    tags: list[str] = Field(default_factory=list)
    # the document's name as its card reads it (title and parties), so search can tell which document
    # a question names (`retrieval.scope`); not embedded: it would drown the chunk's own content
    document_name: str = ""
    # a filing's company and ticker (`DocumentCard.company`): a question naming it searches its filings
    document_company: str = ""

    def embed_text(self) -> str:
        """What the embedder sees: heading path, then content."""
        head = " > ".join(self.heading_path)
        return f"{head}\n{self.markdown}" if head else self.markdown


# --- the chunker ---------------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+(?=[\"'(\[A-Z0-9•\-])|(?<=[。！？；])|\n+")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-{2,}")
_TEXT_SEPARATOR = "\n\n"
_ABBREVIATION_WORDS = (
    "sec. secs. art. no. nos. para. cl. ch. vol. p. pp. e.g. i.e. etc. inc. ltd. co. corp. llc. "
    "mr. mrs. ms. dr. st. u.s. v. vs. approx. fig. ex."
)
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())


class ChunkingConfig(BaseModel):
    """Sizes in the embedder's tokens; `max_tokens` is lowered to the embedder's limit by `fitted`."""

    target_tokens: int = Field(default=160, ge=16)  # chosen on CUAD, docs/retrieval.md
    max_tokens: int = Field(default=512, ge=16)
    table_max_rows: int = Field(default=40, ge=1)  # rows per table part, header row repeated in each
    # A text chunk with fewer content tokens than this joins the next text chunk (the last one: the
    # previous) when the two fit in max_tokens. 1 = only a heading with no text after it; larger
    # values also join short sections, which cost dense recall on CUAD (docs/retrieval.md).
    min_tokens: int = Field(default=1, ge=0)

    def fitted(self, embedder_max_tokens: int) -> ChunkingConfig:
        """This config with no chunk past what the embedder reads."""
        max_tokens = min(self.max_tokens, embedder_max_tokens)
        return self.model_copy(
            update={"max_tokens": max_tokens, "target_tokens": min(self.target_tokens, max_tokens)}
        )


@dataclass
class _Unit:
    """A piece of content small enough to sit in one chunk, with where it came from."""

    text: str
    regions: list[Region]
    tokens: int


@dataclass
class _Draft:
    kind: Literal["text", "table"]
    heading_path: list[str]
    units: list[_Unit] = field(default_factory=list)
    clause: str | None = None


@dataclass(frozen=True)
class _Heading:
    level: int
    text: str
    clause: str | None = None


def chunk_document(
    doc_id: str,
    kb: str,
    filename: str,
    layouts: list[PageLayout],
    config: ChunkingConfig,
    count_tokens: Callable[[str], int],
    tags: Sequence[str] = (),
    card: DocumentCard | None = None,
) -> list[Chunk]:
    """Split one document's pages into chunks; pure, deterministic, furniture excluded. Legal numbering
    is read first (`ingest.clauses`), so sections follow the clauses whatever engine read the pages.
    The document card (`ingest.card`, read here unless given) ends the document: a chunk per field
    (title, parties, each date), cited where its values are written, so preamble questions land on it."""
    drafts = _draft_chunks(mark_clauses(layouts), config, count_tokens)
    card = card if card is not None else read_card(layouts)
    for sentence, regions in card.statements():
        if regions:
            drafts.append(_Draft("text", [CARD_HEADING], [_Unit(sentence, regions, count_tokens(sentence))]))
    chunks: list[Chunk] = []
    for ordinal, draft in enumerate(drafts):
        text = (
            _TEXT_SEPARATOR.join(u.text for u in draft.units if u.text)
            if draft.kind == "text"
            else ("\n".join(u.text for u in draft.units if u.text))
        )
        regions = _merge_regions([r for u in draft.units for r in u.regions])
        chunk = Chunk(
            id=chunk_id(doc_id, ordinal),
            doc_id=doc_id,
            kb=kb,
            ordinal=ordinal,
            kind=draft.kind,
            heading_path=draft.heading_path,
            clause=draft.clause,
            markdown=text,
            regions=regions,
            pages=sorted({r.page for r in regions}),
            filename=filename,
            tags=list(tags),
            document_name=card.name(),
            document_company=card.company(),
        )
        chunks.append(chunk.model_copy(update={"tokens": count_tokens(chunk.embed_text())}))
    return chunks


def _draft_chunks(
    layouts: list[PageLayout], config: ChunkingConfig, count_tokens: Callable[[str], int]
) -> list[_Draft]:
    blocks = [(lay.page, b) for lay in sorted(layouts, key=lambda x: x.page) for b in lay.content_blocks()]
    sections = _section_headers(layouts)
    headings: list[_Heading] = []
    pending: list[Region] = []  # heading boxes waiting for the section's first chunk
    drafts: list[_Draft] = []
    current: _Draft | None = None
    used_captions: set[int] = set()
    for i, (page, block) in enumerate(blocks):
        if i in used_captions:
            continue
        if block.kind in ("title", "heading"):
            headings = _push_heading(headings, _heading_of(block))
            pending.extend(block.regions(page))
            current = None
            continue
        if block.clause and (run_in := _run_in_heading(block)) is not None:
            headings = _push_heading(headings, run_in)  # "12.3 Governing Law. This ..." opens a section
            current = None
        path = [h.text for h in headings]
        clause = _clause_of(headings, block)
        budget = max(8, config.max_tokens - (count_tokens(" > ".join(path)) if path else 0) - 1)
        if block.kind == "table":
            caption = _with_section(sections.get(page), _adjacent_caption(blocks, i, current, used_captions))
            if current is not None and not any(u.text for u in current.units):
                drafts.remove(current)  # only a heading before the caption: it goes with the table
                pending = [r for u in current.units for r in u.regions] + pending
            for part in _table_parts(
                page, block, caption, config, min(budget, config.max_tokens), count_tokens
            ):
                drafts.append(_Draft("table", path, [*_pending_unit(pending), part], clause))
                pending = []
            current = None
            continue
        target = min(config.target_tokens, budget)
        for unit in _text_units(page, block, budget, count_tokens):
            if current is None or current.heading_path != path or _tokens(current) + unit.tokens > target:
                current = _Draft("text", path, clause=clause)
                drafts.append(current)
            current.units.extend([*_pending_unit(pending), unit])
            pending = []
    if pending:  # trailing headings with no content still get cited somewhere
        drafts.append(
            _Draft("text", [h.text for h in headings], [_Unit("", pending, 0)], _clause_of(headings))
        )
    drafts = [d for d in drafts if any(u.regions for u in d.units)]
    return _merge_small(drafts, config, count_tokens)


def _tokens(draft: _Draft) -> int:
    return sum(u.tokens for u in draft.units) + len(draft.units)


def _merge_small(
    drafts: list[_Draft], config: ChunkingConfig, count_tokens: Callable[[str], int]
) -> list[_Draft]:
    """Text drafts under `min_tokens` joined to the next text draft (the last one to the previous)."""
    out: list[_Draft] = []
    carry: _Draft | None = None
    for draft in drafts:
        if carry is not None:
            joined = _join(carry, draft, draft.heading_path, count_tokens) if draft.kind == "text" else None
            if joined is not None and _fits(joined, config, count_tokens):
                draft = joined
            else:
                out.append(carry)
            carry = None
        if draft.kind == "text" and sum(u.tokens for u in draft.units) < config.min_tokens:
            carry = draft
        else:
            out.append(draft)
    if carry is not None:
        previous = out[-1] if out and out[-1].kind == "text" else None
        joined = _join(previous, carry, previous.heading_path, count_tokens) if previous else None
        if joined is not None and _fits(joined, config, count_tokens):
            out[-1] = joined
        else:
            out.append(carry)
    return out


def _join(first: _Draft, second: _Draft, path: list[str], count_tokens: Callable[[str], int]) -> _Draft:
    """One draft under `path`; a part from another section keeps its own headings as a text line."""

    def label(draft: _Draft) -> list[_Unit]:
        extra = [h for i, h in enumerate(draft.heading_path) if i >= len(path) or path[i] != h]
        text = " > ".join(extra)
        return [_Unit(text, [], count_tokens(text))] if extra else []

    units = [*label(first), *first.units, *label(second), *second.units]
    return _Draft("text", path, units, first.clause or second.clause)


def _fits(draft: _Draft, config: ChunkingConfig, count_tokens: Callable[[str], int]) -> bool:
    path = " > ".join(draft.heading_path)
    return _tokens(draft) + (count_tokens(path) + 1 if path else 0) <= config.max_tokens


def _pending_unit(pending: list[Region]) -> list[_Unit]:
    return [_Unit("", list(pending), 0)] if pending else []


def _heading_of(block: Block) -> _Heading:
    level = block.level if block.level is not None else (0 if block.kind == "title" else 1)
    return _Heading(level, " ".join(block.markdown.lstrip("#").split()), block.clause)


def _run_in_heading(block: Block) -> _Heading | None:
    """The section a numbered paragraph opens ("Section 1.1 Usage and Definitions. Capitalized ...")."""
    number = parse_number(block.markdown)
    if number is None:
        return None
    written = block.markdown.strip()[: len(block.markdown.strip()) - len(number.rest)].strip()
    title = run_in_title(number.rest)
    return _Heading(number.level, f"{written} {title}" if title else written, number.label)


def _clause_of(headings: list[_Heading], block: Block | None = None) -> str | None:
    """The deepest clause label in force, with a list item's "(a)" appended."""
    clause = next((h.clause for h in reversed(headings) if h.clause), None)
    sub = sub_clause(block.markdown) if block is not None and block.kind == "list" else None
    return f"{clause}{sub}" if clause and sub else clause


def _push_heading(headings: list[_Heading], heading: _Heading) -> list[_Heading]:
    if headings and heading.text.startswith("(") and heading.text.endswith(")"):
        # "(In millions, except per share data)" set as a heading qualifies the one above (a statement's
        # title, which tells its tables apart); its box is still cited with the section's first chunk
        return headings
    kept = [h for h in headings if h.level < heading.level]
    return [*kept, heading] if heading.text else kept


def _adjacent_caption(
    blocks: list[tuple[int, Block]], i: int, current: _Draft | None, used: set[int]
) -> _Unit | None:
    """A caption right before the table (still last in the text draft) or right after it. A short line of
    text right before it on its page titles it too ("CONSOLIDATED BALANCE SHEETS At January 1, 2023 ...")."""
    before = blocks[i - 1] if i > 0 else None
    if current is not None and current.units and before is not None and _titles_table(before, blocks[i][0]):
        return current.units.pop()
    if i + 1 < len(blocks) and blocks[i + 1][1].kind == "caption":
        used.add(i + 1)
        page, cap = blocks[i + 1]
        return _Unit(cap.markdown.strip(), cap.regions(page), 0)
    return None


# --- tables ------------------------------------------------------------------------------------

SECTION_HEADER_SHARE = 0.25  # a running header on at most this share of the pages names their section


def _section_headers(layouts: list[PageLayout]) -> dict[int, _Unit]:
    """Per page, its running headers that name a section rather than the document: a filing prints
    "Consolidated Balance Sheets" atop the statement's pages, where furniture marking finds a header,
    while "Pfizer Inc. 2021 Form 10-K" runs on every page. Such a header titles the page's tables."""
    texts = {
        lay.page: [
            (" ".join(b.markdown.split()), b) for b in lay.blocks if b.kind == "header" and b.markdown.strip()
        ]
        for lay in layouts
    }
    pages_with: dict[str, int] = {}
    for found in texts.values():
        for text in {t.lower() for t, _ in found}:
            pages_with[text] = pages_with.get(text, 0) + 1
    limit = max(1, int(SECTION_HEADER_SHARE * len(layouts)))
    out: dict[int, _Unit] = {}
    for page, found in texts.items():
        named = [(t, b) for t, b in found if pages_with[t.lower()] <= limit and re.search(r"[^\W\d_]{3}", t)]
        if named:
            regions = [r for _, b in named for r in b.regions(page)]
            out[page] = _Unit(" ".join(t for t, _ in named), regions, 0)
    return out


def _with_section(section: _Unit | None, caption: _Unit | None) -> _Unit | None:
    """The table's caption preceded by its page's section header (unless the caption already says it)."""
    if section is None or (caption is not None and section.text.lower() in caption.text.lower()):
        return caption
    if caption is None or not caption.text:
        return _Unit(section.text, section.regions + (caption.regions if caption else []), 0)
    return _Unit(f"{section.text}\n{caption.text}", section.regions + caption.regions, 0)


TABLE_TITLE_WORDS = 30  # a text block this short right above a table, not a sentence, is its title


def _titles_table(before: tuple[int, Block], page: int) -> bool:
    block = before[1]
    if block.kind == "caption":
        return True
    text = block.markdown.strip()
    return (
        block.kind == "text"
        and before[0] == page
        and len(text.split()) <= TABLE_TITLE_WORDS
        and not text.endswith((".", ":", ";"))
    )


def _table_parts(
    page: int,
    block: Block,
    caption: _Unit | None,
    config: ChunkingConfig,
    budget: int,
    count_tokens: Callable[[str], int],
) -> list[_Unit]:
    """The table in parts of at most `table_max_rows` rows and `budget` tokens, header row repeated."""
    lines = [ln for ln in block.markdown.strip().splitlines() if ln.strip()]
    header = lines[:2] if len(lines) > 1 and _TABLE_SEP.match(lines[1]) else lines[:1]
    rows = lines[len(header) :]
    prefix = ([caption.text] if caption and caption.text else []) + header
    regions = (caption.regions if caption else []) + block.regions(page)
    fixed = count_tokens("\n".join(prefix))
    parts: list[list[str]] = [[]]
    used = fixed
    for row in rows:
        row_tokens = count_tokens(row) + 1
        if parts[-1] and (len(parts[-1]) >= config.table_max_rows or used + row_tokens > budget):
            parts.append([])
            used = fixed
        parts[-1].append(row)
        used += row_tokens
    texts = ["\n".join(prefix + part) for part in parts]
    # A single row wider than the budget is still cut, so no chunk passes the embedder's limit.
    return [
        _Unit(piece, regions, count_tokens(piece))
        for text in texts
        for piece in _fit(text, budget, count_tokens)
    ]


# --- text --------------------------------------------------------------------------------------


def _text_units(page: int, block: Block, budget: int, count_tokens: Callable[[str], int]) -> list[_Unit]:
    """The block whole when it fits, else sentence runs; each piece keeps the lines it came from."""
    text = block.markdown.strip()
    if not text:
        return [_Unit("", block.regions(page), 0)]
    tokens = count_tokens(text)
    if tokens <= budget:
        return [_Unit(text, block.regions(page), tokens)]
    spans = _line_spans(block, text)
    units: list[_Unit] = []
    for start, piece in _pieces(text, budget, count_tokens):
        end = start + len(piece)
        lines = [line for (s, e, line) in spans if s < end and e > start]
        regions = [ln.region(page) for ln in lines] or [Region(page=page, bbox=block.bbox, text=piece)]
        units.append(_Unit(piece, regions, count_tokens(piece)))
    return units


def split_sentences(text: str) -> list[str]:
    """Sentences, keeping their end punctuation (. ! ? and the CJK 。！？)."""
    out: list[str] = []
    for part in _SENTENCE_END.split(text):
        part = part.strip()
        if not part:
            continue
        last = out[-1].rsplit(None, 1)[-1].lower() if out else ""
        if last in _ABBREVIATIONS:  # "Sec. 12.3", "No. 5", "Acme Inc. shall": one sentence
            out[-1] = f"{out[-1]} {part}"
        else:
            out.append(part)
    return out


def _pieces(text: str, budget: int, count_tokens: Callable[[str], int]) -> list[tuple[int, str]]:
    """Sentence runs within budget, each with its start offset in text."""
    out: list[tuple[int, str]] = []
    cursor = 0
    run: list[str] = []
    run_start = 0
    run_tokens = 0
    for sentence in split_sentences(text):
        found = text.find(sentence, cursor)
        start = found if found >= 0 else cursor
        cursor = start + len(sentence)
        for sub in _fit(sentence, budget, count_tokens):
            sub_tokens = count_tokens(sub)
            if run and run_tokens + sub_tokens > budget:
                out.append((run_start, " ".join(run)))
                run = []
            if not run:
                run_start, run_tokens = start, 0
            run.append(sub)
            run_tokens += sub_tokens + 1
    if run:
        out.append((run_start, " ".join(run)))
    return out


def _fit(text: str, budget: int, count_tokens: Callable[[str], int]) -> list[str]:
    """Hard split of one over-long sentence: by words, or by characters for CJK without spaces."""
    if count_tokens(text) <= budget:
        return [text]
    words = text.split(" ") if " " in text.strip() else list(text)
    glue = " " if " " in text.strip() else ""
    parts: list[str] = []
    current: list[str] = []
    for word in words:
        if current and count_tokens(glue.join([*current, word])) > budget:
            parts.append(glue.join(current))
            current = []
        current.append(word)
    if current:
        parts.append(glue.join(current))
    return parts


def _line_spans(block: Block, text: str) -> list[tuple[int, int, Line]]:
    """Character span of each line of the block in its markdown (found, else proportional)."""
    spans: list[tuple[int, int, Line]] = []
    total = sum(len(ln.text) + 1 for ln in block.lines) or 1
    cursor = 0
    approx = 0
    for line in block.lines:
        key = line.text.strip()
        found = text.find(key, cursor) if key else -1
        if found >= 0:
            start, end = found, found + len(key)
            cursor = end
        else:
            start = approx * len(text) // total
            end = (approx + len(line.text) + 1) * len(text) // total
        approx += len(line.text) + 1
        spans.append((start, end, line))
    return spans


def _merge_regions(regions: list[Region]) -> list[Region]:
    """Page order kept, exact duplicates (a box shared by two pieces of one chunk) dropped."""
    seen: set[tuple[int, tuple[float, ...]]] = set()
    out: list[Region] = []
    for region in sorted(regions, key=lambda r: r.page):
        key = (region.page, tuple(region.bbox.as_list()))
        if key not in seen:
            seen.add(key)
            out.append(region)
    return out
