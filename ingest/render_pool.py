"""PDF pages rendered and encoded (PNG, or JPEG for an OCR server) in worker processes, one per core.

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
from typing import Literal

import numpy as np
import pymupdf

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


ImageFormat = Literal["png", "jpeg"]


def render_image(path: str, page: int, dpi: int, fmt: ImageFormat = "png") -> tuple[bytes, tuple[int, int]]:
    """Page `page` (1-based) of the PDF at `path` encoded as `fmt`, and its size in pixels (runs in a worker)."""
    with pymupdf.open(path, filetype="pdf") as doc:
        pix = doc.load_page(page - 1).get_pixmap(dpi=dpi, alpha=False)
        return encode_pixmap(pix, fmt), (pix.width, pix.height)


def encode_pixmap(pix: pymupdf.Pixmap, fmt: ImageFormat = "png") -> bytes:
    """A rendered page, one channel where the page is grey (a scan). PNG is lossless at zlib level 1
    (PyMuPDF's own encoder takes ~10x as long on a noisy scan); JPEG is ~10x faster again and half
    the bytes, for pages sent to an OCR server (bench/ocr_service_path.py)."""
    from ingest.preprocess import encode_image  # OpenCV: loaded where pages are rendered

    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    if pix.n == 1 or ((img[:, :, 0] == img[:, :, 1]).all() and (img[:, :, 1] == img[:, :, 2]).all()):
        img = img[:, :, 0]
    else:
        img = img[:, :, ::-1]  # OpenCV writes BGR
    return encode_image(np.ascontiguousarray(img), f"image/{fmt}")


def render_in_pool(path: str, page: int, dpi: int, fmt: ImageFormat = "png") -> tuple[bytes, tuple[int, int]]:
    """`render_image` in a worker process; blocks the calling thread (not the GIL) until it is done."""
    return _shared_pool().submit(render_image, path, page, dpi, fmt).result()


def _shared_pool() -> ProcessPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ProcessPoolExecutor(usable_cores(), mp_context=multiprocessing.get_context("spawn"))
        return _pool


def usable_cores() -> int:
    """The cores this process may run on (a container's or taskset's CPU set), not the host's count."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
