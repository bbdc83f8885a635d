"""Contract review with an LLM, against a real OpenAI-compatible chat server on loopback (tests/fakes): the
reply's JSON is validated against the schema, a value whose quote is not on the page is dropped, a value not
of its field's type is dropped, and kept values are cited with the quote's boxes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from retrieval.embed import SentenceTransformerEmbedder
from retrieval.errors import LlmBadResponse
from retrieval.llm import LlmClient, LlmConfig
from retrieval.review import CONTRACT
from retrieval.review_llm import extract_document_llm
from retrieval.search import KnowledgeBase
from tests.fakes.openai_server import FakeLlmServer
from tests.retrieval.test_review import _index
from tests.support.documents import contract_pdf

REPLY = {
    "fields": [
        {"name": "Governing Law", "found": True, "value": "the State of New York", "source": 1,
         "quote": "governed by the laws of the State of New York"},
        {"name": "Agreement Date", "value": "March 3, 2021", "quote": "as of March 3, 2021", "source": 99},
        {"name": "Parties", "value": ["Acme Widgets Inc.", "Beta Robotics LLC"],
         "quote": "Acme Widgets Inc."},
        # invented: no such sentence in the contract
        {"name": "Renewal Term", "value": "two (2) years", "quote": "renew for successive two (2) year terms"},
        # on the page, but not a yes/no answer
        {"name": "Anti-Assignment", "value": "maybe", "quote": "Neither party may assign this Agreement"},
        {"name": "Audit Rights", "found": False},
        {"name": "Not In The Schema", "value": "x", "quote": "Supply"},
    ],
    "note": "keys the schema does not know are ignored",
}  # fmt: skip


async def _extract(kb: KnowledgeBase, fake: FakeLlmServer) -> list:  # type: ignore[type-arg]
    async with httpx.AsyncClient() as http:
        llm = LlmClient(LlmConfig(url=fake.url, model="chat", retries=0, max_tokens=2048), http)
        return await extract_document_llm(kb, "supply", CONTRACT, llm)


def test_llm_values_are_kept_only_when_their_quote_is_on_the_page(
    kb: KnowledgeBase, minilm: SentenceTransformerEmbedder, fake_llm: FakeLlmServer, tmp_path: Path
) -> None:
    _index(kb, minilm, contract_pdf(tmp_path / "supply.pdf"))
    fake_llm.reply("Here are the fields:\n```json\n" + json.dumps(REPLY) + "\n```")
    fields = {f.name: f for f in asyncio.run(_extract(kb, fake_llm))}

    [request] = fake_llm.chat_requests
    assert request["model"] == "chat" and request["max_tokens"] == 2048
    prompt = request["messages"][1]["content"]
    assert "- Governing Law (jurisdiction):" in prompt and "[1] (page" in prompt
    assert "governed by the laws of the State of New York" in prompt  # the passages are sent

    assert list(fields) == [f.name for f in CONTRACT.fields]
    law = fields["Governing Law"]
    assert law.found and law.normalized == "New York" and law.clause == "6"
    assert [r.page for r in law.regions] == [2]
    date = fields["Agreement Date"]  # a wrong source number: the quote is looked for in every passage
    assert date.found and date.normalized == "2021-03-03" and date.regions[0].page == 1
    assert date.regions[0].bbox.x1 - date.regions[0].bbox.x0 < 0.3  # the quote's words, not the line
    assert fields["Parties"].normalized == ["Acme Widgets Inc.", "Beta Robotics LLC"]
    assert not fields["Renewal Term"].found  # its quote is not on the page
    assert not fields["Anti-Assignment"].found  # not yes or no
    assert not fields["Audit Rights"].found and not fields["Exclusivity"].found  # absent / not answered


def test_a_reply_that_is_not_the_fields_json_is_a_bad_response(
    kb: KnowledgeBase, minilm: SentenceTransformerEmbedder, fake_llm: FakeLlmServer, tmp_path: Path
) -> None:
    _index(kb, minilm, contract_pdf(tmp_path / "supply.pdf"))
    fake_llm.reply('{"answer": "New York"}')
    with pytest.raises(LlmBadResponse, match="not the fields' JSON"):
        asyncio.run(_extract(kb, fake_llm))
