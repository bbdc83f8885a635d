"""Scanned contracts for `python -m bench.vs_peers --scans`: the scanned PDFs, the peer people would pick
for them (OCRmyPDF + Tesseract, then LlamaIndex), the page mapping back to the contract and the CER.

The scanned PDFs are bench/scans.py's seeded copies (200 dpi grey, 0.6 degree turn, noise, JPEG 60) of
only some pages of each contract (`scan_pages`: the first four and every gold page), image only, saved
under the contract's own file name so a hit names its file as on the born-digital run; page n of a
scanned PDF is the contract's page `pages[n - 1]`, and `ScanPages` puts every hit back on it.

OCRmyPDF and Tesseract are bench-only tools, never runtime dependencies:

    apt-get install -y tesseract-ocr ghostscript
    .venv/bin/pip install ocrmypdf        # 17.13 measured; run as `python -m ocrmypdf`
"""

from __future__ import annotations

import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import pymupdf
from llama_index.core import Document
from llama_index.readers.file import PDFReader

from bench.cuad import Hit
from bench.peers import LlamaIndexPipeline
from bench.scan_copy import DPI
from bench.scans import scan_pages, scanned_pdf, unturn_box
from ingest.ocr.text_score import cer, normalize, plain_text

OCRMYPDF_JOBS = 2
_STRAIGHT = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'"})


def ocrmypdf_missing() -> str | None:
    """Why the peer cannot run here, or None when Tesseract and OCRmyPDF are installed."""
    if not shutil.which("tesseract"):
        return "tesseract is not installed (apt-get install -y tesseract-ocr)"
    try:
        import ocrmypdf  # noqa: F401
    except ImportError:
        return "OCRmyPDF is not installed (.venv/bin/pip install ocrmypdf)"
    return None


def make_scans(contracts: list[Path], folder: Path, cuad: Path) -> dict[Path, list[int]]:
    """Each contract's scanned pages as an image-only PDF named like the contract, in `folder`;
    the value lists the contract pages it holds, in order."""
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for path in contracts:
        pages = scan_pages(path, cuad)
        scan = folder / path.name
        shutil.copyfile(scanned_pdf(path, pages), scan)
        out[scan] = pages
    return out


def original_page(pages: list[int], scan_page: int | None) -> int | None:
    """The contract page that page `scan_page` (1-based) of its scanned PDF copies; None when unknown."""
    if scan_page is None or not 1 <= scan_page <= len(pages):
        return None
    return pages[scan_page - 1]


class ScanPages:
    """A pipeline run on scanned PDFs whose hits are put back on the contracts' pages (and, where a hit
    has boxes, on the contract page's frame, so they compare with the gold boxes)."""

    def __init__(self, pipeline: Any, scans: dict[Path, list[int]], contracts: dict[str, Path]) -> None:
        self.pipeline = pipeline
        self.name = pipeline.name
        self.pages = {scan.name: pages for scan, pages in scans.items()}
        self.scans = {scan.name: scan for scan in scans}
        self.contracts = contracts  # file name -> the born-digital contract (its page frames)

    def ingest(self, files: list[Path]) -> int:
        return int(self.pipeline.ingest(files))

    def search(self, question: str, file_name: str | None, top_k: int = 5) -> list[Hit]:
        return [self.on_contract(h) for h in self.pipeline.search(question, file_name, top_k)]

    def on_contract(self, hit: Hit) -> Hit:
        pages = self.pages.get(hit.file or "", [])
        boxes = None
        if hit.boxes and hit.file in self.contracts:
            with pymupdf.open(self.contracts[hit.file]) as doc, pymupdf.open(self.scans[hit.file]) as scan:
                boxes = [
                    (n, unturn_box(box, doc[n - 1], _size_px(scan[p - 1])))
                    for p, box in hit.boxes
                    if (n := original_page(pages, p))
                ]
        return Hit(page=original_page(pages, hit.page), boxes=boxes, file=hit.file)

    def close(self) -> None:
        self.pipeline.close()


def _size_px(page: pymupdf.Page) -> tuple[int, int]:
    """The scan image's size: its page is the image at DPI."""
    return round(page.rect.width * DPI / 72), round(page.rect.height * DPI / 72)


class OcrMyPdfPipeline(LlamaIndexPipeline):
    """OCRmyPDF (Tesseract, English, `--jobs 2`) makes each scan a searchable PDF, then LlamaIndex's usual
    pipeline reads it (`PDFReader`, one Document per page, `SentenceSplitter(512, 50)`). Output as plain
    PDF without optimization: the fastest setting for a pipeline that only wants the text back."""

    name = "ocrmypdf+llamaindex"

    def __init__(self, embed_model: Any, qdrant_path: Path) -> None:
        super().__init__(embed_model, qdrant_path)
        self.out_dir = qdrant_path.parent / "ocrmypdf"
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.sidecars: dict[str, list[str]] = {}  # file name -> Tesseract's text of each page
        self.texts: dict[str, list[str]] = {}  # file name -> PDFReader's text of each page

    def parse(self, path: Path) -> list[Document]:
        out, sidecar = self.out_dir / path.name, self.out_dir / f"{path.stem}.txt"
        subprocess.run(
            [sys.executable, "-m", "ocrmypdf", "--jobs", str(OCRMYPDF_JOBS), "-l", "eng",
             "--optimize", "0", "--output-type", "pdf", "--sidecar", str(sidecar), "--quiet",
             str(path), str(out)],
            check=True,
        )  # fmt: skip
        docs = PDFReader().load_data(out)
        labels = [d.metadata.get("page_label") for d in docs]
        with pymupdf.open(path) as scan:
            # ScanPages reads the label as the page's position in the scan: it must be 1..n, one per page
            if labels != [str(n) for n in range(1, scan.page_count + 1)]:
                raise RuntimeError(
                    f"{path.name}: PDFReader's page labels {labels} are not 1..{scan.page_count}"
                )
        for d in docs:
            d.metadata["file_name"] = path.name
        self.sidecars[path.name] = sidecar.read_text(encoding="utf-8").split("\f")
        self.texts[path.name] = [d.text for d in docs]
        return docs


def page_cer(
    truth_pdf: Path, pages: list[int], texts: list[str], markdown: bool = False, words: bool = False
) -> list[float]:
    """CER of each scanned page's text against the contract page's text layer (PyMuPDF's order),
    whitespace-collapsed; Markdown is read as its visible text. `words`: both sides' words sorted first,
    so reading order (a table of contents read by columns or by rows) does not count, only the letters;
    curly quotes count as straight ones there (one changed first character would move a whole word)."""
    out = []
    with pymupdf.open(truth_pdf) as doc:
        for number, text in zip(pages, texts, strict=False):
            truth = normalize(doc[number - 1].get_text())
            read = plain_text(text) if markdown else normalize(text)
            if words:
                read, truth = (" ".join(sorted(t.translate(_STRAIGHT).split())) for t in (read, truth))
            out.append(round(cer(read, truth), 4))
    return out


def opticite_texts(pipeline: Any, scan: Path, count: int) -> list[str]:
    """opticite's Markdown of each of the `count` pages of a scanned PDF it ingested, blocks in reading order
    (a page it has no layout for reads as empty)."""
    from ingest.pipeline import DocumentFiles

    layouts = DocumentFiles(pipeline.settings.docs_dir / pipeline.doc_ids[scan.name]).saved_layouts()
    return [
        "\n".join(b.markdown for b in layouts[n].blocks) if n in layouts else "" for n in range(1, count + 1)
    ]


def ocr_scores(run: ScanPages, scans: dict[Path, list[int]], contracts: dict[str, Path]) -> dict[str, Any]:
    """{"ocr": {text source: {"summary", "pages"}}}: CER per scanned page of what the pipeline read, against
    the contract page's text layer. opticite: its blocks' Markdown; the peer: Tesseract's own text (the
    sidecar) and what LlamaIndex indexed (`PDFReader` on OCRmyPDF's PDF)."""
    sources: dict[str, dict[str, float]] = {}
    for scan, pages in scans.items():
        truth = contracts[scan.name]
        if isinstance(run.pipeline, OcrMyPdfPipeline):
            sidecar = run.pipeline.sidecars[scan.name]
            texts = {
                "tesseract_sidecar": page_cer(truth, pages, sidecar),
                "tesseract_sidecar_words_sorted": page_cer(truth, pages, sidecar, words=True),
                "pdfreader": page_cer(truth, pages, run.pipeline.texts[scan.name]),
            }
        else:
            opticite = opticite_texts(run.pipeline, scan, len(pages))
            texts = {
                "rapidocr": page_cer(truth, pages, opticite, markdown=True),
                "rapidocr_words_sorted": page_cer(truth, pages, opticite, markdown=True, words=True),
            }
        for source, cers in texts.items():
            for number, value in zip(pages, cers, strict=True):
                sources.setdefault(source, {})[f"{scan.stem} p{number}"] = value
    return {
        "ocr": {source: {"summary": cer_summary(rows), "pages": rows} for source, rows in sources.items()}
    }


def cer_summary(rows: dict[str, float]) -> dict[str, Any]:
    """Mean CER over all pages and over each half (tuning: odd contract numbers, as bench/cuad.py)."""
    from bench.cuad import is_tuning

    def mean(keep: list[float]) -> float | None:
        return round(sum(keep) / len(keep), 4) if keep else None

    tuning = [v for k, v in rows.items() if is_tuning(k.split(" ")[0])]
    held = [v for k, v in rows.items() if not is_tuning(k.split(" ")[0])]
    return {
        "pages": len(rows),
        "all": mean(list(rows.values())),
        "tuning": mean(tuning),
        "held_out": mean(held),
        "median": round(statistics.median(rows.values()), 4) if rows else None,
    }


def profile_rapidocr(scan: Path, pages: int) -> dict[str, float]:
    """CPU seconds per page of each stage of opticite's OCR of a scanned PDF, as `RapidOcrEngine` runs it:
    render (at the source dpi), decode, det + rec (one RapidOCR call; its own wall-clock split between
    det and rec is kept as a share), the orientation probe and the grouping into blocks."""
    import time

    from ingest.configs import RapidOcrConfig
    from ingest.ocr.rapidocr import RapidOcrEngine, boxes_from_result, build_blocks, fit_side
    from ingest.orientation import detect_orientation
    from ingest.preprocess import decode_png
    from ingest.sources import open_source

    engine = RapidOcrEngine(RapidOcrConfig())
    ocr = engine._engine()  # loaded outside the timings
    cpu: dict[str, float] = {}
    det_rec_wall = [0.0, 0.0]

    def timed(stage: str, started: float) -> float:
        now = time.process_time()
        cpu[stage] = cpu.get(stage, 0.0) + now - started
        return now

    with open_source(scan) as source:
        for n in range(1, pages + 1):
            t = time.process_time()
            page = source.render_page(n)
            t = timed("render", t)
            img = fit_side(decode_png(page.image_png), engine.config.max_side_px)
            t = timed("decode", t)
            result = ocr(img, return_word_box=True)
            t = timed("det+rec", t)
            det_rec_wall[0] += result.elapse_list[0] or 0.0
            det_rec_wall[1] += result.elapse_list[2] or 0.0
            boxes = boxes_from_result(result.boxes, result.txts, result.scores, 0.0, result.word_results)
            detect_orientation(img, [b.bbox_px for b in boxes], [b.score for b in boxes], engine.score_crops)
            t = timed("orientation", t)
            build_blocks(
                [b for b in boxes if b.score >= engine.config.min_score], (img.shape[1], img.shape[0])
            )
            timed("blocks", t)
    out = {f"{stage}_cpu_s_per_page": round(v / pages, 3) for stage, v in cpu.items()}
    out["det_share_of_det_rec_wall"] = round(det_rec_wall[0] / max(sum(det_rec_wall), 1e-9), 3)
    out["image_px"] = float(img.shape[1] * img.shape[0])
    return out
