"""Open an uploaded file (PDF or image), check it against limits and render its pages.

The type comes from the content (magic bytes), never from the name. PDF pages are sized in points
and rendered at `SourceConfig.dpi`; image pages are sized in pixels and keep their own pixels.
"""

from __future__ import annotations

import io
import threading
import warnings
from functools import cached_property
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np
import pymupdf
from PIL import Image, ImageOps

from ingest.configs import SourceConfig
from ingest.digest import sha256_file
from ingest.errors import DamagedFile, EmptyFile, EncryptedPdf, FileTooLarge, UnsupportedFile
from ingest.page import PageImage
from ingest.render_pool import ImageFormat, encode_pixmap, render_in_pool, render_pixmap

Kind = Literal["pdf", "image"]
FileFormat = Literal["pdf", "png", "jpeg", "tiff", "webp", "bmp"]

# Below this a rendered page is too coarse to read; a bigger page fails instead of shrinking further.
MIN_RENDER_DPI = 36
# PDF readers accept a header anywhere in the first KiB; so do we.
PDF_HEADER_WINDOW = 1024

_EXTENSIONS: dict[str, FileFormat] = {
    ".pdf": "pdf",
    ".png": "png",
    ".jpg": "jpeg",
    ".jpeg": "jpeg",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".webp": "webp",
    ".bmp": "bmp",
}
SUPPORTED = "PDF, PNG, JPEG, TIFF, WebP or BMP"


def sniff_format(head: bytes) -> FileFormat | None:
    """The format the first bytes of a file announce, or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if b"%PDF-" in head[:PDF_HEADER_WINDOW]:
        return "pdf"
    return None


def printable_chars(text: str) -> int:
    """Characters that carry text: no whitespace, controls or U+FFFD (a broken font's output)."""
    return sum(1 for c in text if c.isprintable() and not c.isspace() and c != "\ufffd")


class SourceDocument:
    """An opened, validated file. Use as a context manager; `render_page` is 1-based and thread-safe."""

    kind: Kind

    def __init__(self, path: Path, fmt: FileFormat, config: SourceConfig) -> None:
        self.path = path
        self.format = fmt
        self.config = config
        self.kind = "pdf" if fmt == "pdf" else "image"
        self._lock = threading.Lock()
        self._pdf: pymupdf.Document | None = None
        self._image: Image.Image | None = None
        self.repaired = False  # MuPDF rebuilt a broken PDF structure: pages may be incomplete
        self.page_count = self._open_pdf() if fmt == "pdf" else self._open_image()
        if self.page_count > config.max_pages:
            self.close()
            raise FileTooLarge(
                f"the file has {self.page_count} pages, more than the limit of {config.max_pages}; "
                "split it into smaller files and upload them separately"
            )

    @cached_property
    def sha256(self) -> str:
        """Hashed on first use: rendering one page for a preview does not read the whole file."""
        return sha256_file(self.path)

    # --- opening ------------------------------------------------------------------------
    def _open_pdf(self) -> int:
        try:
            doc = pymupdf.open(self.path, filetype="pdf")
        except (pymupdf.FileDataError, RuntimeError, ValueError) as exc:
            raise DamagedFile(
                "the PDF could not be read; it is damaged or truncated: "
                "export or scan it again and upload the new file"
            ) from exc
        self._pdf = doc
        if doc.needs_pass:
            self.close()
            raise EncryptedPdf("the PDF is password-protected; remove the password and upload it again")
        if doc.page_count == 0:
            self.close()
            raise DamagedFile(
                "the PDF has no readable pages; it is damaged or truncated: upload a complete copy"
            )
        self.repaired = bool(doc.is_repaired)
        return int(doc.page_count)

    def _open_image(self) -> int:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(self.path)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels(None, self.config.max_pixels) from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise DamagedFile(
                f"the {self.format.upper()} image could not be read; "
                "it is damaged or truncated: save it again and upload the new file"
            ) from exc
        self._image = image
        self._check_pixels(image.size)
        frames = int(getattr(image, "n_frames", 1)) if self.format == "tiff" else 1
        return max(frames, 1)

    def _check_pixels(self, size_px: tuple[int, int]) -> None:
        w, h = size_px
        if w * h > self.config.max_pixels:
            self.close()
            raise _too_many_pixels(size_px, self.config.max_pixels)

    def render_pixels(self) -> int:
        """Pixels of every page as rendered for OCR (PDF pages at their fitted dpi), rendering none."""
        with self._lock:
            if self._pdf is not None:
                total = 0
                for n in range(self.page_count):
                    page = self._pdf.load_page(n)
                    size_pt = (float(page.rect.width), float(page.rect.height))
                    scale = fit_dpi(size_pt, self.config.dpi, self.config.max_pixels) / 72
                    total += round(size_pt[0] * scale) * round(size_pt[1] * scale)
                return total
            if self._image is not None:
                total = 0
                for n in range(self.page_count):
                    self._image.seek(n)
                    total += self._image.size[0] * self._image.size[1]
                return total
        raise ValueError("the document is closed")

    # --- rendering ----------------------------------------------------------------------
    def render_page(self, n: int, pixels: bool = True) -> PageImage:
        """Page `n` (1-based). With `pixels=False` a PDF page comes without its image (`image_png`
        empty; `image_size` is what rendering would give): enough for the text layer, and
        `with_pixels` renders it when an engine needs pixels after all. Image pages always have pixels."""
        if not 1 <= n <= self.page_count:
            raise ValueError(f"page {n} is outside 1..{self.page_count}")
        with self._lock:
            if self._pdf is not None:
                return self._render_pdf_page(self._pdf, n, pixels)
            if self._image is not None:
                return self._render_image_page(self._image, n)
        raise ValueError("the document is closed")

    def _render_pdf_page(self, doc: pymupdf.Document, n: int, pixels: bool) -> PageImage:
        try:
            page = doc.load_page(n - 1)
            width_pt, height_pt = float(page.rect.width), float(page.rect.height)
            dpi = fit_dpi((width_pt, height_pt), self.config.dpi, self.config.max_pixels)
            if pixels:
                pix = render_pixmap(page, dpi)
                png, size_px = encode_pixmap(pix), (pix.width, pix.height)
            else:
                png, size_px = b"", render_size(page, dpi)
            text_chars = printable_chars(page.get_text("text"))
        except FileTooLarge:
            raise
        except Exception as exc:  # MuPDF raises plain RuntimeError/ValueError for broken page content
            raise DamagedFile(
                f"page {n} of the PDF could not be rendered ({exc}); the rest of the document is unaffected"
            ) from exc
        return PageImage(
            page=n,
            width=width_pt,
            height=height_pt,
            unit="pt",
            image_png=png,
            image_size=size_px,
            dpi=dpi,
            source=self.path,
            text_chars=text_chars,
        )

    def _render_image_page(self, image: Image.Image, n: int) -> PageImage:
        try:
            image.seek(n - 1)
            self._check_pixels(image.size)
            frame = ImageOps.exif_transpose(image)
            frame = _normalize_mode(frame)
            png = _encode_png(frame)
        except FileTooLarge:
            raise
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise DamagedFile(
                f"page {n} of the {self.format.upper()} image could not be decoded ({exc}); "
                "it is damaged or truncated: save it again and upload the new file"
            ) from exc
        dpi_info = image.info.get("dpi")
        dpi = round(float(dpi_info[0])) if dpi_info and 50 <= float(dpi_info[0]) <= 4800 else 72
        return PageImage(
            page=n,
            width=float(frame.width),
            height=float(frame.height),
            unit="px",
            image_png=png,
            image_size=frame.size,
            dpi=dpi,
            source=self.path,
        )

    # --- lifetime -----------------------------------------------------------------------
    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
            self._pdf = None
        if self._image is not None:
            self._image.close()
            self._image = None

    def __enter__(self) -> SourceDocument:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def open_source(path: Path, config: SourceConfig | None = None) -> SourceDocument:
    """Validate `path` (size, type, encryption, page count) and open it for rendering."""
    config = config or SourceConfig()
    path = Path(path)
    size = path.stat().st_size
    if size == 0:
        raise EmptyFile(f"{path.name} is empty (0 bytes); upload the file again")
    if size > config.max_bytes:
        raise FileTooLarge(
            f"{path.name} is {size / 2**20:.1f} MiB, more than the limit of {config.max_bytes / 2**20:.0f} MiB; "
            "split or compress it and upload again"
        )
    with path.open("rb") as fh:
        head = fh.read(PDF_HEADER_WINDOW)
    fmt = detect_format(path.name, head, strict_extension=config.strict_extension)
    return SourceDocument(path, fmt, config)


def with_pixels(page: PageImage, fmt: ImageFormat = "png") -> PageImage:
    """`page` with its image: a PDF page that came without (`render_page(n, pixels=False)`) is rendered
    now from its source, at the dpi it was sized for, encoded as `fmt` (JPEG for an OCR server)."""
    if page.image_png:
        return page
    if page.source is None or page.unit != "pt":
        raise ValueError(f"page {page.page} has neither pixels nor a PDF to render them from")
    try:  # in a worker process: a render here would hold the GIL for its whole length
        png, size_px = render_in_pool(str(page.source), page.page, page.dpi, fmt)
    except Exception as exc:  # as in render_page: MuPDF's plain errors for broken content
        raise DamagedFile(
            f"page {page.page} of the PDF could not be rendered ({exc}); the rest of the document is unaffected"
        ) from exc
    return page.model_copy(update={"image_png": png, "image_size": size_px})


def render_size(page: pymupdf.Page, dpi: int) -> tuple[int, int]:
    """The pixels `page.get_pixmap(dpi=dpi)` gives, without rendering."""
    scale = dpi / 72
    box = (page.rect * pymupdf.Matrix(scale, scale)).irect
    return (box.width, box.height)


def detect_format(filename: str, head: bytes, strict_extension: bool = True) -> FileFormat:
    fmt = sniff_format(head)
    if fmt is None:
        raise UnsupportedFile(
            f"{filename} is not a {SUPPORTED} file (its content matches none of them); "
            "convert it to one of these formats and upload it again"
        )
    claimed = _EXTENSIONS.get(Path(filename).suffix.lower())
    if strict_extension and claimed is not None and claimed != fmt:
        raise UnsupportedFile(
            f"{filename} is named as {claimed.upper()} but its content is {fmt.upper()}; "
            f"rename it to the right extension or upload the intended file"
        )
    return fmt


def fit_dpi(size_pt: tuple[float, float], dpi: int, max_pixels: int) -> int:
    """The render dpi, lowered so the page stays within `max_pixels`; FileTooLarge below MIN_RENDER_DPI."""
    w_in, h_in = size_pt[0] / 72.0, size_pt[1] / 72.0
    if w_in * h_in * dpi * dpi <= max_pixels:
        return dpi
    fitted = int((max_pixels / max(w_in * h_in, 1e-9)) ** 0.5)
    if fitted < MIN_RENDER_DPI:
        raise FileTooLarge(
            f"the page is {w_in:.0f}x{h_in:.0f} inches, too large to render within {max_pixels} pixels; "
            "resize the page or raise max_pixels"
        )
    return fitted


def _too_many_pixels(size_px: tuple[int, int] | None, max_pixels: int) -> FileTooLarge:
    dims = f"{size_px[0]}x{size_px[1]} pixels" if size_px else "more pixels than can be decoded safely"
    return FileTooLarge(
        f"the image is {dims}, over the limit of {max_pixels} pixels per page; "
        "downscale it (e.g. to 300 dpi) and upload again"
    )


def _normalize_mode(image: Image.Image) -> Image.Image:
    """RGB or L pixels; transparency flattened onto white (black would hide dark text)."""
    if image.mode in ("RGB", "L"):
        return image
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(image, dtype=np.float64)
        top = float(arr.max()) or 1.0
        return Image.fromarray((arr * (255.0 / top)).clip(0, 255).astype(np.uint8))
    if image.mode == "1":
        return image.convert("L")
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return Image.alpha_composite(white, rgba).convert("RGB")


def _encode_png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)  # fast: pages are re-encoded once and read many times
    return buf.getvalue()
