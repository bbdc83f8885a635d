"""Embedders: the bundled MiniLM in process, and an OpenAI-compatible server on loopback."""

from __future__ import annotations

import asyncio
import math
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from retrieval.embed import EmbedderConfig, HttpEmbedder, SentenceTransformerEmbedder, build_embedder
from retrieval.errors import EmbedderBadResponse, EmbedderTimeout, EmbedderUnavailable, UnknownBackend
from tests.fakes.loopback import LoopbackServer


@dataclass
class EmbeddingServer:
    """A real /v1/embeddings server serving the session's MiniLM vectors, failing on demand."""

    embedder: SentenceTransformerEmbedder
    port: int = 0
    requests: list[dict[str, object]] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses to answer with, in order
    delay_s: float = 0.0

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/v1/embeddings")
        async def embeddings(request: Request) -> JSONResponse:
            body = await request.json()
            self.requests.append({"body": body, "auth": request.headers.get("authorization")})
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            if self.failures:
                return JSONResponse({"error": {"message": "scripted"}}, status_code=self.failures.pop(0))
            vectors = self.embedder.embed_passages(body["input"])
            data = [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)]
            return JSONResponse({"object": "list", "data": data[::-1]})  # order by index, not position

        return app


@pytest.fixture(scope="module")
def server(minilm: SentenceTransformerEmbedder) -> Iterator[EmbeddingServer]:
    state = EmbeddingServer(minilm)
    loopback = LoopbackServer(state.app())
    loopback.start()
    state.port = loopback.port
    yield state
    loopback.stop()


@pytest.fixture
def fresh(server: EmbeddingServer) -> EmbeddingServer:
    server.requests.clear()
    server.failures.clear()
    server.delay_s = 0.0
    return server


def http_config(server: EmbeddingServer, **kw: object) -> EmbedderConfig:
    return EmbedderConfig(backend="http", url=f"http://127.0.0.1:{server.port}/v1", backoff_s=0.01, **kw)  # type: ignore[arg-type]


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def test_local_embedder_gives_normalized_vectors_that_rank_by_meaning(
    minilm: SentenceTransformerEmbedder,
) -> None:
    passages = minilm.embed_passages(
        ["The contract is governed by Delaware law.", "Bananas are yellow fruit."]
    )
    query = minilm.embed_query("Which state's law applies to the agreement?")
    assert minilm.dim == 384 and len(query) == 384
    assert all(math.isclose(cosine(v, v), 1.0, rel_tol=1e-4) for v in passages)
    assert cosine(query, passages[0]) > cosine(query, passages[1]) + 0.2


def test_local_embedder_counts_tokens_with_its_tokenizer(minilm: SentenceTransformerEmbedder) -> None:
    assert minilm.max_tokens == 254  # max_seq_length 256 less [CLS] and [SEP]
    assert minilm.count_tokens("hello world") == 2
    assert minilm.count_tokens("word " * 300) == 300


def test_known_model_families_get_their_prefixes() -> None:
    assert EmbedderConfig(model="intfloat/multilingual-e5-small").prefixes() == ("query: ", "passage: ")
    query, passage = EmbedderConfig(model="BAAI/bge-small-en-v1.5").prefixes()
    assert query.startswith("Represent this sentence") and passage == ""
    assert EmbedderConfig().prefixes() == ("", "")
    assert EmbedderConfig(model="e5-large", query_prefix="q: ").prefixes() == ("q: ", "passage: ")


def test_unknown_backend_lists_the_known_ones() -> None:
    with pytest.raises(UnknownBackend, match="http, local") as info:
        build_embedder(EmbedderConfig(backend="onnx"))
    assert "embedder.backend" in info.value.message


def test_http_embedder_matches_the_local_model_and_sends_batches(
    fresh: EmbeddingServer, minilm: SentenceTransformerEmbedder
) -> None:
    embedder = build_embedder(http_config(fresh, batch_size=2, api_key="sk-test", model="e5-small"))
    texts = ["alpha clause", "beta clause", "gamma clause"]
    vectors = embedder.embed_passages(texts)
    assert [b["body"]["input"] for b in fresh.requests] == [  # type: ignore[index]
        ["passage: alpha clause", "passage: beta clause"],
        ["passage: gamma clause"],
    ]
    assert fresh.requests[0]["auth"] == "Bearer sk-test"
    assert vectors == minilm.embed_passages([f"passage: {t}" for t in texts])
    assert embedder.dim == 384


def test_http_embedder_retries_a_500_then_succeeds(fresh: EmbeddingServer) -> None:
    fresh.failures.extend([500, 503])
    vector = HttpEmbedder(http_config(fresh, retries=3)).embed_query("termination notice")
    assert len(vector) == 384 and len(fresh.requests) == 3


def test_http_embedder_gives_up_after_bounded_retries(fresh: EmbeddingServer) -> None:
    fresh.failures.extend([429] * 5)
    with pytest.raises(EmbedderBadResponse, match="429"):
        HttpEmbedder(http_config(fresh, retries=2)).embed_query("x")
    assert len(fresh.requests) == 3


def test_http_embedder_never_retries_a_client_error(fresh: EmbeddingServer) -> None:
    fresh.failures.append(400)
    with pytest.raises(EmbedderBadResponse, match="400"):
        HttpEmbedder(http_config(fresh, retries=3)).embed_query("x")
    assert len(fresh.requests) == 1


def test_http_embedder_times_out_with_a_typed_error(fresh: EmbeddingServer) -> None:
    fresh.delay_s = 1.0
    with pytest.raises(EmbedderTimeout):
        HttpEmbedder(http_config(fresh, retries=0, timeout_s=0.2)).embed_query("x")


def test_http_embedder_unreachable_server_names_the_setting() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    config = EmbedderConfig(backend="http", url=f"http://127.0.0.1:{port}/v1", retries=1, backoff_s=0.01)
    with pytest.raises(EmbedderUnavailable, match="embedder.url"):
        HttpEmbedder(config, httpx.Client(timeout=2)).embed_query("x")
