"""The OpenAI-compatible facade driven by the official `openai` SDK against a live server on loopback:
models per key, chat (plain and streamed) with citations, embeddings from the kb's embedder, and
errors in OpenAI's shape that the SDK raises as its own exception types."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
from openai import OpenAI

from api.db import Database, KbRow
from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer, _embed
from tests.support.servers import kb_server

KEY_A, ADMIN = "facade-key-kb-a-01", "facade-admin-key-02"
QUESTION = [{"role": "user", "content": "Within how many days must the Customer pay an invoice?"}]


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_server: FakeLlmServer
) -> Iterator[dict[str, Any]]:
    """Kbs `a` and `b`, one document each; answers and embeddings from the fake OpenAI server."""
    folder = tmp_path_factory.mktemp("facade")
    llm = {"url": fake_llm_server.url, "model": "fake-chat", "retries": 0, "backoff_s": 0.01}
    keys = [{"key": ADMIN, "kbs": ["*"]}, {"key": KEY_A, "kbs": ["a"]}]
    answer = {"backend": "llm", "llm": llm}
    with kb_server(folder, fake_llm_server.url, keys, {"a": 2, "b": 1}, answer=answer) as (server, docs):
        yield {"server": server, "docs": docs}


def sdk(stack: dict[str, Any], key: str) -> OpenAI:
    """The SDK as a user configures it; no retries, so a 5xx shows at once."""
    return OpenAI(base_url=stack["server"].url + "/v1", api_key=key, max_retries=0, timeout=60)


@pytest.fixture
def llm(fake_llm_server: FakeLlmServer) -> Iterator[FakeLlmServer]:
    fake_llm_server.reset()
    yield fake_llm_server
    fake_llm_server.reset()


def test_models_list_one_model_per_kb_the_key_may_read(stack: dict[str, Any]) -> None:
    assert [m.id for m in sdk(stack, ADMIN).models.list()] == ["kb:a", "a", "kb:b", "b"]
    client = sdk(stack, KEY_A)
    models = list(client.models.list())
    assert [m.id for m in models] == ["kb:a", "a"]
    assert all(m.object == "model" and m.owned_by == "opticite" and m.created > 0 for m in models)
    assert client.models.retrieve("kb:a").id == "kb:a"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("kb:b")  # another key's kb is not revealed
    assert missing.value.code == "model_not_found" and missing.value.type == "not_found_error"
    with pytest.raises(openai.AuthenticationError) as refused:
        sdk(stack, "not-a-key-at-all").models.list()
    assert refused.value.code == "unauthorized" and refused.value.type == "authentication_error"


def test_chat_completion_answers_with_citations_from_the_keys_kb(
    stack: dict[str, Any], llm: FakeLlmServer
) -> None:
    client = sdk(stack, KEY_A)
    for model in ("kb:a", "a"):
        completion = client.chat.completions.create(model=model, messages=QUESTION)  # type: ignore[arg-type]
        assert completion.model == model
        assert completion.choices[0].message.content == llm.default_reply
        citations = (completion.model_extra or {})["citations"]
        assert citations and {c["doc_id"] for c in citations} == {stack["docs"]["a"]}
        assert all(r["page"] >= 1 and len(r["bbox"]) == 4 for c in citations for r in c["regions"])


def test_streamed_chat_gives_content_deltas_then_citations(stack: dict[str, Any], llm: FakeLlmServer) -> None:
    chunks = list(sdk(stack, KEY_A).chat.completions.create(model="kb:a", messages=QUESTION, stream=True))  # type: ignore[arg-type]
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert text == llm.default_reply
    assert chunks[-1].choices[0].finish_reason == "stop"
    citations = (chunks[-1].model_extra or {})["citations"]
    assert citations and {c["doc_id"] for c in citations} == {stack["docs"]["a"]}


def test_errors_take_openais_shape_and_sdk_exception_types(stack: dict[str, Any], llm: FakeLlmServer) -> None:
    client = sdk(stack, KEY_A)
    with pytest.raises(openai.PermissionDeniedError) as forbidden:
        client.chat.completions.create(model="kb:b", messages=QUESTION, stream=True)  # type: ignore[arg-type]
    assert forbidden.value.code == "forbidden" and forbidden.value.type == "permission_error"
    assert "'b'" in forbidden.value.message
    with pytest.raises(openai.UnprocessableEntityError) as invalid:
        client.chat.completions.create(model="kb:a", messages=[])
    assert invalid.value.param == "messages" and invalid.value.type == "invalid_request_error"
    assert invalid.value.code == "invalid_request"

    llm.fail(500, times=1)  # the chat model fails: a 502 before the reply
    with pytest.raises(openai.InternalServerError) as failed:
        client.chat.completions.create(model="kb:a", messages=QUESTION)  # type: ignore[arg-type]
    assert failed.value.code == "llm_bad_response" and failed.value.type == "server_error"

    llm.fail(500, times=1)  # ... and inside a stream, after the 200: the SDK still raises
    with pytest.raises(openai.APIError) as in_stream:
        list(client.chat.completions.create(model="kb:a", messages=QUESTION, stream=True))  # type: ignore[arg-type]
    assert in_stream.value.code == "llm_bad_response" and in_stream.value.type == "server_error"

    with stack["server"].client() as raw:  # the rest of the API keeps its own error shape
        reply = raw.get("/v1/documents", headers={"X-API-Key": "nope-nope-nope"})
        assert reply.json() == {
            "error": {"code": "unauthorized", "message": reply.json()["error"]["message"]}
        }


def test_embeddings_come_from_the_kbs_embedder(stack: dict[str, Any]) -> None:
    client = sdk(stack, KEY_A)
    texts = ["payment terms", "Either party may terminate"]
    packed = client.embeddings.create(model="kb:a", input=texts)  # the SDK asks for base64 by default
    plain = client.embeddings.create(model="a", input=texts[0], encoding_format="float")
    for index, text in enumerate(texts):
        expected = _embed(text)  # what the fake embedding server, the kb's embedder, makes of it
        assert packed.data[index].embedding == pytest.approx(expected, abs=1e-6)
    assert plain.data[0].embedding == pytest.approx(_embed(texts[0]), abs=1e-9)
    assert packed.usage.prompt_tokens > 0 and packed.model == "kb:a"

    with pytest.raises(openai.PermissionDeniedError):
        client.embeddings.create(model="kb:b", input="x")
    with pytest.raises(openai.NotFoundError) as missing:
        sdk(stack, ADMIN).embeddings.create(model="kb:nothing-here", input="x")
    assert missing.value.code == "not_found"
    with pytest.raises(openai.BadRequestError) as size:
        client.embeddings.create(model="kb:a", input="x", dimensions=EMBED_DIM + 1)
    assert size.value.code == "bad_request"
    with pytest.raises(openai.UnprocessableEntityError) as tokens:
        client.embeddings.create(model="kb:a", input=[[1, 2, 3]])  # token arrays: not served
    assert tokens.value.param is not None and tokens.value.param.startswith("input")


def test_embeddings_refuse_a_kb_another_embedder_built(stack: dict[str, Any], tmp_path: Path) -> None:
    db = Database(stack["server"].settings.database_url)
    with db.session() as s:
        s.add(KbRow(kb="old", embedder="local:all-MiniLM-L6-v2", dim=384))
    db.dispose()
    with pytest.raises(openai.ConflictError) as stale:
        sdk(stack, ADMIN).embeddings.create(model="kb:old", input="x")
    assert stale.value.code == "embedder_mismatch" and "opticite reindex --kb old" in stale.value.message
