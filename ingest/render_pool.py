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
from typing import Any, Literal

import numpy as np
import pymupdf
from pymupdf import mupdf

_pool: ProcessPoolExecutor | None = None
_lock = threading.Lock()


ImageFormat = Literal["png", "jpeg"]


def render_image(path: str, page: int, dpi: int, fmt: ImageFormat = "png") -> tuple[bytes, tuple[int, int]]:
    """Page `page` (1-based) of the PDF at `path` encoded as `fmt`, and its size in pixels (runs in a worker)."""
    with _open_lock:
        pix = render_pixmap(_document(path).load_page(page - 1), dpi)
        return encode_pixmap(pix, fmt), (pix.width, pix.height)


# The PDF a worker last rendered from stays open for the document's next pages: reopened for each
# page, MuPDF reads its page tree again (~3 CPU-ms a page on a 400-page scan, a fifth of the render).
_opened: tuple[tuple[str, int, int, int], pymupdf.Document] | None = None
_open_lock = threading.Lock()  # a Document is not for two threads at once


def _document(path: str) -> pymupdf.Document:
    """The PDF at `path`, kept open while the file is unchanged (same inode, size and mtime)."""
    global _opened
    stat = os.stat(path)
    key = (path, stat.st_ino, stat.st_size, stat.st_mtime_ns)
    if _opened is None or _opened[0] != key:
        if _opened is not None:
            _opened[1].close()
            _opened = None
        _opened = (key, pymupdf.open(path, filetype="pdf"))
    return _opened[1]


def render_pixmap(page: pymupdf.Page, dpi: int) -> pymupdf.Pixmap:
    """`page.get_pixmap(dpi=dpi)`, rendered straight to one channel where the page draws only in grey
    (a scan): up to half the CPU of an RGB render, whose one channel `encode_pixmap` would keep anyway."""
    shapes = page.get_displaylist()  # interpreted once, for the colour check and the render
    colorspace = pymupdf.csGRAY if draws_in_grey(shapes) else pymupdf.csRGB
    pix = shapes.get_pixmap(matrix=pymupdf.Matrix(dpi / 72, dpi / 72), colorspace=colorspace, alpha=False)
    pix.set_dpi(dpi, dpi)
    return pix


def draws_in_grey(shapes: pymupdf.DisplayList) -> bool:
    """Whether everything on the page is painted in a grey colour space: images, text, paths, masks.
    Shadings and RGB colours count as colour even where grey (the RGB render then decides, as before)."""
    device = _InkDevice()
    try:
        mupdf.fz_run_display_list(
            shapes.this, device, mupdf.FzMatrix(), mupdf.FzRect(mupdf.FzRect.Fixed_INFINITE), mupdf.FzCookie()
        )
        mupdf.fz_close_device(device)
    except Exception:  # an unexpected object or binding: render in colour, as without the check
        return False
    return not device.colour


class _InkDevice(mupdf.FzDevice2):  # type: ignore[misc]
    """A MuPDF device that only notes whether anything is painted outside a grey colour space."""

    def __init__(self) -> None:
        super().__init__()
        self.colour = False
        for call in ("fill_path", "stroke_path", "fill_text", "stroke_text", "fill_shade", "fill_image"):
            getattr(self, f"use_virtual_{call}")()
        self.use_virtual_fill_image_mask()

    def _paint(self, colorspace: Any) -> None:
        if not self.colour and not mupdf.ll_fz_colorspace_is_gray(colorspace):
            self.colour = True

    def fill_path(self, ctx: Any, path: Any, even_odd: Any, ctm: Any, cs: Any, *rest: Any) -> None:
        self._paint(cs)

    def stroke_path(self, ctx: Any, path: Any, stroke: Any, ctm: Any, cs: Any, *rest: Any) -> None:
        self._paint(cs)

    def fill_text(self, ctx: Any, text: Any, ctm: Any, cs: Any, *rest: Any) -> None:
        self._paint(cs)

    def stroke_text(self, ctx: Any, text: Any, stroke: Any, ctm: Any, cs: Any, *rest: Any) -> None:
        self._paint(cs)

    def fill_shade(self, *args: Any) -> None:
        self.colour = True

    def fill_image(self, ctx: Any, image: Any, *rest: Any) -> None:
        if not self.colour and (
            image.colorspace is None or not mupdf.ll_fz_colorspace_is_gray(image.colorspace)
        ):
            self.colour = True

    def fill_image_mask(self, ctx: Any, image: Any, ctm: Any, cs: Any, *rest: Any) -> None:
        self._paint(cs)  # a stencil painted in the colour given


def is_grey(pix: pymupdf.Pixmap) -> bool:
    """Whether every pixel of `pix` has equal channels (a one-channel pixmap always)."""
    if pix.n == 1:
        return True
    img = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    return bool((img[:, :, 0] == img[:, :, 1]).all() and (img[:, :, 1] == img[:, :, 2]).all())


def encode_pixmap(pix: pymupdf.Pixmap, fmt: ImageFormat = "png") -> bytes:
    """A rendered page, one channel where the page is grey (a scan). PNG is lossless at zlib level 1
    (PyMuPDF's own encoder takes ~10x as long on a noisy scan); JPEG is ~10x faster again and half
    the bytes, for pages sent to an OCR server (bench/ocr_service_path.py)."""
    from ingest.preprocess import encode_image  # OpenCV: loaded where pages are rendered

    img = np.frombuffer(pix.samples_mv, dtype=np.uint8).reshape(pix.height, pix.width, pix.n)
    img = img[:, :, 0] if is_grey(pix) else img[:, :, ::-1]  # OpenCV writes BGR
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
