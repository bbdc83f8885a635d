"""Answerers: the LLM one against a fake OpenAI-compatible server on loopback, the extractive one by hand."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from ingest.layout import BBox, Region
from retrieval.answer import AnswerConfig, ExtractiveAnswerer, LlmAnswerer, build_messages
from retrieval.errors import LlmBadResponse, LlmTimeout, LlmUnavailable
from retrieval.hits import SearchHit
from retrieval.llm import LlmConfig
from retrieval.markers import check_markers
from retrieval.sentences import terms, without_instructions
from tests.fakes.openai_server import FakeLlmServer

LAW_LINES = [
    "12. Notices. All notices shall be in writing and sent to the addresses above.",
    "13. Governing Law. This Agreement shall be governed by the laws",
    "of the State of Ohio, without reference to conflicts of law.",
    "14. Counterparts. This Agreement may be signed in counterparts.",
]
TERM_LINES = [
    "2. Term. The term of this Agreement ends on December 31, 2028.",
    "It renews for successive one-year periods unless either party objects.",
]


def make_hit(n: int, lines: list[str], score: float = 0.8, page: int = 1) -> SearchHit:
    regions = [
        Region(page=page, bbox=BBox(x0=0.1, y0=0.1 + 0.05 * i, x1=0.9, y1=0.14 + 0.05 * i), text=t)
        for i, t in enumerate(lines)
    ]
    return SearchHit(
        chunk_id=f"chunk-{n}",
        doc_id=f"doc-{n}",
        kb="contracts",
        filename=f"contract-{n}.pdf",
        score=score,
        kind="text",
        markdown="\n".join(lines),
        regions=regions,
        pages=[page],
    )


HITS = [make_hit(1, LAW_LINES, 0.9, page=7), make_hit(2, TERM_LINES, 0.7, page=2)]


def llm_config(fake: FakeLlmServer, **overrides: object) -> AnswerConfig:
    llm = LlmConfig(url=fake.url, model="test-model", api_key="k", read_timeout_s=5, backoff_s=0.01)
    return AnswerConfig(backend="llm", llm=llm.model_copy(update=overrides))


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


# --- LLM --------------------------------------------------------------------------------------


async def test_valid_markers_are_kept_and_cite_narrowed_quotes(fake_llm, client) -> None:
    fake_llm.reply("The agreement is governed by Ohio law [1]. It ends on December 31, 2028 [2].")
    answer = await LlmAnswerer(llm_config(fake_llm), client).answer("Which law governs?", HITS)
    assert answer.answer == "The agreement is governed by Ohio law [1]. It ends on December 31, 2028 [2]."
    assert answer.flags == [] and not answer.refused
    first, second = answer.citations
    assert (first.n, first.doc_id, first.chunk_id, second.n, second.doc_id) == (
        1,
        "doc-1",
        "chunk-1",
        2,
        "doc-2",
    )
    assert first.quote in HITS[0].markdown and "governed" in first.quote
    # only the quoted words of the quoted lines, not the chunk nor the clause number before the quote
    assert [r.text for r in first.regions] == [LAW_LINES[1][19:], LAW_LINES[2][:-1]]
    assert all(r.page == 7 for r in first.regions)
    sent = fake_llm.chat_requests[0]
    assert sent["model"] == "test-model" and sent["stream"] is False
    assert "[1] contract-1.pdf, page 7" in sent["messages"][1]["content"]
    assert "[2] contract-2.pdf, page 2" in sent["messages"][1]["content"]
    assert sent["messages"][1]["content"].endswith("Question: Which law governs?")
    assert fake_llm.requests[0]["headers"]["authorization"] == "Bearer k"


async def test_marker_naming_no_source_is_removed_and_flagged(fake_llm, client) -> None:
    fake_llm.reply("Ohio law governs [1][7]. The term ends in 2028 [3, 2].")
    answer = await LlmAnswerer(llm_config(fake_llm), client).answer("Which law governs?", HITS)
    assert answer.answer == "Ohio law governs [1]. The term ends in 2028 [2]."
    assert "invalid_marker_removed" in answer.flags
    assert [c.n for c in answer.citations] == [1, 2]


async def test_reply_without_markers_is_flagged_and_cites_nothing(fake_llm, client) -> None:
    fake_llm.reply("Ohio law governs the agreement.")
    answer = await LlmAnswerer(llm_config(fake_llm), client).answer("Which law governs?", HITS)
    assert answer.citations == []
    assert {"no_citations", "uncited_sentence"} <= set(answer.flags)


async def test_uncited_sentence_next_to_cited_one_is_flagged(fake_llm, client) -> None:
    fake_llm.reply("Ohio law governs [1]. Delaware courts hear disputes.")
    answer = await LlmAnswerer(llm_config(fake_llm), client).answer("Which law governs?", HITS)
    assert answer.flags == ["uncited_sentence"]


@pytest.mark.parametrize(
    "reply", ["NOT IN DOCUMENTS", "The provided documents do not contain information about the fee."]
)
async def test_model_saying_documents_do_not_answer_is_a_refusal(fake_llm, client, reply: str) -> None:
    fake_llm.reply(reply)
    config = llm_config(fake_llm)
    answer = await LlmAnswerer(config, client).answer("What is the fee?", HITS)
    assert answer.refused and answer.citations == []
    assert answer.answer == config.refusal


async def test_weak_evidence_refuses_without_calling_the_llm(fake_llm, client) -> None:
    config = llm_config(fake_llm).model_copy(update={"min_score": 0.95})
    answerer = LlmAnswerer(config, client)
    weak = await answerer.answer("Which law governs?", HITS)
    empty = await answerer.answer("Which law governs?", [])
    assert weak.refused and empty.refused and weak.citations == []
    assert weak.flags == ["weak_evidence"]
    assert fake_llm.chat_requests == []


async def test_only_max_sources_are_numbered_in_the_prompt(fake_llm, client) -> None:
    config = llm_config(fake_llm).model_copy(update={"max_sources": 1})
    fake_llm.reply("Ohio law governs [1]. The term ends in 2028 [2].")
    answer = await LlmAnswerer(config, client).answer("Which law governs?", HITS)
    assert "[2]" not in fake_llm.chat_requests[0]["messages"][1]["content"]
    assert answer.answer == "Ohio law governs [1]. The term ends in 2028." and answer.flags


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_server_errors_and_rate_limits_are_retried(fake_llm, client, status: int) -> None:
    fake_llm.fail(status, times=2)
    fake_llm.reply("Ohio law governs [1].")
    answer = await LlmAnswerer(llm_config(fake_llm, retries=2), client).answer("Which law governs?", HITS)
    assert answer.answer == "Ohio law governs [1]."
    assert len(fake_llm.chat_requests) == 3


async def test_retries_are_bounded(fake_llm, client) -> None:
    fake_llm.fail(500, times=5)
    with pytest.raises(LlmBadResponse, match="HTTP 500"):
        await LlmAnswerer(llm_config(fake_llm, retries=1), client).answer("Which law governs?", HITS)
    assert len(fake_llm.chat_requests) == 2


async def test_client_errors_are_not_retried(fake_llm, client) -> None:
    fake_llm.fail(400)
    with pytest.raises(LlmBadResponse, match="HTTP 400"):
        await LlmAnswerer(llm_config(fake_llm, retries=3), client).answer("Which law governs?", HITS)
    assert len(fake_llm.chat_requests) == 1


async def test_hanging_server_times_out(fake_llm, client) -> None:
    fake_llm.hang(10, times=2)
    config = llm_config(fake_llm, read_timeout_s=0.3, retries=1)
    with pytest.raises(LlmTimeout):
        await LlmAnswerer(config, client).answer("Which law governs?", HITS)
    assert len(fake_llm.chat_requests) == 2


async def test_unreachable_server_is_unavailable(client) -> None:
    config = AnswerConfig(
        backend="llm", llm=LlmConfig(url="http://127.0.0.1:9/v1", model="m", retries=1, backoff_s=0.01)
    )
    with pytest.raises(LlmUnavailable, match="cannot reach"):
        await LlmAnswerer(config, client).answer("Which law governs?", HITS)


async def test_streaming_yields_tokens_then_validated_citations_then_done(fake_llm, client) -> None:
    fake_llm.reply("Ohio law governs [1][9].")
    events = [e async for e in LlmAnswerer(llm_config(fake_llm), client).stream("Which law governs?", HITS)]
    types = [e["type"] for e in events]
    assert types[-2:] == ["citations", "done"] and set(types[:-2]) == {"token"} and len(types) > 4
    assert "".join(e["text"] for e in events[:-2]) == "Ohio law governs [1][9]."
    assert [c["n"] for c in events[-2]["citations"]] == [1]
    assert events[-2]["flags"] == ["invalid_marker_removed"]
    assert events[-1] == {"type": "done", "answer": "Ohio law governs [1].", "refused": False}
    assert fake_llm.chat_requests[0]["stream"] is True


def test_marker_after_the_full_stop_belongs_to_its_sentence() -> None:
    check = check_markers("The term is five years. [2] It renews every year [1, 2].", 2)
    assert check.cited == [2, 1] and check.flags == []
    assert check.text == "The term is five years. [2] It renews every year [1][2]."


def test_prompt_numbers_sources_and_asks_for_markers() -> None:
    messages = build_messages("Which law governs?", HITS, AnswerConfig())
    assert "[n]" not in messages[0]["content"] and "[2]" in messages[0]["content"]
    assert "NOT IN DOCUMENTS" in messages[0]["content"]
    assert messages[1]["content"].index("[1] contract-1.pdf") < messages[1]["content"].index("[2] contract-2")


# --- extractive -------------------------------------------------------------------------------


async def test_extractive_picks_the_sentence_that_holds_the_answer() -> None:
    answer = await ExtractiveAnswerer(AnswerConfig()).answer("Which law governs this agreement?", HITS)
    assert answer.answer == (
        "This Agreement shall be governed by the laws of the State of Ohio, without reference to conflicts of law. [1]"
    )
    citation = answer.citations[0]
    assert citation.doc_id == "doc-1" and citation.quote in HITS[0].markdown
    assert [r.text for r in citation.regions] == [LAW_LINES[1][19:], LAW_LINES[2][:-1]]


async def test_extractive_answer_from_a_lower_ranked_hit_cites_that_hit() -> None:
    answer = await ExtractiveAnswerer(AnswerConfig()).answer("When does the term of the agreement end?", HITS)
    assert "December 31, 2028" in answer.answer
    assert (
        answer.citations[0].doc_id == "doc-2" and answer.citations[0].regions[0].text == TERM_LINES[0][9:-1]
    )


async def test_extractive_refuses_when_no_sentence_shares_the_question() -> None:
    answer = await ExtractiveAnswerer(AnswerConfig()).answer("What royalty percentage is payable?", HITS)
    assert answer.refused and answer.citations == [] and answer.flags == ["no_matching_sentence"]


class PrefersRenewal:
    """An embedder that finds the renewal sentence closest to any question."""

    def embed_query(self, text: str) -> list[float]:
        return [1.0, 0.0]

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        return [[1.0, 0.0] if "renews" in t else [0.0, 1.0] for t in texts]


async def test_embedder_reranks_sentences_tied_on_words() -> None:
    question = "Is there an extension?"  # "extension" appears once in each hit
    hits = [
        make_hit(1, ["Any extension needs the written consent of both parties."]),
        make_hit(2, ["It renews for successive periods unless either party objects, by extension."]),
    ]
    plain = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(question, hits)
    reranked = await ExtractiveAnswerer(AnswerConfig(max_sentences=1), PrefersRenewal()).answer(
        question, hits
    )
    assert plain.citations[0].doc_id == "doc-1"
    assert reranked.citations[0].doc_id == "doc-2"


async def test_extractive_streams_its_answer_in_pieces() -> None:
    answerer = ExtractiveAnswerer(AnswerConfig(stream_piece_words=2))
    events = [e async for e in answerer.stream("Which law governs this agreement?", HITS)]
    tokens = [e["text"] for e in events if e["type"] == "token"]
    assert len(tokens) > 3 and "".join(tokens) == events[-1]["answer"]
    assert [e["type"] for e in events[-2:]] == ["citations", "done"]


async def test_public_shape_has_answer_and_citations_with_regions() -> None:
    answer = await ExtractiveAnswerer(AnswerConfig()).answer("Which law governs?", HITS)
    public = answer.to_public()
    assert set(public) >= {"answer", "citations"}
    citation = public["citations"][0]
    assert set(citation) == {
        "n",
        "doc_id",
        "filename",
        "chunk_id",
        "quote",
        "score",
        "clause",
        "label",
        "regions",
    }
    assert citation["regions"][0]["page"] == 7
    x0, y0, x1, y1 = citation["regions"][0]["bbox"]
    assert (y0, y1) == (0.15, 0.19) and 0.1 < x0 < x1 <= 0.9  # the quote starts after "13. Governing Law."


async def test_extractive_prefers_the_sentence_holding_the_kind_of_answer_asked_for() -> None:
    hits = [
        make_hit(1, ["The date of any notice shall be the date it is delivered to the other party."]),
        make_hit(
            2, ["This Sponsorship Agreement is entered into as of December 19, 2018 by HOF Village, LLC."]
        ),
    ]
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "What is the date of this agreement?", hits
    )
    assert "December 19, 2018" in answer.answer and answer.citations[0].doc_id == "doc-2"
    who = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer("Who are the parties?", hits)
    assert who.citations[0].doc_id == "doc-2"


async def test_a_run_in_title_lends_its_words_to_the_sentence_it_heads_and_never_answers_alone() -> None:
    """ "8.05 GOVERNING LAW." heads an arbitration sentence that shares no word with the question; a
    recital that mentions governing answers nothing better."""
    hits = [
        make_hit(
            1,
            [
                "8.05 GOVERNING LAW. All disputes or claims by the Affiliate hereunder shall be resolved by"
                " arbitration in McLean, Virginia."
            ],
        ),
        make_hit(2, ["WHEREAS, this Agreement shall govern the referral arrangement between the parties."]),
    ]
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "What is the governing law of this agreement?", hits
    )
    assert answer.answer.startswith("All disputes or claims") and answer.citations[0].doc_id == "doc-1"


async def test_a_sentence_opening_a_list_answers_with_its_items() -> None:
    lines = [
        "11. Termination. This Agreement shall automatically terminate at and as of (the first to occur of):",
        "(a) the 30th day after the Effective Date; (b) the expiration of the Offer; and",
        "(c) the expiration of the Interim Period. Notices shall be in writing.",
    ]
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "When does this agreement terminate?", [make_hit(1, lines)]
    )
    assert answer.answer.startswith("This Agreement shall automatically terminate")
    assert "(c) the expiration of the Interim Period." in answer.answer and "Notices" not in answer.answer
    assert "the expiration of the Interim Period" in (answer.citations[0].regions[-1].text or "")


async def test_extractive_keeps_a_clause_two_documents_share_but_drops_one_repeated_within_a_document() -> (
    None
):
    clause = "The Customer shall pay every invoice within thirty days of receipt."
    footer = "Source: ACME CORP, S-4/A, filed 1/23/2020, payable within thirty days."
    shared = [make_hit(1, [clause], 0.9), make_hit(2, [clause], 0.8)]  # two contracts, same boilerplate
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(
        "Within how many days must invoices be paid?", shared
    )
    assert "thirty days of receipt" in answer.answer

    page1, page2 = make_hit(3, [footer], 0.9, page=1), make_hit(4, [footer, clause], 0.8, page=2)
    page2 = page2.model_copy(update={"doc_id": page1.doc_id})  # one document: the footer runs on every page
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(
        "Within how many days is payment due?", [page1, page2]
    )
    assert "Source:" not in answer.answer and "thirty days of receipt" in answer.answer


async def test_a_date_question_cites_the_date_words_and_a_term_question_the_sentence() -> None:
    line = "This Agreement is dated as of January 29, 2020 among the parties below."
    words_x = [(0.1 + 0.05 * i, 0.14 + 0.05 * i) for i in range(len(line.split()))]
    region = Region(page=1, bbox=BBox(x0=0.1, y0=0.2, x1=0.8, y1=0.22), text=line, words_x=words_x)
    hit = SearchHit(
        chunk_id="c",
        doc_id="d",
        kb="k",
        filename="f.pdf",
        score=1.0,
        kind="text",
        markdown=line,
        regions=[region],
    )
    dated = await ExtractiveAnswerer(AnswerConfig()).answer("When was this agreement signed?", [hit])
    [citation] = dated.citations
    assert citation.quote == "January 29, 2020"
    [cited] = citation.regions
    assert (cited.bbox.x0, cited.bbox.x1) == words_x[6][:1] + words_x[8][1:]  # "January" .. "2020"
    ends = "The term of this Agreement ends on December 31, 2028 unless renewed."
    term_hit = hit.model_copy(
        update={"markdown": ends, "regions": [region.model_copy(update={"text": ends})]}
    )
    term = await ExtractiveAnswerer(AnswerConfig()).answer("When does the term end?", [term_hit])
    assert term.citations[0].quote == ends  # a condition, not a short fact: the whole sentence


def card_hit(lines: list[str]) -> SearchHit:
    hit = make_hit(9, lines, 0.5, page=1)
    return hit.model_copy(update={"heading_path": ["Document card"], "doc_id": "doc-1"})


async def test_the_document_card_answers_who_and_what_but_not_when_it_ends() -> None:
    body = make_hit(
        1,
        [
            "Each party shall keep the other party's confidential information secret.",
            "This Agreement may be signed by the parties in counterparts.",
            "2. Term. This Agreement ends on December 31, 2028 unless renewed.",
        ],
    )
    title = card_hit(["Title: this document is the Supply Agreement."])
    parties = card_hit(
        ["Parties: it is made between Acme Widgets Inc. (Buyer) and Beta Robotics LLC (Seller)."]
    )
    dated = card_hit(["Date: it is dated March 3, 2021."])
    hits = [body, title, parties, dated]
    answerer = ExtractiveAnswerer(AnswerConfig())
    who = await answerer.answer("Who are the parties to this agreement?", hits)
    assert who.answer.startswith("Parties: it is made between Acme Widgets Inc.")
    called = await answerer.answer("What is this contract called?", hits)
    assert called.answer.startswith("Title: this document is the Supply Agreement.")
    ends = await answerer.answer("When does this agreement end?", hits)
    assert "December 31, 2028" in ends.answer and "March 3, 2021" not in ends.answer


async def test_each_party_is_cited_where_it_is_named() -> None:
    """The card's parties statement is one sentence, but each party gets a citation on its own place, a
    name written over two lines on both its lines."""
    statement = (
        "Parties: it is made between Acme Widgets Inc. (Buyer) and Beta Robotics Holdings LLC (Seller)."
    )
    places = [
        ("Acme Widgets Inc.", BBox(x0=0.1, y0=0.20, x1=0.3, y1=0.21)),
        ("Beta Robotics", BBox(x0=0.7, y0=0.20, x1=0.9, y1=0.21)),
        ("Holdings LLC", BBox(x0=0.1, y0=0.22, x1=0.25, y1=0.23)),
    ]
    hit = card_hit([statement]).model_copy(
        update={"regions": [Region(page=1, bbox=box, text=text) for text, box in places]}
    )
    who = await ExtractiveAnswerer(AnswerConfig()).answer("Who signed this contract?", [hit])
    assert who.answer == statement + " [1][2]"
    acme, beta = who.citations
    # (the final "." is not a word: the box ends a little before the line's)
    assert acme.quote == "Acme Widgets Inc." and [r.bbox.iou(places[0][1]) > 0.9 for r in acme.regions] == [
        True
    ]
    assert beta.quote == "Beta Robotics Holdings LLC"
    assert [r.bbox for r in beta.regions] == [places[1][1], places[2][1]]


async def test_a_card_date_read_from_a_clause_cites_its_sentence_one_from_a_preamble_its_words() -> None:
    clause = BBox(x0=0.1, y0=0.30, x1=0.8, y1=0.32)
    stated = card_hit(["Effective date: it takes effect on January 1, 2016."]).model_copy(
        update={
            "regions": [
                Region(
                    page=2, bbox=clause, text="The effective date of the Franchise will be January 1, 2016."
                )
            ]
        }
    )
    answerer = ExtractiveAnswerer(AnswerConfig())
    effective = await answerer.answer("When does this agreement become effective?", [stated])
    # (the final "." is not a word: the box ends a little before the line's)
    assert [r.bbox.iou(clause) > 0.95 for c in effective.citations for r in c.regions] == [True], (
        effective.answer
    )
    assert effective.citations[0].quote == "The effective date of the Franchise will be January 1, 2016."
    dated = card_hit(["Date: it is dated March 3, 2021."]).model_copy(
        update={"regions": [Region(page=1, bbox=BBox(x0=0.5, y0=0.1, x1=0.7, y1=0.12), text="March 3, 2021")]}
    )
    when = await answerer.answer("What is the date of this agreement?", [dated])
    assert when.citations[0].quote == "March 3, 2021", when.answer


@pytest.mark.parametrize(
    "question", ["When does this agreement expire?", "How long does it last?", "when does it end?"]
)
async def test_an_expiry_question_is_answered_by_the_term_clause_not_a_dated_sentence(question: str) -> None:
    """Contracts rarely end on a date: "shall continue until five years after ...", "for so long as ...";
    and they say so of the agreement itself, not of one party's supply "until" its notice takes effect."""
    passing = make_hit(
        4,
        [
            "Each Supplier may end its supply of a Product by notice and shall supply it until such notice takes effect."
        ],
        0.95,
    )
    preamble = make_hit(
        1,
        ["This Supply Agreement, dated as of January 29, 2020, is made between Acme Inc. and Beta LLC."],
        0.9,
    )
    effect = make_hit(
        2, ["6.3 Effect of Expiration or Termination.", "Licensee shall pay all unpaid fees."], 0.85
    )
    term = make_hit(
        3,
        [
            "The initial term of this Agreement commences as of the Effective Date and shall continue until",
            "five (5) years following the Effective Date.",
        ],
        0.7,
        page=9,
    )
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(question, [passing, preamble, effect, term])
    assert answer.answer.startswith("The initial term of this Agreement commences"), answer.answer
    assert answer.citations[0].regions[0].page == 9


async def test_extractive_answers_only_with_sentences_the_caller_accepts_near_the_best() -> None:
    question = "Is there a warranty?"  # no kind of answer asked for: every sentence scores by its words
    filler = " ".join(f"item{i}" for i in range(300))  # a long sentence: damped, far below the best
    hits = [
        make_hit(1, ["Any warranty needs the written consent of both parties."]),
        make_hit(2, ["It covers the goods for successive periods unless either party objects, by warranty."]),
        make_hit(3, [f"The schedule lists {filler} and one warranty."]),
    ]
    answerer = ExtractiveAnswerer(AnswerConfig(max_sentences=1))
    assert (await answerer.answer(question, hits)).citations[0].doc_id == "doc-1"
    accepted = await answerer.answer(question, hits, accept=lambda s: "covers" in s)
    assert accepted.citations[0].doc_id == "doc-2"
    # a sentence accepted but scoring under half the best one is no answer: a review field is not found
    weak = await answerer.answer(question, hits, accept=lambda s: "schedule" in s)
    assert weak.refused and weak.flags == ["no_matching_sentence"]


async def test_a_renewal_question_that_says_end_is_not_answered_by_the_term_statement() -> None:
    term = make_hit(1, ["The initial term of this Agreement shall continue until December 31, 2020."], 0.9)
    renewal = make_hit(
        2, ["At the end of the initial term, this Agreement shall renew automatically for one year."], 0.8
    )
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(
        "Is this contract extended automatically at the end?", [term, renewal]
    )
    assert answer.answer.startswith("At the end of the initial term"), answer.answer


async def test_the_governing_law_is_not_where_a_party_was_organized() -> None:
    """A preamble names a law of every party's incorporation; the clause that answers may name none."""
    preamble = make_hit(
        1,
        [
            "ScanSource Brazil Distribuidora de Technologias, Ltda., a ScanSource Affiliate incorporated and",
            "organized under the laws of Brazil, with offices in the City of Sao Paulo.",
        ],
        0.9,
    )
    clause = make_hit(
        2,
        [
            "The terms of the Governing Law and Dispute Resolution provisions of the Distribution Agreement",
            "will apply to this Addendum.",
        ],
        0.6,
        page=2,
    )
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "What is the governing law of this agreement?", [preamble, clause]
    )
    assert answer.citations[0].regions[0].page == 2, answer.answer


async def test_a_law_named_before_the_word_law_answers_but_not_a_partys_formation() -> None:
    preamble = make_hit(
        1, ["Fuse Medical, Inc., a corporation incorporated under Delaware law, and its affiliates."], 0.9
    )
    notices = make_hit(2, ["Each party shall give notices in accordance with Applicable Law."], 0.8, page=2)
    clause = make_hit(
        3,
        [
            "This agreement and any dispute or claim arising out of it shall be governed by and construed",
            "in accordance with Ohio law.",
        ],
        0.6,
        page=3,
    )
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "Which law governs this contract?", [preamble, notices, clause]
    )
    assert answer.citations[0].regions[0].page == 3, answer.answer


async def test_expiry_reads_a_numbered_term_statement_and_not_what_survives_the_end() -> None:
    survival = make_hit(
        1,
        [
            "this Agreement, provided, however that Section 7.3(a)(iv) shall survive the termination or expiration"
        ],
        0.9,
    )
    term = make_hit(
        2,
        [
            "7.1 Unless otherwise stated in the Appendix the term of this letter Agreement shall continue for",
            "twenty-four (24) months with the effective date unless terminated sooner.",
        ],
        0.6,
        page=3,
    )
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "When does this agreement expire?", [survival, term]
    )
    assert answer.citations[0].regions[0].page == 3, answer.answer


async def test_a_renewal_question_is_answered_by_a_renewal_in_other_words() -> None:
    """ "does it auto renew?" shares no word with "automatically be extended": the kind of answer finds it."""
    hits = [
        make_hit(1, ["The Licensee shall pay the fees within thirty days of each invoice."], 0.9),
        make_hit(
            2,
            [
                "The Initial Term shall automatically be extended for an additional period of half a year unless",
                "either party gives written notice of termination.",
            ],
            0.7,
            page=3,
        ),
    ]
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer("does it auto renew?", hits)
    assert not answer.refused and answer.citations[0].regions[0].page == 3, answer.answer


async def test_a_fiscal_year_in_the_question_matches_the_year_a_filing_writes() -> None:
    hits = [
        make_hit(1, ["Acquisitions in 2022 included Beta Corp and Gamma Labs, for $1.2 billion in all."]),
        make_hit(2, ["Our strategy relies on several growth drivers across the businesses we own today."]),
    ]
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(
        "What are major acquisitions that Acme has done in FY2022 and FY 2021?", hits
    )
    assert not answer.refused
    assert answer.answer.startswith("Acquisitions in 2022 included Beta Corp")


async def test_instructions_in_a_question_do_not_dilute_what_it_asks() -> None:
    question = (
        "Has Acme's quick ratio improved between FY2023 and FY2022? If the quick ratio is not something a "
        "financial analyst would ask about a company like this, then state that and explain why."
    )
    assert without_instructions(question) == "Has Acme's quick ratio improved between FY2023 and FY2022?"
    assert without_instructions("Answer in USD millions.") == "Answer in USD millions."  # nothing else asked
    hits = [make_hit(1, ["The quick ratio improved to 0.9 at year end from 0.8 a year before."])]
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(question, hits)
    assert not answer.refused and answer.answer.startswith("The quick ratio improved to 0.9")


def test_adverbs_meet_their_adjectives() -> None:
    # "materially important legal battles" asks about a "material effect" of a "legal proceeding"
    assert terms("materially annually automatically") == terms("material annual automatic")
