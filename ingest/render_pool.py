"""PDF pages rendered and PNG-encoded in worker processes, one per core.

PyMuPDF holds the GIL while it renders and encodes (0.1 s to over a second a page), so a render in a
thread still stops every other thread, the event loop included, for its whole length. The pool's
processes render instead; the calling thread only waits. It starts on first use (spawned, so no
lock or thread of the parent is copied) and ends with the interpreter.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pymupdf

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def render_png(path: str, page: int, dpi: int) -> tuple[bytes, tuple[int, int]]:
    """Page `page` (1-based) of the PDF at `path` as PNG bytes and its size in pixels (runs in a worker)."""
    with pymupdf.open(path, filetype="pdf") as doc:
        pix = doc.load_page(page - 1).get_pixmap(dpi=dpi, alpha=False)
        return pixmap_png(pix), (pix.width, pix.height)


def pixmap_png(pix: pymupdf.Pixmap) -> bytes:
    """A rendered page as PNG, fast and lossless: one channel where the page is grey (a scan), and
    zlib level 1 (PyMuPDF's own encoder takes ~10x as long on a noisy scan: bench/ocr_service_path.py)."""
    from ingest.preprocess import encode_png  # OpenCV: loaded where pages are rendered, not to read settings

    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    if pix.n == 1 or ((img[:, :, 0] == img[:, :, 1]).all() and (img[:, :, 1] == img[:, :, 2]).all()):
        return encode_png(np.ascontiguousarray(img[:, :, 0]))
    return encode_png(np.ascontiguousarray(img[:, :, ::-1]))  # OpenCV writes BGR


def render_png_in_pool(path: str, page: int, dpi: int) -> tuple[bytes, tuple[int, int]]:
    """`render_png` in a worker process; blocks the calling thread (not the GIL) until it is done."""
    return _shared_pool().submit(render_png, path, page, dpi).result()


def _shared_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(usable_cores(), mp_context=multiprocessing.get_context("spawn"))
        return _pool


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's CPU set), not the host's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
