"""The heavy parts of one process, built from settings on first use and closed once.

The embedded vector store locks its folder to one process, so it is opened here once and
only when something needs it (a Celery-mode API that never searches never opens it).
"""

from __future__ import annotations

import threading
from typing import Any

import httpx

from api.settings import Settings
from ingest.ocr.deepseek import DeepSeekEngine
from ingest.ocr.engine import Engine
from ingest.ocr.rapidocr import RapidOcrEngine
from ingest.ocr.router import OcrRouter
from ingest.ocr.textlayer import TextLayerEngine
from ingest.ocr.vlm import VlmEngine
from ingest.pipeline import Pipeline
from retrieval.answer import Answerer, build_answerer
from retrieval.embed import Embedder, EmbedderConfig, build_embedder
from retrieval.llm import LlmClient
from retrieval.search import KnowledgeBase
from retrieval.sparse import SparseEncoder
from retrieval.store import VectorStore

_EMBEDDERS: dict[str, Embedder] = {}
_EMBEDDERS_LOCK = threading.Lock()


def shared_embedder(config: EmbedderConfig) -> Embedder:
    """One model per configuration per process, however many Services share the process.

    The sentence-transformers embedder loads its weights on first use; touching `dim` under the
    lock makes that first use happen here, once, so two jobs starting together never load twice.
    """
    key = config.model_dump_json()
    with _EMBEDDERS_LOCK:
        if key not in _EMBEDDERS:
            embedder = build_embedder(config)
            _ = embedder.dim  # loads the model (or asks an HTTP server its size) before anyone shares it
            _EMBEDDERS[key] = embedder
        return _EMBEDDERS[key]


class Components:
    """Lazily built, thread-safe: routes call these from worker threads (`asyncio.to_thread`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._embedder: Embedder | None = None
        self._kb: KnowledgeBase | None = None
        self._router: OcrRouter | None = None
        self._answerer: Answerer | None = None
        self._store: Any = None
        self.clients: dict[str, httpx.AsyncClient] = {}

    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                self._embedder = shared_embedder(self.settings.embedder)
            return self._embedder

    def knowledge_base(self) -> KnowledgeBase:
        with self._lock:
            if self._kb is None:
                embedder = self.embedder()
                self._store = VectorStore(self.settings.store_config(), embedder.dim)
                self._kb = KnowledgeBase(self._store, embedder, SparseEncoder(), self.settings.search)
            return self._kb

    def http_client(self, name: str, connect_s: float = 5.0, read_s: float = 120.0) -> httpx.AsyncClient:
        """One AsyncClient per remote service, reused by every call in this process."""
        with self._lock:
            if name not in self.clients:
                self.clients[name] = httpx.AsyncClient(timeout=httpx.Timeout(read_s, connect=connect_s))
            return self.clients[name]

    def engines(self) -> dict[str, Engine]:
        rapidocr = RapidOcrEngine(self.settings.rapidocr)
        engines: dict[str, Engine] = {
            "textlayer": TextLayerEngine(self.settings.textlayer),
            "rapidocr": rapidocr,
        }
        if self.settings.deepseek is not None:
            engines["deepseek"] = DeepSeekEngine(self.settings.deepseek, self.http_client("deepseek"))
        if self.settings.vlm is not None:  # its text is placed with RapidOCR's lines
            engines["vlm"] = VlmEngine(self.settings.vlm, self.http_client("vlm"), rapidocr)
        return engines

    def router(self) -> OcrRouter:
        with self._lock:
            if self._router is None:
                deepseek = self.settings.deepseek
                fallback = deepseek.cpu_fallback_on_error if deepseek is not None else True
                self._router = OcrRouter(self.engines(), cpu_fallback_on_error=fallback)
            return self._router

    def answerer(self) -> Answerer:
        with self._lock:
            if self._answerer is None:
                config = self.settings.answer
                if config.backend == "llm":
                    llm = config.llm
                    client = self.http_client("llm", llm.connect_timeout_s, llm.read_timeout_s)
                    self._answerer = build_answerer(config, client)
                else:
                    self._answerer = build_answerer(config, embedder=self.embedder())
            return self._answerer

    def llm(self) -> LlmClient | None:
        """The chat model, when the answer section configures one (it also condenses follow-ups)."""
        llm = self.settings.answer.llm
        if not llm.url:
            return None
        return LlmClient(llm, self.http_client("llm", llm.connect_timeout_s, llm.read_timeout_s))

    def pipeline(self, page_concurrency: int, with_index: bool = True) -> Pipeline:
        """With `with_index=False` (OCR only) no model is loaded and no store opened."""
        if not with_index:
            return Pipeline(
                self.settings.source, self.router(), self.settings.chunking, None, len, page_concurrency
            )
        embedder = self.embedder()
        return Pipeline(
            self.settings.source,
            self.router(),
            self.settings.chunking.fitted(embedder.max_tokens),
            self.knowledge_base(),
            embedder.count_tokens,
            page_concurrency,
        )

    def loaded(self) -> dict[str, bool]:
        return {"embedder": self._embedder is not None, "store": self._kb is not None}

    async def aclose(self) -> None:
        for client in self.clients.values():
            await client.aclose()
        self.clients.clear()
        with self._lock:
            if self._store is not None and hasattr(self._store, "close"):
                self._store.close()
            self._store = self._kb = None
