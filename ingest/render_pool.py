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

import pymupdf

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


def render_png(path: str, page: int, dpi: int) -> tuple[bytes, tuple[int, int]]:
    """Page `page` (1-based) of the PDF at `path` as PNG bytes and its size in pixels (runs in a worker)."""
    with pymupdf.open(path, filetype="pdf") as doc:
        pix = doc.load_page(page - 1).get_pixmap(dpi=dpi, alpha=False)
        return pix.tobytes("png"), (pix.width, pix.height)


def render_png_in_pool(path: str, page: int, dpi: int) -> tuple[bytes, tuple[int, int]]:
    """`render_png` in a worker process; blocks the calling thread (not the GIL) until it is done."""
    return _shared_pool().submit(render_png, path, page, dpi).result()


def _shared_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(os.cpu_count() or 1, mp_context=multiprocessing.get_context("spawn"))
        return _pool
