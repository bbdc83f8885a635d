"""Chat: standalone questions from conversations, streamed events, and the OpenAI-compatible facade."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

import httpx
import pytest

from retrieval.answer import AnswerConfig, ExtractiveAnswerer, LlmAnswerer
from retrieval.chat import (
    BadChatRequest,
    ChatCompletionRequest,
    ChatConfig,
    ChatMessage,
    ChatService,
    build_condense_messages,
    complete_chat,
    heuristic_question,
    kb_from_model,
    stream_chat,
)
from retrieval.hits import SearchFilters, SearchHit, SearchMode
from retrieval.llm import LlmClient, LlmConfig
from tests.fakes.openai_server import FakeLlmServer
from tests.retrieval.test_answer import HITS

LAW_QUESTION = "Which law governs this agreement?"


class RecordingKb:
    """A knowledge base returning fixed hits and recording what it was asked; `missing` are the names its
    documents never write (`KnowledgeBase.unmentioned`, tested against a real store in test_unmentioned)."""

    def __init__(self, hits: list[SearchHit], missing: Sequence[str] = ()) -> None:
        self.hits = hits
        self.missing = list(missing)
        self.queries: list[tuple[str, SearchFilters, SearchMode, int]] = []

    def search(
        self, query: str, filters: SearchFilters, mode: SearchMode = "hybrid", top_k: int = 10
    ) -> list[SearchHit]:
        self.queries.append((query, filters, mode, top_k))
        return self.hits

    def unmentioned(self, question: str, hits: Sequence[SearchHit]) -> list[str]:
        return self.missing


def conversation(*turns: str) -> list[ChatMessage]:
    roles = ["user", "assistant"]
    return [ChatMessage(role=roles[i % 2], content=t) for i, t in enumerate(turns)]  # type: ignore[arg-type]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as c:
        yield c


def llm_for(fake: FakeLlmServer) -> LlmConfig:
    return LlmConfig(url=fake.url, model="chat-model", backoff_s=0.01, read_timeout_s=5)


def extractive_service(kb: RecordingKb) -> ChatService:
    return ChatService(kb, ExtractiveAnswerer(AnswerConfig()), ChatConfig(top_k=4))


# --- standalone question ----------------------------------------------------------------------


def test_terse_follow_up_keeps_the_previous_question_as_context() -> None:
    messages = conversation("Which law governs the Reynolds agreement?", "Ohio law [1].", "and renewal?")
    assert heuristic_question(messages) == "Which law governs the Reynolds agreement? and renewal?"


def test_full_follow_up_stands_alone() -> None:
    messages = conversation("Which law governs?", "Ohio law [1].", "When does the term of the agreement end?")
    assert heuristic_question(messages) == "When does the term of the agreement end?"


def test_conversation_without_user_message_is_a_bad_request() -> None:
    with pytest.raises(BadChatRequest, match="no user message"):
        heuristic_question([ChatMessage(role="system", content="be nice")])


async def test_follow_up_is_condensed_by_the_llm_and_searched(fake_llm, client) -> None:
    fake_llm.reply('"How does the Reynolds agreement renew?"')
    kb = RecordingKb(HITS)
    service = ChatService(
        kb, ExtractiveAnswerer(AnswerConfig()), ChatConfig(top_k=4), LlmClient(llm_for(fake_llm), client)
    )
    messages = conversation(
        "Which law governs the Reynolds agreement?", "Ohio law [1].", "and how does it renew?"
    )
    answer = await service.ask(messages, SearchFilters(kb="contracts"))
    assert kb.queries == [
        ("How does the Reynolds agreement renew?", SearchFilters(kb="contracts"), "hybrid", 4)
    ]
    assert "renews" in answer.answer
    sent = fake_llm.chat_requests[0]["messages"]
    assert sent == build_condense_messages(messages, ChatConfig())
    assert (
        "assistant: Ohio law [1]." in sent[1]["content"]
        and "user: and how does it renew?" in sent[1]["content"]
    )


async def test_first_question_is_not_sent_to_the_llm_for_condensing(fake_llm, client) -> None:
    kb = RecordingKb(HITS)
    service = ChatService(
        kb, ExtractiveAnswerer(AnswerConfig()), ChatConfig(), LlmClient(llm_for(fake_llm), client)
    )
    await service.ask(conversation(LAW_QUESTION), SearchFilters())
    assert fake_llm.chat_requests == [] and kb.queries[0][0] == LAW_QUESTION


async def test_a_requests_top_k_overrides_the_configured_one() -> None:
    kb = RecordingKb(HITS)
    service = extractive_service(kb)  # chat.top_k = 4
    await service.ask(conversation(LAW_QUESTION), SearchFilters(), top_k=2)
    await service.ask(conversation(LAW_QUESTION), SearchFilters())
    _ = [e async for e in service.stream(conversation(LAW_QUESTION), SearchFilters(), top_k=7)]
    assert [query[3] for query in kb.queries] == [2, 4, 7]


# --- streaming --------------------------------------------------------------------------------


async def test_extractive_chat_streams_tokens_then_citations_then_done() -> None:
    events = [
        e
        async for e in extractive_service(RecordingKb(HITS)).stream(
            conversation(LAW_QUESTION), SearchFilters()
        )
    ]
    types = [e["type"] for e in events]
    assert types[-2:] == ["citations", "done"] and set(types[:-2]) == {"token"}
    assert "".join(e["text"] for e in events[:-2]) == events[-1]["answer"]
    assert events[-2]["citations"][0]["doc_id"] == "doc-1"


async def test_llm_chat_streams_the_servers_tokens(fake_llm, client) -> None:
    fake_llm.reply("Ohio law governs this agreement [1].")
    answerer = LlmAnswerer(AnswerConfig(backend="llm", llm=llm_for(fake_llm)), client)
    service = ChatService(RecordingKb(HITS), answerer, ChatConfig())
    events = [e async for e in service.stream(conversation(LAW_QUESTION), SearchFilters())]
    tokens = [e["text"] for e in events if e["type"] == "token"]
    assert tokens[:3] == ["Ohio ", "law ", "governs "]
    assert events[-2]["citations"][0]["n"] == 1 and events[-1]["refused"] is False
    assert fake_llm.chat_requests[0]["stream"] is True


async def test_a_question_about_a_name_the_documents_never_write_is_refused_without_the_llm(
    fake_llm, client
) -> None:
    answerer = LlmAnswerer(AnswerConfig(backend="llm", llm=llm_for(fake_llm)), client)
    service = ChatService(RecordingKb(HITS, missing=["Japan"]), answerer, ChatConfig())
    question = conversation("Which law governs this agreement in Japan?")
    events = [e async for e in service.stream(question, SearchFilters())]
    assert events[-1]["refused"] is True and events[-1]["answer"].endswith("They never mention “Japan”.")
    assert events[-2] == {"type": "citations", "citations": [], "flags": ["unmentioned"]}
    answer = await service.ask(question, SearchFilters())
    assert answer.refused and answer.flags == ["unmentioned"] and not answer.citations
    assert fake_llm.chat_requests == []  # refused before any model is asked


# --- facade -----------------------------------------------------------------------------------


def test_facade_model_names_the_knowledge_base() -> None:
    assert kb_from_model("kb:contracts") == "contracts"
    assert kb_from_model("contracts") == "contracts"
    with pytest.raises(BadChatRequest):
        kb_from_model("kb:")


def test_facade_request_accepts_openai_extras_and_content_parts() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "model": "kb:contracts",
            "temperature": 0.2,
            "messages": [{"role": "user", "content": [{"type": "text", "text": LAW_QUESTION}], "name": "x"}],
        }
    )
    assert request.messages[0].text == LAW_QUESTION and request.stream is False


async def test_facade_response_is_a_chat_completion_with_citations() -> None:
    kb = RecordingKb(HITS)
    request = ChatCompletionRequest(model="kb:contracts", messages=conversation(LAW_QUESTION))
    response = await complete_chat(request, extractive_service(kb))
    assert kb.queries[0][1] == SearchFilters(kb="contracts")
    assert response["object"] == "chat.completion" and response["model"] == "kb:contracts"
    assert response["id"].startswith("chatcmpl-") and isinstance(response["created"], int)
    choice = response["choices"][0]
    assert choice["finish_reason"] == "stop" and choice["message"]["role"] == "assistant"
    assert choice["message"]["content"].endswith("[1]")
    assert response["citations"][0]["n"] == 1 and response["citations"][0]["regions"][0]["page"] == 7


async def test_facade_stream_is_openai_chunks_ending_in_done() -> None:
    request = ChatCompletionRequest(model="contracts", messages=conversation(LAW_QUESTION), stream=True)
    lines = [line async for line in stream_chat(request, extractive_service(RecordingKb(HITS)))]
    assert all(line.startswith("data: ") and line.endswith("\n\n") for line in lines)
    assert lines[-1] == "data: [DONE]\n\n"
    chunks = [json.loads(line[len("data: ") :]) for line in lines[:-1]]
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"} and len({c["id"] for c in chunks}) == 1
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    content = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks)
    assert "State of Ohio" in content and content.endswith("[1]")
    assert [c["choices"][0]["finish_reason"] for c in chunks][-2:] == [None, "stop"]
    assert chunks[-1]["citations"][0]["doc_id"] == "doc-1" and "citations" not in chunks[-2]
