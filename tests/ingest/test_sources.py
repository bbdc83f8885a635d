"""ingest.sources: every format opens, limits hold, bad files fail with typed, readable errors."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib
from pathlib import Path

import pymupdf
import pytest
from PIL import Image

from ingest.digest import sha256_file
from ingest.errors import DamagedFile, EmptyFile, EncryptedPdf, FileTooLarge, UnsupportedFile
from ingest.page import PageImage
from ingest.sources import SourceConfig, fit_dpi, open_source, with_pixels


def make_pdf(path: Path, pages: int = 2, size_pt: tuple[float, float] = (612, 792)) -> Path:
    doc = pymupdf.open()
    for i in range(pages):
        page = doc.new_page(width=size_pt[0], height=size_pt[1])
        page.insert_text((72, 100), f"Page {i + 1} says hello", fontsize=20)
    doc.save(path)
    doc.close()
    return path


def decode(page: PageImage) -> Image.Image:
    return Image.open(io.BytesIO(page.image_png)).convert("RGB")


def rgb_at(img: Image.Image, xy: tuple[int, int]) -> tuple[int, int, int]:
    r, g, b = img.getpixel(xy)  # type: ignore[misc]
    return int(r), int(g), int(b)


def png_header_only(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR declaring huge dimensions, with a tiny IDAT."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def test_pdf_pages_have_size_in_points_render_at_144_dpi_and_count_text(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "two.pdf")
    with open_source(path) as doc:
        assert (doc.kind, doc.page_count) == ("pdf", 2)
        page = doc.render_page(2)
    assert (page.page, page.width, page.height, page.unit, page.dpi) == (2, 612.0, 792.0, "pt", 144)
    assert page.image_size == (1224, 1584) == decode(page).size
    assert page.text_chars == len("Page2sayshello")
    assert page.source == path


@pytest.mark.parametrize(
    ("size_pt", "max_pixels"),
    [((612, 792), 60_000_000), ((595.3, 841.9), 60_000_000), ((3600, 3600), 4_000_000)],
)
def test_page_opened_without_pixels_renders_later_to_the_same_image(
    tmp_path: Path, size_pt: tuple[float, float], max_pixels: int
) -> None:
    config = SourceConfig(max_pixels=max_pixels)
    with open_source(make_pdf(tmp_path / "a.pdf", size_pt=size_pt), config) as doc:
        bare, rendered = doc.render_page(2, pixels=False), doc.render_page(2)
    assert bare.image_png == b"" and bare.text_chars == rendered.text_chars
    assert bare.image_size == rendered.image_size == decode(rendered).size
    later = with_pixels(bare)
    assert later.image_png == rendered.image_png and later.image_size == rendered.image_size
    assert with_pixels(rendered) is rendered


def test_pdf_dpi_is_configurable(tmp_path: Path) -> None:
    with open_source(make_pdf(tmp_path / "a.pdf"), SourceConfig(dpi=72)) as doc:
        assert doc.render_page(1).image_size == (612, 792)


@pytest.mark.parametrize(
    ("fmt", "ext"), [("PNG", ".png"), ("JPEG", ".jpg"), ("WEBP", ".webp"), ("BMP", ".bmp")]
)
def test_single_image_formats_open_with_pixel_size(tmp_path: Path, fmt: str, ext: str) -> None:
    path = tmp_path / f"img{ext}"
    Image.new("RGB", (64, 48), (200, 30, 30)).save(path, format=fmt)
    with open_source(path) as doc:
        assert (doc.kind, doc.page_count) == ("image", 1)
        page = doc.render_page(1)
    assert (page.width, page.height, page.unit, page.image_size) == (64.0, 48.0, "px", (64, 48))
    r, g, b = rgb_at(decode(page), (32, 24))
    assert r > 150 and g < 80 and b < 80


def test_multipage_tiff_gives_one_page_per_frame(tmp_path: Path) -> None:
    path = tmp_path / "scan.tiff"
    frames = [Image.new("RGB", (40, 30), c) for c in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    with open_source(path) as doc:
        assert doc.page_count == 3
        colours = [rgb_at(decode(doc.render_page(n)), (5, 5)) for n in (1, 2, 3)]
    assert colours == [(255, 0, 0), (0, 255, 0), (0, 0, 255)]


def test_exif_orientation_is_applied_to_the_pixels(tmp_path: Path) -> None:
    # Stored 40x20 with red on the left; orientation 6 means "rotate 90 degrees clockwise to view",
    # so the upright page is 20x40 with red on top.
    stored = Image.new("RGB", (40, 20), (0, 0, 255))
    stored.paste((255, 0, 0), (0, 0, 20, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "photo.jpg"
    stored.save(path, format="JPEG", exif=exif, quality=95)
    with open_source(path) as doc:
        page = doc.render_page(1)
    img = decode(page)
    assert page.image_size == img.size == (20, 40)
    top, bottom = rgb_at(img, (10, 5)), rgb_at(img, (10, 35))
    assert top[0] > 200 and top[2] < 60, top
    assert bottom[2] > 200 and bottom[0] < 60, bottom


def test_transparent_png_is_flattened_onto_white(tmp_path: Path) -> None:
    path = tmp_path / "t.png"
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(path)
    with open_source(path) as doc:
        assert rgb_at(decode(doc.render_page(1)), (5, 5)) == (255, 255, 255)


def test_encrypted_pdf_fails_with_encrypted_pdf(tmp_path: Path) -> None:
    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "secret")
    path = tmp_path / "locked.pdf"
    aes_256 = pymupdf.PDF_ENCRYPT_AES_256  # type: ignore[attr-defined]
    doc.save(path, encryption=aes_256, user_pw="pw", owner_pw="owner")
    with pytest.raises(EncryptedPdf, match="password-protected; remove the password") as err:
        open_source(path)
    assert err.value.code == "encrypted_pdf"


def test_truncated_pdf_fails_as_damaged(tmp_path: Path) -> None:
    data = make_pdf(tmp_path / "full.pdf").read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(DamagedFile, match="damaged or truncated") as err:
        open_source(path)
    assert str(tmp_path) not in err.value.message  # no server paths in user-facing messages


def test_pdf_cut_short_but_repairable_opens_and_says_it_was_repaired(tmp_path: Path) -> None:
    full = make_pdf(tmp_path / "full.pdf")
    with open_source(full) as doc:
        assert not doc.repaired
    data = full.read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) * 9 // 10])  # the xref table is gone, the objects are intact
    with open_source(path) as doc:
        assert doc.repaired
        assert doc.render_page(2).text_chars == len("Page2sayshello")


def test_random_bytes_fail_as_unsupported(tmp_path: Path) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(bytes(range(256)) * 8)
    with pytest.raises(UnsupportedFile, match="not a PDF, PNG, JPEG, TIFF, WebP or BMP"):
        open_source(path)


def test_empty_file_fails_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(EmptyFile, match="empty"):
        open_source(path)


def test_pdf_name_holding_a_png_is_refused_as_mislabelled(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    Image.new("RGB", (8, 8)).save(path, format="PNG")
    with pytest.raises(UnsupportedFile, match="named as PDF but its content is PNG"):
        open_source(path)
    with open_source(path, SourceConfig(strict_extension=False)) as doc:
        assert (doc.kind, doc.format) == ("image", "png")


def test_unknown_extension_is_read_by_content(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "upload.bin")
    with open_source(path) as doc:
        assert doc.kind == "pdf"


@pytest.mark.parametrize("side", [100_000, 10_000, 8_000])
def test_png_declaring_huge_dimensions_fails_fast_as_too_large(tmp_path: Path, side: int) -> None:
    # 100k: Pillow's own bomb error; 10k: Pillow's warning; 8k: only our 60 MP limit.
    path = tmp_path / "bomb.png"
    path.write_bytes(png_header_only(side, side))
    started = time.monotonic()
    with pytest.raises(FileTooLarge, match="pixels") as err, open_source(path) as doc:
        doc.render_page(1)
    assert time.monotonic() - started < 1.0
    assert err.value.code == "file_too_large"


def test_page_count_over_limit_fails_as_too_large(tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge, match="3 pages, more than the limit of 2"):
        open_source(make_pdf(tmp_path / "three.pdf", pages=3), SourceConfig(max_pages=2))


def test_file_over_byte_limit_fails_as_too_large(tmp_path: Path) -> None:
    with pytest.raises(FileTooLarge, match="MiB"):
        open_source(make_pdf(tmp_path / "a.pdf"), SourceConfig(max_bytes=100))


def test_huge_pdf_page_renders_at_lower_dpi_within_pixel_limit(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "poster.pdf", pages=1, size_pt=(3600, 3600))  # 50 x 50 inches
    with open_source(path, SourceConfig(max_pixels=4_000_000)) as doc:
        page = doc.render_page(1)
    assert page.dpi == 40
    assert page.image_size[0] * page.image_size[1] <= 4_000_000


def test_fit_dpi_keeps_small_pages_and_refuses_unrenderable_ones() -> None:
    assert fit_dpi((612, 792), 144, 60_000_000) == 144
    with pytest.raises(FileTooLarge, match="too large to render"):
        fit_dpi((14400, 14400), 144, 1_000_000)


def test_page_that_fails_to_render_raises_for_that_page_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = pymupdf.Page.get_displaylist  # where rendering interprets the page's content

    def broken_second_page(self: pymupdf.Page, *args: object, **kwargs: object) -> pymupdf.DisplayList:
        if self.number == 1:
            raise RuntimeError("invalid content stream")
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pymupdf.Page, "get_displaylist", broken_second_page)
    with open_source(make_pdf(tmp_path / "two.pdf")) as doc:
        with pytest.raises(DamagedFile, match="page 2 of the PDF could not be rendered"):
            doc.render_page(2)
        assert doc.render_page(1).page == 1


def test_sha256_matches_hashlib_and_page_numbers_are_checked(tmp_path: Path) -> None:
    path = make_pdf(tmp_path / "a.pdf")
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    with open_source(path) as doc:
        assert doc.sha256 == sha256_file(path)
        with pytest.raises(ValueError, match="outside 1..2"):
            doc.render_page(3)


@pytest.mark.parametrize("color", [(0.2, 0.2, 0.2), (0.9, 0.1, 0.3)])
def test_rendered_pages_are_lossless_and_grey_pages_one_channel(
    tmp_path: Path, color: tuple[float, float, float]
) -> None:
    doc = pymupdf.open()
    page = doc.new_page(width=300, height=200)
    page.insert_text((30, 80), "Grey or colour", fontsize=24, color=color)
    page.draw_rect(pymupdf.Rect(30, 120, 200, 160), color=color, fill=color)
    path = tmp_path / "page.pdf"
    doc.save(path)
    with open_source(path, SourceConfig()) as src:
        rendered = src.render_page(1)
    expected = pymupdf.open(path)[0].get_pixmap(dpi=rendered.dpi, alpha=False)
    img = Image.open(io.BytesIO(rendered.image_png))
    grey = color[0] == color[1] == color[2]
    assert img.mode == ("L" if grey else "RGB")
    assert img.convert("RGB").tobytes() == expected.samples  # every pixel as MuPDF rendered it
