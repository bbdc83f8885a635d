"""docs/clients.md works as pasted: its Python snippets, Claude Desktop config and LibreChat endpoint run
against a live server (the address and key swapped for the test server's)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from mcp import Client
from mcp.client.stdio import StdioServerParameters

from tests.fakes.openai_server import FakeLlmServer
from tests.support.servers import LiveServer, kb_server

DOC = Path(__file__).resolve().parents[2] / "docs" / "clients.md"
KEY = "clients-doc-key-0001"


def snippet(label: str, server: LiveServer) -> str:
    """The fenced block tagged `label` (```python openai), pointed at `server` with the test key."""
    blocks = dict(re.findall(r"^```\w+ ([\w-]+)\n(.*?)^```$", DOC.read_text(), flags=re.M | re.S))
    return blocks[label].replace("http://127.0.0.1:8000", server.url).replace("YOUR-API-KEY", KEY)


def run_snippet(label: str, server: LiveServer) -> tuple[str, dict[str, Any]]:
    """Runs a Python snippet as a script; (what it printed, its globals)."""
    namespace: dict[str, Any] = {"__name__": f"clients_doc_{label.replace('-', '_')}"}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(snippet(label, server), f"{DOC}:{label}", "exec"), namespace)
    return printed.getvalue(), namespace


@pytest.fixture(scope="module")
def served(
    tmp_path_factory: pytest.TempPathFactory, fake_llm_server: FakeLlmServer
) -> Iterator[dict[str, Any]]:
    """A server with keys and the kb `contracts` (four sections: payment … governing law)."""
    folder = tmp_path_factory.mktemp("clients")
    keys = [{"key": KEY, "kbs": ["contracts"]}]
    with kb_server(folder, fake_llm_server.url, keys, {"contracts": 4}) as (server, docs):
        yield {"server": server, "doc": docs["contracts"]}


def test_openai_sdk_snippet_lists_chats_and_streams(served: dict[str, Any]) -> None:
    printed, _ = run_snippet("openai", served["server"])
    lines = printed.splitlines()
    assert lines[0] == "['kb:contracts', 'contracts']"
    assert "ninety days" in lines[1]
    assert re.match(r"1 contracts\.pdf .*p\. ?\d.* \[\{'page': \d", lines[2]), lines[2]
    assert "England and Wales" in lines[-1]  # the streamed answer


def test_mcp_http_snippet_asks_and_fetches_the_cited_region(served: dict[str, Any]) -> None:
    printed, _ = run_snippet("mcp-http", served["server"])
    tools, answer, image = printed.splitlines()[:3]
    assert {"search", "ask", "get_region"} <= set(json.loads(tools.replace("'", '"')))
    assert "ninety days" in answer
    assert image.startswith("image/png ") and int(image.split()[1]) > 100


def test_llamaindex_snippet_retrieves_nodes_with_regions(served: dict[str, Any]) -> None:
    _, namespace = run_snippet("llamaindex", served["server"])
    nodes = namespace["nodes"]
    assert nodes and nodes[0].node.metadata["doc_id"] == served["doc"]
    assert "terminate" in nodes[0].node.get_content() and nodes[0].node.metadata["regions"]


def test_langchain_snippet_retrieves_documents_with_regions(served: dict[str, Any]) -> None:
    _, namespace = run_snippet("langchain", served["server"])
    documents = namespace["documents"]
    assert documents and documents[0].metadata["doc_id"] == served["doc"]
    assert "terminate" in documents[0].page_content and documents[0].metadata["regions"]


def test_librechat_endpoint_fetches_models_and_chats(served: dict[str, Any]) -> None:
    (endpoint,) = yaml.safe_load(snippet("librechat", served["server"]))["endpoints"]["custom"]
    assert endpoint["apiKey"] == "${OPTICITE_API_KEY}" and endpoint["models"]["fetch"] is True
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=endpoint["baseURL"], headers=headers, timeout=60) as client:
        models = [m["id"] for m in client.get("/models").json()["data"]]
        assert set(endpoint["models"]["default"]) <= set(models)
        body = {  # what LibreChat sends, its own fields included
            "model": endpoint["models"]["default"][0],
            "messages": [{"role": "user", "content": "How much notice ends the agreement?"}],
            "stream": False,
            "user": "librechat-user-1",
            "temperature": 0.7,
            "stop": ["\n\n\n"],
        }
        reply = client.post("/chat/completions", json=body)
        assert reply.status_code == 200 and "ninety days" in reply.json()["choices"][0]["message"]["content"]


async def test_claude_desktop_config_starts_the_stdio_server(served: dict[str, Any], tmp_path: Path) -> None:
    config = json.loads(snippet("claude-desktop", served["server"]))["mcpServers"]["opticite"]
    data = tmp_path / "data"  # a copy: the live server holds the original's vector store
    shutil.copytree(served["server"].settings.data_dir, data, ignore=shutil.ignore_patterns("server.json"))
    env = config["env"] | {"OPTICITE_DATA_DIR": str(data)}  # the test's data folder for the user's
    env |= {"PATH": os.environ.get("PATH", ""), "HF_HUB_OFFLINE": "1"}
    env["OPTICITE_EMBEDDER"] = served["server"].settings.embedder.model_dump_json()  # as the server's
    command = str(Path(sys.executable).with_name(config["command"]))  # the venv's, not one on PATH
    params = StdioServerParameters(command=command, args=config["args"], env=env)
    async with Client(params, read_timeout_seconds=120) as client:
        result = await client.call_tool("ask", {"question": "How much notice ends the agreement?"})
        assert not result.is_error and "ninety days" in result.structured_content["answer"]
