"""Answers with numbered citations: an OpenAI-compatible LLM (validated [n] markers) or extractive.

Both answerers take search hits, refuse rather than guess when the evidence is weak, and cite
verbatim quotes whose regions are narrowed to the quoted lines (see `retrieval.citations`).
Streaming yields events: `{"type": "token", "text"}`, one `{"type": "citations"}`, `{"type": "done"}`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any, Literal, Protocol

import httpx
from pydantic import BaseModel, Field

from ingest.chunking import CARD_HEADING
from ingest.clauses import chip
from ingest.layout import Region
from retrieval.card_fields import card_values
from retrieval.citations import best_quote, narrow_regions
from retrieval.extractive import QueryEmbedder, compose_extract, short_fact
from retrieval.financial_metrics import input_rows
from retrieval.hits import SearchHit
from retrieval.llm import LlmClient, LlmConfig, Message
from retrieval.markers import REFUSAL_SENTINEL, check_markers, claims_by_source, is_refusal
from retrieval.scope import named_documents
from retrieval.sentences import clean_markdown, without_instructions
from retrieval.table_rows import row_statement

Event = dict[str, Any]


class AnswerConfig(BaseModel):
    backend: Literal["extractive", "llm"] = "extractive"
    llm: LlmConfig = Field(default_factory=LlmConfig)
    max_sources: int = 5
    # hits scoring below this are weak evidence; with no hit at or above it the answer is a refusal.
    # The scale is the search mode's (hybrid fusion scores are small), hence 0 by default.
    min_score: float = 0.0
    max_sentences: int = 3
    refusal: str = "The documents do not answer this question."
    stream_piece_words: int = 3  # extractive streaming: words per token event


class Citation(BaseModel):
    n: int
    doc_id: str
    filename: str
    chunk_id: str
    quote: str  # verbatim chunk text
    regions: list[Region] = Field(default_factory=list)
    score: float
    clause: str | None = None  # the legal clause quoted ("12.3"), when the document numbers its clauses

    @property
    def label(self) -> str:
        """How the citation reads beside its quote: "§12.3 · p. 15"."""
        return chip(self.clause, self.regions[0].page if self.regions else None)

    def to_public(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "doc_id": self.doc_id,
            "filename": self.filename,
            "chunk_id": self.chunk_id,
            "quote": self.quote,
            "score": self.score,
            "clause": self.clause,
            "label": self.label,
            "regions": [r.to_public() for r in self.regions],
        }


class Answer(BaseModel):
    answer: str
    citations: list[Citation] = Field(default_factory=list)
    flags: list[str] = Field(default_factory=list)
    refused: bool = False

    def to_public(self) -> dict[str, Any]:
        """The CLI's --json and the API's answer shape."""
        return {
            "answer": self.answer,
            "citations": [c.to_public() for c in self.citations],
            "flags": self.flags,
            "refused": self.refused,
        }


class Answerer(Protocol):
    config: AnswerConfig

    async def answer(self, question: str, hits: Sequence[SearchHit]) -> Answer: ...

    def stream(self, question: str, hits: Sequence[SearchHit]) -> AsyncIterator[Event]: ...


def cite(n: int, hit: SearchHit, quote: str) -> Citation:
    """Citation `n` of `quote` from `hit`, its regions narrowed to the lines holding the quote."""
    return Citation(
        n=n,
        doc_id=hit.doc_id,
        filename=hit.filename,
        chunk_id=hit.chunk_id,
        quote=quote,
        regions=narrow_regions(quote, hit.regions),
        score=hit.score,
        clause=hit.clause,
    )


def select_sources(hits: Sequence[SearchHit], config: AnswerConfig) -> list[SearchHit]:
    """The hits strong enough to answer from, best first, at most `max_sources`."""
    return [h for h in hits if h.score >= config.min_score][: config.max_sources]


def refusal(config: AnswerConfig, flag: str) -> Answer:
    return Answer(answer=config.refusal, refused=True, flags=[flag])


def unmentioned_refusal(config: AnswerConfig, names: Sequence[str]) -> Answer:
    """The refusal for a question about names or years its documents never write
    (`KnowledgeBase.unmentioned`), saying which: no passage can answer about them."""
    listed = ", ".join(f"“{name}”" for name in names)
    return Answer(
        answer=f"{config.refusal} They never mention {listed}.", refused=True, flags=["unmentioned"]
    )


def citations_event(answer: Answer) -> Event:
    return {
        "type": "citations",
        "citations": [c.to_public() for c in answer.citations],
        "flags": answer.flags,
    }


def done_event(answer: Answer) -> Event:
    return {"type": "done", "answer": answer.answer, "refused": answer.refused}


async def stream_text(answer: Answer, words_per_piece: int) -> AsyncIterator[Event]:
    """An answer already composed, as token events in small pieces, then citations and done."""
    words = answer.answer.split(" ")
    for i in range(0, len(words), words_per_piece):
        piece = " ".join(words[i : i + words_per_piece])
        yield {"type": "token", "text": piece if i == 0 else " " + piece}
    yield citations_event(answer)
    yield done_event(answer)


# --- extractive -----------------------------------------------------------------------------


class ExtractiveAnswerer:
    """The embedded default: the best 1-3 sentences of the top hits, each followed by [n]."""

    def __init__(self, config: AnswerConfig, embedder: QueryEmbedder | None = None) -> None:
        self.config = config
        self.embedder = embedder

    async def answer(
        self, question: str, hits: Sequence[SearchHit], accept: Callable[[str], bool] | None = None
    ) -> Answer:
        """`accept`: only sentences it holds true of answer (`compose_extract`); a review field's evidence."""
        sources = select_sources(hits, self.config)
        if not sources:
            return refusal(self.config, "weak_evidence")
        # "the governing law of the Acme Supply Agreement between ..." is matched as "... of this
        # agreement": the name's words would pick the preamble's sentence over the clause asked about
        if (scope := named_documents(question, sources)) is not None:
            question = scope.query
        # sentences are matched against what is asked, not how to answer ("Round to one decimal place.");
        # the statements the question names, in either, give the input rows
        whole, question = question, without_instructions(question)
        if self.embedder is None:
            picks = compose_extract(question, sources, self.config.max_sentences, accept=accept)
        else:  # embedding is CPU work: keep the event loop free
            picks = await asyncio.to_thread(
                compose_extract, question, sources, self.config.max_sentences, self.embedder, accept
            )
        # a metric question ("Is it capital-intensive?") is answered with its inputs' statement rows first,
        # each with its label and column headers and cited on its row, then the best sentences
        rows = input_rows(whole, sources)
        picks = [p for p in picks if (p.hit, p.sentence) not in rows]
        if not picks and not rows:
            return refusal(self.config, "no_matching_sentence")
        citations: list[Citation] = []
        parts: list[str] = []
        for i, row in rows:
            citations.append(cite(len(citations) + 1, sources[i], row))
            parts.append(
                f"{row_statement(row, sources[i].markdown) or clean_markdown(row)} [{len(citations)}]"
            )
        for pick in picks:
            hit = sources[pick.hit]
            # a short fact (a date) is cited as the phrase that states it, highlighted word by word;
            # the card's "Parties: ..." as each party where it is named; a card statement whose regions
            # are a clause's sentence (an effective date stated in a clause) as that sentence, as written
            values = card_values(hit)
            if hit.heading_path == [CARD_HEADING] and not values:
                quotes = [" ".join(r.text for r in hit.regions if r.text) or pick.sentence]
            else:
                fact = short_fact(question, pick.sentence)
                quotes = [fact] if fact else values or [pick.sentence]
            cited = [cite(len(citations) + i, hit, q) for i, q in enumerate(quotes, start=1)]
            citations += cited
            text = pick.row or pick.text  # a table row reads with its column headers
            parts.append(text + " " + "".join(f"[{c.n}]" for c in cited))
        return Answer(answer=" ".join(parts), citations=citations)

    async def stream(self, question: str, hits: Sequence[SearchHit]) -> AsyncIterator[Event]:
        answer = await self.answer(question, hits)
        async for event in stream_text(answer, self.config.stream_piece_words):
            yield event


# --- LLM ------------------------------------------------------------------------------------

SYSTEM_PROMPT = (
    "You answer questions using only the numbered sources you are given. "
    "After every sentence, cite the sources that support it with their numbers in square brackets, "
    'for example: "The term is five years [2]." Cite only numbers that appear in the sources. '
    "Be brief: at most {max_sentences} sentences. "
    f"If the sources do not contain the answer, reply exactly: {REFUSAL_SENTINEL}"
)


def format_source(n: int, hit: SearchHit) -> str:
    pages = ", ".join(str(p) for p in hit.pages)
    head = " > ".join(hit.heading_path)
    label = f"[{n}] {hit.filename}" + (f", page {pages}" if pages else "") + (f" ({head})" if head else "")
    return f"{label}\n{hit.markdown.strip()}"


def build_messages(question: str, sources: Sequence[SearchHit], config: AnswerConfig) -> list[Message]:
    """The chat messages sent to the LLM: instructions, then numbered sources and the question."""
    blocks = "\n\n".join(format_source(n, h) for n, h in enumerate(sources, start=1))
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(max_sentences=config.max_sentences)},
        {"role": "user", "content": f"Sources:\n\n{blocks}\n\nQuestion: {question.strip()}"},
    ]


def answer_from_reply(reply: str, sources: Sequence[SearchHit], config: AnswerConfig) -> Answer:
    """Validate the model's reply against the sources: markers checked, refusals recognised."""
    check = check_markers(reply, len(sources))
    if is_refusal(reply, bool(check.cited)):
        return refusal(config, "llm_refused")
    claims = claims_by_source(check.text)
    citations = [
        cite(n, sources[n - 1], best_quote(sources[n - 1].markdown, claims.get(n, ""))) for n in check.cited
    ]
    return Answer(answer=check.text, citations=citations, flags=check.flags)


class LlmAnswerer:
    """Any OpenAI-compatible chat model, answering from numbered sources with [n] markers."""

    def __init__(self, config: AnswerConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.llm = LlmClient(config.llm, client)

    async def answer(self, question: str, hits: Sequence[SearchHit]) -> Answer:
        sources = select_sources(hits, self.config)
        if not sources:
            return refusal(self.config, "weak_evidence")
        reply = await self.llm.complete(build_messages(question, sources, self.config))
        return answer_from_reply(reply, sources, self.config)

    async def stream(self, question: str, hits: Sequence[SearchHit]) -> AsyncIterator[Event]:
        """Tokens as the model streams them; citations are validated once the reply is complete."""
        sources = select_sources(hits, self.config)
        if not sources:
            async for event in stream_text(refusal(self.config, "weak_evidence"), 1_000_000):
                yield event
            return
        pieces: list[str] = []
        async for piece in self.llm.stream(build_messages(question, sources, self.config)):
            pieces.append(piece)
            yield {"type": "token", "text": piece}
        answer = answer_from_reply("".join(pieces), sources, self.config)
        yield citations_event(answer)
        yield done_event(answer)


def build_answerer(
    config: AnswerConfig, client: httpx.AsyncClient | None = None, embedder: QueryEmbedder | None = None
) -> Answerer:
    """The answerer `config.backend` names; the LLM one needs the shared HTTP client."""
    if config.backend == "llm":
        if client is None:
            raise ValueError("the llm answer backend needs an httpx.AsyncClient")
        return LlmAnswerer(config, client)
    return ExtractiveAnswerer(config, embedder)
