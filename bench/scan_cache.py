"""Scanned copies of cuad-dev pages read once by RapidOCR, cached; light enough to run anywhere.

    nice -n 10 .venv/bin/python -m bench.scan_cache              # the 33-page sample (bench/scans.py)
    .venv/bin/python -m bench.scan_cache --every --jobs 16        # every page of all ten contracts

A page's RapidOCR lines (normalized boxes, word extents) and CPU seconds are cached in
/tmp/opticite_scans (`OPTICITE_SCAN_CACHE`), keyed by the contract file's hash and the scan settings, so
a cache filled on another machine (a 16-core host reads all 343 pages in minutes) serves the benches here.
Only PyMuPDF, OpenCV, RapidOCR and `ingest` are imported: no embedder, no store.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import pymupdf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.cuad import CuadQuestion, load_questions  # noqa: E402
from bench.scan_copy import DPI, JPEG_QUALITY, NOISE_SIGMA, TURN_DEG, scan_copy  # noqa: E402
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine, rapidocr_params  # noqa: E402

CUAD = ROOT.parent / "shared" / "testdata" / "cuad-dev"
CACHE = Path(os.environ.get("OPTICITE_SCAN_CACHE", Path(tempfile.gettempdir()) / "opticite_scans"))
FIRST_PAGES = 4
# the sample: contracts 01-06 (three of each half), their first pages and gold pages; `every` is all
SCANNED = ("01", "02", "03", "04", "05", "06")
SETTINGS = f"{DPI}dpi-{TURN_DEG}deg-n{NOISE_SIGMA}-q{JPEG_QUALITY}"


def is_scanned(path: Path, every: bool = False) -> bool:
    return every or path.stem.split("_")[0] in SCANNED


def contracts(cuad: Path = CUAD, every: bool = False) -> list[Path]:
    """The contracts that have scanned copies: the sample's six, or all (`every`)."""
    return [p for p in sorted((cuad / "contracts").glob("*.pdf")) if is_scanned(p, every)]


@functools.cache
def _questions(cuad: Path) -> list[CuadQuestion]:
    return load_questions(cuad)


def scan_pages(path: Path, cuad: Path = CUAD, every: bool = False) -> list[int]:
    """The pages scanned: every page (`every`), or the sample's first FIRST_PAGES and every gold page of
    the contract's questions (enough others to mislead search, and an hour of RapidOCR on 2 cores)."""
    with pymupdf.open(path) as doc:
        count = doc.page_count
    if every:
        return list(range(1, count + 1))
    gold = {p for q in _questions(cuad) if q.file.name == path.name for p in q.gold_pages}
    return sorted(set(range(1, min(FIRST_PAGES, count) + 1)) | gold)


def _key(path: Path) -> str:
    """The contract's bytes, the scan settings and the engine's settings: a changed default reads again."""
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    config = RapidOcrConfig(threads=1)
    engine = json.dumps([rapidocr_params(config), config.det_max_side_px], sort_keys=True)
    return f"{path.stem}.{digest}.{SETTINGS}.{hashlib.sha256(engine.encode()).hexdigest()[:8]}"


def _page_file(path: Path, number: int) -> Path:
    return CACHE / _key(path) / f"{number:04d}.rapidocr.json"


def ocr_page(engine: RapidOcrEngine, path: Path, doc: pymupdf.Document, number: int) -> dict[str, Any]:
    """The page's RapidOCR lines (normalized boxes, word extents) and CPU seconds, read once."""
    cached = _page_file(path, number)
    if cached.is_file():
        return dict(json.loads(cached.read_text()))
    image = scan_copy(doc[number - 1], number, seed=number)
    started = time.process_time()
    layout = engine.recognize_sync(image)
    record = {
        "cpu_s": round(time.process_time() - started, 3),
        "size_px": list(image.image_size),
        "lines": [[ln.text, ln.bbox.as_list(), ln.words_x] for b in layout.blocks for ln in b.lines],
    }
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    tmp.replace(cached)
    return record


def ocr_contract(
    path: Path, engine: RapidOcrEngine | None = None, every: bool = False, cuad: Path = CUAD
) -> dict[int, dict[str, Any]]:
    """The scanned pages' cached OCR records by page number, reading the pages not yet cached."""
    engine = engine or RapidOcrEngine(RapidOcrConfig(threads=1))
    with pymupdf.open(path) as doc:
        return {n: ocr_page(engine, path, doc, n) for n in scan_pages(path, cuad, every)}


@functools.cache
def _engine() -> RapidOcrEngine:
    return RapidOcrEngine(RapidOcrConfig(threads=1))


def _read(path: Path, numbers: list[int]) -> float:
    with pymupdf.open(path) as doc:
        return sum(ocr_page(_engine(), path, doc, n)["cpu_s"] for n in numbers)


def warm(files: list[Path], every: bool = False, jobs: int = 1, cuad: Path = CUAD) -> None:
    """RapidOCR on every scanned page not yet cached, `jobs` one-thread processes at a time."""
    started = time.perf_counter()
    work = [(p, [n]) for p in files for n in scan_pages(p, cuad, every) if not _page_file(p, n).is_file()]
    with ProcessPoolExecutor(max(1, jobs)) as pool:
        cpu = sum(pool.map(_read, *zip(*work, strict=True))) if work else 0.0
    print(f"{len(work)} pages read, {cpu:.0f} CPU-s, {time.perf_counter() - started:.0f} s wall", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cuad", type=Path, default=CUAD, help="the cuad-dev folder")
    parser.add_argument("--every", action="store_true", help="every page of all ten contracts")
    parser.add_argument("--jobs", type=int, default=1, help="one-thread RapidOCR processes")
    parser.add_argument("--contracts", help="comma-separated numbers (01,03): only these contracts")
    args = parser.parse_args(argv)
    files = contracts(args.cuad, args.every)
    if args.contracts:
        files = [p for p in files if p.stem.split("_")[0] in args.contracts.split(",")]
    warm(files, args.every, args.jobs, args.cuad)


if __name__ == "__main__":
    main()
