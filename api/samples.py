"""A small sample set the project generates itself: a two-page contract PDF and a scan of its first page.

Used by the first-run button in the web UI (`POST /v1/samples`) and by tests; nothing is downloaded.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import pymupdf
from PIL import Image, ImageFilter

CONTRACT_NAME = "sample-contract.pdf"
SCAN_NAME = "sample-contract-scan.png"

_MARGIN_PT = 64.0
_A4_PT = (595.0, 842.0)

# (kind, text): "h" heading, "p" paragraph; wrapped into the page width when drawn.
_PAGE_1: list[tuple[str, str]] = [
    ("t", "Master Services Agreement"),
    ("p", "This Master Services Agreement (the Agreement) is made on 1 March 2024."),
    ("h", "1. Parties"),
    (
        "p",
        "Northwind Analytics Ltd., a company registered in England under number 09876543, "
        "with its office at 12 Harbour Street, Bristol BS1 4QA (the Provider); and "
        "Bluefield Logistics GmbH, registered in Hamburg under HRB 204518, "
        "with its office at Speicherstadt 7, 20457 Hamburg (the Customer).",
    ),
    ("h", "2. Services"),
    (
        "p",
        "The Provider shall deliver route optimisation analytics, a monthly fleet report and "
        "second-line support on business days between 08:00 and 18:00 CET.",
    ),
    ("h", "3. Term"),
    (
        "p",
        "The Agreement starts on 1 March 2024 and continues for an initial term of twenty-four "
        "(24) months, ending on 28 February 2026.",
    ),
    ("h", "4. Renewal"),
    (
        "p",
        "After the initial term the Agreement renews automatically for successive periods of "
        "twelve (12) months unless either party terminates it under clause 5.",
    ),
    ("h", "5. Notice Period"),
    (
        "p",
        "Either party may terminate this Agreement by giving the other party at least ninety (90) "
        "days written notice before the end of the then-current term.",
    ),
]

_PAGE_2_TOP: list[tuple[str, str]] = [
    ("h", "6. Fees and Payment"),
    (
        "p",
        "The Customer shall pay the fees below within thirty (30) days of the invoice date. "
        "Late payments bear interest at 4% above the Bank of England base rate.",
    ),
]

_PAYMENT_TABLE: list[tuple[str, str, str]] = [
    ("Milestone", "Due date", "Amount (EUR)"),
    ("Onboarding and set-up", "15 March 2024", "18,000"),
    ("Quarterly service fee", "1st day of each quarter", "24,500"),
    ("Annual fleet audit", "1 March 2025", "9,750"),
]

_PAGE_2_BOTTOM: list[tuple[str, str]] = [
    ("h", "7. Governing Law"),
    (
        "p",
        "This Agreement and any dispute arising from it are governed by the laws of England and Wales, "
        "and the courts of London have exclusive jurisdiction.",
    ),
    ("h", "8. Signatures"),
    ("p", "Signed for Northwind Analytics Ltd. by Eleanor Price, Director."),
    ("p", "Signed for Bluefield Logistics GmbH by Jonas Weber, Managing Director."),
]

_SIZES = {"t": 20.0, "h": 13.0, "p": 10.5}
_FONTS = {"t": "hebo", "h": "hebo", "p": "helv"}


def _draw_paragraphs(page: pymupdf.Page, items: list[tuple[str, str]], y: float) -> float:
    """Draws headings and wrapped paragraphs from `y` (points) down; returns the next free y."""
    width = page.rect.width - 2 * _MARGIN_PT
    for kind, text in items:
        size = _SIZES[kind]
        y += size * (0.9 if kind == "p" else 1.4)
        height = size * 1.5 * (1 + int(pymupdf.get_text_length(text, _FONTS[kind], size) // width) + 1)
        rect = pymupdf.Rect(_MARGIN_PT, y, _MARGIN_PT + width, y + height)
        spare = page.insert_textbox(rect, text, fontsize=size, fontname=_FONTS[kind])
        y += height - spare
    return y


def _draw_table(page: pymupdf.Page, rows: list[tuple[str, str, str]], y: float) -> float:
    widths = (200.0, 150.0, 117.0)
    row_h = 22.0
    y += 14
    for r, row in enumerate(rows):
        x = _MARGIN_PT
        for text, w in zip(row, widths, strict=True):
            cell = pymupdf.Rect(x, y, x + w, y + row_h)
            page.draw_rect(cell, color=(0.2, 0.2, 0.2), width=0.6)
            font = "hebo" if r == 0 else "helv"
            page.insert_text((x + 6, y + 15), text, fontsize=10, fontname=font)
            x += w
        y += row_h
    return y


def make_contract_pdf(path: Path) -> Path:
    """Writes the two-page sample contract (born-digital, with a text layer) to `path`."""
    doc = pymupdf.open()
    first = doc.new_page(width=_A4_PT[0], height=_A4_PT[1])
    _draw_paragraphs(first, _PAGE_1, _MARGIN_PT)
    second = doc.new_page(width=_A4_PT[0], height=_A4_PT[1])
    y = _draw_paragraphs(second, _PAGE_2_TOP, _MARGIN_PT)
    y = _draw_table(second, _PAYMENT_TABLE, y)
    _draw_paragraphs(second, _PAGE_2_BOTTOM, y + 6)
    for n in range(1, doc.page_count + 1):
        footer_at = (_A4_PT[0] / 2 - 20, _A4_PT[1] - 30)
        doc[n - 1].insert_text(footer_at, f"Page {n} of 2", fontsize=8, fontname="helv")
    doc.set_metadata({"title": "Master Services Agreement (sample)", "author": "opticite"})
    doc.save(path)
    doc.close()
    return path


def make_scan_png(pdf_path: Path, path: Path, dpi: int = 110, seed: int = 7) -> Path:
    """Renders page 1 of `pdf_path` as a scanned-looking PNG: grey, slightly rotated, with noise."""
    with pymupdf.open(pdf_path) as doc:
        pix = doc[0].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY)
        image = Image.open(io.BytesIO(pix.tobytes("png"))).convert("L")
    image = image.rotate(0.8, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=238)
    rng = random.Random(seed)
    noise = Image.effect_noise(image.size, 18.0)
    image = Image.blend(image, noise, 0.08).filter(ImageFilter.GaussianBlur(0.4))
    # a few specks, as a photocopier leaves them
    for _ in range(60):
        x, y = rng.randrange(image.width), rng.randrange(image.height)
        image.putpixel((x, y), rng.randrange(40, 120))
    image.save(path, format="PNG", optimize=True)
    return path


def make_samples(directory: Path) -> list[Path]:
    """Generates the sample set into `directory` (created if needed); returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    pdf = make_contract_pdf(directory / CONTRACT_NAME)
    scan = make_scan_png(pdf, directory / SCAN_NAME)
    return [pdf, scan]
