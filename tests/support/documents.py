"""Test documents: contract-like PDFs generated on the fly, and the shared test data folder."""

from __future__ import annotations

from pathlib import Path

import pymupdf

# ../shared/testdata next to the checkout; tests using it skip when it is absent (fixture `testdata`)
TESTDATA = Path(__file__).resolve().parents[2].parent / "shared" / "testdata"

SECTIONS = [
    ("Payment terms", "The Customer shall pay every invoice within thirty days of receipt by bank transfer."),
    (
        "Termination",
        "Either party may terminate this agreement with ninety days written notice to the other.",
    ),
    ("Confidentiality", "Each party keeps the other party's confidential information secret for five years."),
    ("Governing law", "This agreement is governed by the laws of England and Wales and its courts."),
    (
        "Liability",
        "Liability of the Provider is capped at the fees paid in the twelve months before a claim.",
    ),
    ("Warranties", "The Provider warrants that the services are performed with reasonable skill and care."),
    ("Notices", "Notices are given in writing to the addresses stated on the first page of the agreement."),
    ("Assignment", "Neither party may assign this agreement without the prior written consent of the other."),
]


def make_pdf(path: Path, pages: int = 2, scanned: bool = False, seed: str = "") -> Path:
    """A contract-like PDF; `scanned` pages are images only (no text layer), so they need OCR."""
    doc = pymupdf.open()
    for n in range(pages):
        title, body = SECTIONS[n % len(SECTIONS)]
        page = doc.new_page(width=595, height=842)
        page.insert_text((72, 90), f"{n + 1}. {title} {seed}".strip(), fontsize=18)
        y = 130.0
        for line in (
            body,
            f"Clause {n + 1} applies from the effective date.",
            f"See {title.lower()} for details.",
        ):
            page.insert_text((72, y), line, fontsize=11)
            y += 22
        if scanned:
            pix = page.get_pixmap(dpi=110)
            doc.delete_page(n)
            img_page = doc.new_page(pno=n, width=595, height=842)
            img_page.insert_image(img_page.rect, pixmap=pix)
    doc.save(path)
    doc.close()
    return path


PAGE_1 = [
    "SUPPLY AGREEMENT",
    "This Supply Agreement is made and entered into as of March 3, 2021, by and between",
    'Acme Widgets Inc., a Delaware corporation ("Seller"), and Beta Robotics LLC, a Texas',
    'limited liability company ("Buyer").',
    "1. Delivery. Seller shall deliver the goods within thirty (30) days of each purchase order.",
    "2. Price. Buyer shall pay the prices in Exhibit A within sixty (60) days of each invoice.",
]
PAGE_2 = [
    "3. Term. This Agreement shall continue in force until December 31, 2025, unless terminated earlier.",
    "4. Renewal. This Agreement shall automatically renew for successive one (1) year renewal terms.",
    "5. Confidentiality. Each party shall keep the other party's information confidential.",
    "6. Governing Law. This Agreement shall be governed by the laws of the State of New York.",
    "7. Assignment. Neither party may assign this Agreement without the prior written consent of the other.",
]


def contract_pdf(path: Path) -> Path:
    """A two-page supply agreement whose terms the contract review schema reads (tests of `extract`)."""
    doc = pymupdf.open()
    for lines in (PAGE_1, PAGE_2):
        page = doc.new_page()
        for i, line in enumerate(lines):
            page.insert_text((50, 80 + 24 * i), line, fontsize=9)
    doc.save(path)
    doc.close()
    return path


def print_size_pdf(path: Path, pages: list[tuple[float, bool]], scanned: bool = True) -> Path:
    """A page per `(font size in points, ruled table)`: body text filling an A4 page at that size,
    under a 12 x 5 grid of rules when `ruled table`; `scanned` keeps only an image of it (144 dpi)."""
    doc = pymupdf.open()
    for n, (fontsize, table) in enumerate(pages):
        page = doc.new_page(width=595, height=842)
        y, i = 60.0, 0
        while y < 842 - 60:
            body = SECTIONS[i % len(SECTIONS)][1]
            page.insert_text((50, y), body[: int(900 / fontsize)], fontsize=fontsize)
            y, i = y + fontsize * 1.5, i + 1
        if table:
            for r in range(12):
                page.draw_line((50, 100 + 40 * r), (545, 100 + 40 * r))
            for c in range(5):
                page.draw_line((50 + 123.75 * c, 100), (50 + 123.75 * c, 540))
        if scanned:
            pix = page.get_pixmap(dpi=144)
            doc.delete_page(n)
            doc.new_page(pno=n, width=595, height=842).insert_image(pymupdf.Rect(0, 0, 595, 842), pixmap=pix)
    doc.save(path)
    doc.close()
    return path
