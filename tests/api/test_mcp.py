"""The MCP tools driven by the official `mcp` client: over stdio (`opticite mcp` as a subprocess) and
over streamable HTTP at `/mcp` on a live server, where API keys and their kbs apply."""

from __future__ import annotations

import base64
import io
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from PIL import Image

from tests.fakes.openai_server import EMBED_DIM, FakeLlmServer
from tests.support.network import free_port
from tests.support.servers import LiveServer, kb_server, test_settings

REPO = Path(__file__).resolve().parents[2]
KEY_A, ADMIN = "mcp-key-for-kb-a-01", "mcp-admin-key-all-02"
TOOLS = {"search", "ask", "get_region", "list_documents", "get_document_markdown"}
QUESTION = "Within how many days must the Customer pay an invoice?"


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_server: FakeLlmServer
) -> Iterator[dict[str, Any]]:
    """Kbs `a` (two pages) and `b` (one); extractive answers, embeddings from the fake server."""
    folder = tmp_path_factory.mktemp("mcp")
    keys = [{"key": ADMIN, "kbs": ["*"]}, {"key": KEY_A, "kbs": ["a"]}]
    with kb_server(folder, fake_llm_server.url, keys, {"a": 2, "b": 1}) as (server, docs):
        yield {"server": server, "docs": docs}


def http_client(stack: dict[str, Any], key: str) -> Client:
    session = httpx2.AsyncClient(headers={"X-API-Key": key}, timeout=60)
    return Client(streamable_http_client(stack["server"].url + "/mcp", http_client=session))


def structured(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    return dict(result.structured_content)


async def check_tools(client: Client, docs: dict[str, str]) -> None:
    """What both transports must do for a caller who may read kb `a`."""
    assert {tool.name for tool in (await client.list_tools()).tools} >= TOOLS

    listed = structured(await client.call_tool("list_documents", {"kb": "a"}))
    assert [d["id"] for d in listed["documents"]] == [docs["a"]] and listed["total"] == 1

    hits = structured(await client.call_tool("search", {"query": "invoice payment thirty days", "kb": "a"}))
    assert hits["results"] and {h["doc_id"] for h in hits["results"]} == {docs["a"]}

    answer = structured(await client.call_tool("ask", {"question": QUESTION, "kb": "a"}))
    assert "thirty days" in answer["answer"] and not answer["refused"]
    cited = answer["citations"][0]
    assert cited["doc_id"] == docs["a"] and cited["label"] and "clause" in cited
    region = cited["regions"][0]
    assert region["page"] == 1 and len(region["bbox"]) == 4

    crop = await client.call_tool(
        "get_region", {"doc_id": docs["a"], "page": region["page"], "bbox": region["bbox"]}
    )
    assert not crop.is_error and crop.content[0].type == "image"
    assert crop.content[0].mime_type == "image/png"
    image = Image.open(io.BytesIO(base64.b64decode(crop.content[0].data)))
    full = Image.open(
        io.BytesIO(
            base64.b64decode(
                (
                    await client.call_tool(
                        "get_region", {"doc_id": docs["a"], "page": 1, "bbox": [0, 0, 1, 1], "margin": 0}
                    )
                )
                .content[0]
                .data
            )
        )
    )
    assert 0 < image.width < full.width and 0 < image.height < full.height  # the cited part only

    markdown = structured(await client.call_tool("get_document_markdown", {"doc_id": docs["a"]}))
    assert "Payment terms" in markdown["markdown"] and markdown["next_offset"] is None
    tail = structured(await client.call_tool("get_document_markdown", {"doc_id": docs["a"], "offset": 20}))
    assert tail["markdown"] == markdown["markdown"][20:]


async def check_tool_errors(client: Client) -> None:
    """Bad inputs and unknown ids are tool errors with a readable reason; the server keeps serving."""
    cases: list[tuple[str, dict[str, Any], str]] = [
        ("search", {"query": ""}, "query"),
        ("search", {"query": "x", "top_k": 0}, "top_k"),
        ("get_region", {"doc_id": "nope", "page": 1, "bbox": [0, 0, 2, 1]}, "bbox"),
        ("get_region", {"doc_id": "nope", "page": 1, "bbox": [0, 0, 1]}, "bbox"),
        ("get_region", {"doc_id": "nope", "page": 1, "bbox": [0, 0, 1, 1]}, "unknown_document"),
        ("get_document_markdown", {"doc_id": "nope"}, "unknown_document"),
        ("ask", {}, "question"),
    ]
    for name, arguments, reason in cases:
        result = await client.call_tool(name, arguments)
        assert result.is_error, (name, arguments)
        assert reason in result.content[0].text, result.content[0].text
    assert not (await client.call_tool("list_documents", {})).is_error


async def test_mcp_over_http_serves_the_tools_within_the_keys_kbs(stack: dict[str, Any]) -> None:
    docs = stack["docs"]
    async with http_client(stack, KEY_A) as client:
        await check_tools(client, docs)
        await check_tool_errors(client)
        listed = structured(await client.call_tool("list_documents", {}))
        assert [d["id"] for d in listed["documents"]] == [docs["a"]]  # kb b stays hidden
        other = await client.call_tool("search", {"query": "terminate", "kb": "b"})
        assert other.is_error and "forbidden" in other.content[0].text
        hidden = await client.call_tool("get_document_markdown", {"doc_id": docs["b"]})
        assert hidden.is_error and "unknown_document" in hidden.content[0].text
        crop = await client.call_tool("get_region", {"doc_id": docs["b"], "page": 1, "bbox": [0, 0, 1, 1]})
        assert crop.is_error and "unknown_document" in crop.content[0].text
    async with http_client(stack, ADMIN) as admin:
        everything = structured(await admin.call_tool("list_documents", {}))
        assert {d["id"] for d in everything["documents"]} == set(docs.values())


def test_mcp_over_http_refuses_a_missing_or_wrong_key(stack: dict[str, Any]) -> None:
    hello = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {}}
    for headers in ({}, {"X-API-Key": "not-a-key-at-all"}, {"Authorization": "Bearer wrong-key-xyz"}):
        reply = httpx.post(stack["server"].url + "/mcp", json=hello, headers=headers, timeout=30)
        assert reply.status_code == 401 and reply.json()["error"]["code"] == "unauthorized"


async def test_opticite_mcp_serves_the_tools_over_stdio(stack: dict[str, Any], tmp_path: Path) -> None:
    """`opticite mcp` on a copy of the data directory (the live server holds the original's store)."""
    data = tmp_path / "data"
    shutil.copytree(stack["server"].settings.data_dir, data, ignore=shutil.ignore_patterns("server.json"))
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HF_HUB_OFFLINE": "1",
        "OPTICITE_DATA_DIR": str(data),
        "OPTICITE_EMBEDDER": stack["server"].settings.embedder.model_dump_json(),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "api.cli", "mcp"], env=env, cwd=REPO)
    async with Client(params, read_timeout_seconds=120) as client:
        await check_tools(client, {"a": stack["docs"]["a"]})
        await check_tool_errors(client)
        listed = structured(await client.call_tool("list_documents", {}))
        assert len(listed["documents"]) == 2  # the local operator reads every kb


async def test_mcp_tool_errors_never_show_internal_urls_or_exception_text(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """An embedding server that refuses connections: `search` and `ask` over /mcp name the fault
    (`embedder_unavailable`) as the HTTP API does, never its address or the exception."""
    closed = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens here
    embedder = {"backend": "http", "url": closed, "dim": EMBED_DIM, "retries": 0, "connect_timeout_s": 1.0}
    settings = test_settings(tmp_path / "data", api_keys=[{"key": ADMIN}], embedder=embedder)
    with LiveServer(settings) as server:
        async with http_client({"server": server}, ADMIN) as client:
            texts = []
            for name, arguments in (("search", {"query": "payment"}), ("ask", {"question": QUESTION})):
                result = await client.call_tool(name, arguments)
                assert result.is_error and "embedder_unavailable" in result.content[0].text, result.content
                texts.append(result.content[0].text)
    for leak in (closed, "127.0.0.1", "ConnectError", "Errno", "Traceback"):
        assert not any(leak in text for text in texts), (leak, texts)
    assert closed in caplog.text  # the details went to the log
