"""One knowledge base of every CUAD contract for the retrieval and answer benches, with on-disk caches.

Layouts (text-layer engine + furniture marks, as the pipeline makes them) are cached per contract under
/tmp/opticite_retrieval_eval, keyed by a hash of the contents of ingest/**/*.py, so any change to the
engine or chunker code invalidates them. Passage and query vectors are cached per embedder (a hash of
its config), so a re-run embeds only changed chunks. Not run on its own; used by:

    .venv/bin/python bench/retrieval_eval.py --embedder minilm
    .venv/bin/python bench/answer_eval.py --embedder minilm
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bench.cuad import CuadQuestion
from ingest.layout import PageLayout
from ingest.ocr.reading_order import mark_furniture
from ingest.ocr.textlayer import TextLayerEngine
from ingest.sources import open_source
from retrieval.embed import Embedder, EmbedderConfig, build_embedder
from retrieval.embed_config import EmbedderWrapper
from retrieval.errors import UnknownBackend
from retrieval.hits import SearchFilters, SearchHit, hit_page
from retrieval.search import SearchConfig
from retrieval.store import Fusion

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path(tempfile.gettempdir()) / "opticite_retrieval_eval"
KB = "cuad"
EMBEDDERS: dict[str, EmbedderConfig] = {
    "default": EmbedderConfig(),  # whatever the project default is
    "minilm": EmbedderConfig(backend="local", model=""),  # the bundled all-MiniLM-L6-v2
    "e5": EmbedderConfig(backend="e5"),
    "e5-int8": EmbedderConfig(backend="e5", dtype="int8"),  # ONNX Runtime, dynamic int8 (opt-in)
}
# config fields that do not change a vector: left out of the cache key
_RUNTIME_FIELDS = {
    "device",
    "batch_size",
    "connect_timeout_s",
    "timeout_s",
    "retries",
    "backoff_s",
    "api_key",
}


def ingest_hash() -> str:
    """Hash of the contents of ingest/**/*.py (paths included), in a stable order."""
    digest = hashlib.sha256()
    for path in sorted((ROOT / "ingest").rglob("*.py")):
        digest.update(str(path.relative_to(ROOT)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def layouts_for(path: Path, code: str) -> list[PageLayout]:
    """The contract's page layouts, read once per version `code` of the ingest code."""
    cached = CACHE / f"{path.stem}.{code}.layouts.json"
    if cached.is_file():
        return [PageLayout.model_validate(d) for d in json.loads(cached.read_text())]
    with open_source(path) as doc:  # the text-layer engine reads the PDF itself: no pixels rendered
        pages = [doc.render_page(n, pixels=False) for n in range(1, doc.page_count + 1)]
    engine = TextLayerEngine()
    layouts = mark_furniture([engine.recognize_sync(p) for p in pages])
    CACHE.mkdir(exist_ok=True)
    for stale in CACHE.glob(f"{path.stem}.*.layouts.json"):
        stale.unlink()
    cached.write_text(json.dumps([lay.model_dump(mode="json") for lay in layouts]))
    return layouts


class CachedEmbedder(EmbedderWrapper):
    """The real embedder; passage and query vectors kept on disk by text, so re-runs embed only what changed."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        super().__init__(inner)
        self.path = path
        data = json.loads(path.read_text()) if path.is_file() else {}
        self.passages: dict[str, list[float]] = data.get("passages", {})
        self.queries: dict[str, list[float]] = data.get("queries", {})

    def embed_passages(self, texts: Sequence[str]) -> list[list[float]]:
        todo = [t for t in dict.fromkeys(texts) if t not in self.passages]
        if todo:
            self.passages.update(zip(todo, self.inner.embed_passages(todo), strict=True))
        return [self.passages[t] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        if text not in self.queries:
            self.queries[text] = self.inner.embed_query(text)
        return self.queries[text]

    def save(self) -> None:
        """Merged into what is on disk and written whole: two benches run side by side each keep the
        vectors the other embedded (a plain overwrite dropped them, and the next run embedded them again)."""
        CACHE.mkdir(exist_ok=True)
        data = json.loads(self.path.read_text()) if self.path.is_file() else {}
        merged = {
            "passages": data.get("passages", {}) | self.passages,
            "queries": data.get("queries", {}) | self.queries,
        }
        partial = self.path.with_name(f"{self.path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(merged))
        os.replace(partial, self.path)


def embedder_key(config: EmbedderConfig) -> str:
    fields = config.model_dump(mode="json", exclude=_RUNTIME_FIELDS)
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:12]


def cached_embedder(name: str) -> CachedEmbedder:
    """The embedder `--embedder NAME` picks, on CPU, behind its own vector cache."""
    config = EMBEDDERS[name].model_copy(update={"device": "cpu"})
    try:
        inner = build_embedder(config)
    except UnknownBackend as exc:
        raise SystemExit(
            f"--embedder {name}: retrieval/embed.py has no {config.backend!r} backend yet ({exc}); "
            "use --embedder minilm until it lands"
        ) from None
    return CachedEmbedder(inner, CACHE / f"vectors.{embedder_key(config)}.json")


def search_config(fusion: Fusion | None, rrf_weights: str | None) -> SearchConfig:
    """SearchConfig with `--fusion` and `--rrf-weights D,S` applied over the project defaults."""
    update: dict[str, object] = {}
    if fusion is not None:
        update["fusion"] = fusion
    if rrf_weights:
        dense, sparse = (float(w) for w in rrf_weights.split(","))
        update["rrf_weights"] = (dense, sparse)
    return SearchConfig().model_copy(update=update)


def filters_for(question: CuadQuestion) -> SearchFilters:
    """Within one contract: its doc filter; across the knowledge base: none."""
    return SearchFilters(kb=KB, doc_ids=[question.doc_id] if question.scope == "within" else None)


def rank_of(hits: list[SearchHit], question: CuadQuestion) -> int | None:
    """Rank of the first hit in the question's contract whose page is a gold page."""
    gold = question.gold_pages
    return next((i for i, h in enumerate(hits) if h.doc_id == question.doc_id and hit_page(h) in gold), None)
