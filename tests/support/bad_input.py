"""Bad input: generated files (small scans, a PNG decompression bomb, a PDF with thousands of pages),
sent through the HTTP API and judged by their outcome (a 4xx with a code, or a job that ends saying why).

Shared by tests/reliability/ and bench/reliability_inputs.py."""

from __future__ import annotations

import struct
import time
import zlib
from pathlib import Path
from typing import Any

import httpx
import pymupdf

from tests.support.servers import read_sse


def small_scan(path: Path, pages: int = 1, seed: str = "") -> Path:
    """Image-only pages the size of a postcard: OCR is needed, and the CPU fallback stays quick."""
    text = pymupdf.open()
    for n in range(pages):
        page = text.new_page(width=300, height=160)
        page.insert_text((20, 50), f"Invoice {n + 1} {seed}".strip(), fontsize=14)
        page.insert_text((20, 90), "Payment is due within thirty days.", fontsize=11)
    scan = pymupdf.open()
    for n in range(text.page_count):
        pix = text[n].get_pixmap(dpi=110)
        scan.new_page(width=300, height=160).insert_image(pymupdf.Rect(0, 0, 300, 160), pixmap=pix)
    scan.save(path)
    return path


def png_bomb(path: Path, side: int = 60_000) -> Path:
    """A small PNG declaring side x side 1-bit pixels (3.6 G pixels for the default) of zeros.

    `side` is a multiple of 1000."""
    rows = b"\x00" * (1 + side // 8) * 1000
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(rows) for _ in range(side // 1000)) + packer.flush()

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return (
            struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
        )

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def huge_pdf(path: Path, pages: int = 10_000) -> Path:
    """A valid PDF of `pages` empty pages, written directly (PyMuPDF's new_page loop takes ~20 s)."""
    kids = " ".join(f"{n} 0 R" for n in range(3, pages + 3))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Count {pages} /Kids [{kids}] >>".encode(),
    ]
    objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))
    return path


REPLY_S = 30  # an upload is answered (accepted or refused) within this on a loaded 2-core machine
JOB_S = 120  # a job ends within this
TERMINAL = {"done", "partial", "failed"}


def send(
    client: httpx.Client,
    path: Path,
    name: str | None = None,
    content_type: str = "application/pdf",
    data: bytes | None = None,
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    body = data if data is not None else path.read_bytes()
    reply = client.post(
        "/v1/documents", files={"file": (name or path.name, body, content_type)}, timeout=REPLY_S
    )
    return reply, time.monotonic() - started


def outcome(client: httpx.Client, reply: httpx.Response) -> dict[str, Any]:
    """`{"status": 4xx, "code"}` for a refusal, else the finished document's status and error."""
    body = reply.json()
    if reply.status_code >= 400:
        assert 400 <= reply.status_code < 500, body
        assert body["error"]["code"] and body["error"]["message"], body
        return {"status": reply.status_code, "code": body["error"]["code"]}
    assert reply.status_code == 202, body
    read_sse(client, f"/v1/jobs/{body['job_id']}/events", timeout_s=JOB_S)
    doc = client.get(f"/v1/documents/{body['document_id']}").json()
    assert doc["status"] in TERMINAL, doc
    if doc["status"] != "done":
        assert doc["error"], doc  # a failed or partial document says why
    return {"status": doc["status"], "pages": doc["pages"], "chunks": doc["chunks"], "id": doc["id"]}
