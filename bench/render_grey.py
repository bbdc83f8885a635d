"""Rendering a page for the OCR server in one channel where it draws only in grey, against the RGB render
it replaced: the same JPEG bytes? and CPU-ms per page (render + encode), by whether the page went grey.

    .venv/bin/python -m bench.render_grey

Pages: the first three of every PDF in ../shared/testdata and the four scans of bench.ocr_service_path
(200 dpi grey, turned, noisy). Each render opens the PDF anew, as the render pool does, so that neither
variant finds the other's decoded images in MuPDF's store; the two alternate in order page by page.
Writes bench/results/render_grey.json.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pymupdf
from PIL import Image

from bench.ocr_service_path import scanned_pdf
from ingest.render_pool import ImageFormat, draws_in_grey, encode_pixmap, render_pixmap

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"
RESULTS = Path(__file__).parent / "results" / "render_grey.json"


def rgb_then_encode(path: Path, page: int, dpi: int, fmt: ImageFormat) -> bytes:
    """What the pool did before: an RGB render, sent grey only where every pixel's channels agree."""
    with pymupdf.open(path, filetype="pdf") as doc:
        return encode_pixmap(doc.load_page(page - 1).get_pixmap(dpi=dpi, alpha=False), fmt)


def grey_when_grey(path: Path, page: int, dpi: int, fmt: ImageFormat) -> bytes:
    with pymupdf.open(path, filetype="pdf") as doc:
        return encode_pixmap(render_pixmap(doc.load_page(page - 1), dpi), fmt)


def cpu_ms(render: Callable[[Path, int, int, ImageFormat], bytes], *args: Any) -> tuple[float, bytes]:
    start = time.process_time()
    data = render(*args)
    return 1000 * (time.process_time() - start), data


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dpi", type=int, default=144)
    parser.add_argument("--format", default="jpeg", choices=["jpeg", "png"])
    parser.add_argument("--pages-per-pdf", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        pdfs = sorted(TESTDATA.rglob("*.pdf")) + [scanned_pdf(Path(tmp) / "bench_scans.pdf", 4)]
        rows: list[dict[str, Any]] = []
        for pdf in pdfs:
            try:
                with pymupdf.open(pdf) as doc:
                    count = min(doc.page_count, args.pages_per_pdf)
            except Exception:  # the deliberately broken files of the test data
                continue
            for page in range(1, count + 1):
                variants = [("rgb", rgb_then_encode), ("grey_when_grey", grey_when_grey)]
                timed: dict[str, tuple[float, bytes]] = {}
                for name, render in variants if page % 2 else variants[::-1]:
                    try:
                        timed[name] = cpu_ms(render, pdf, page, args.dpi, args.format)
                    except Exception:
                        break
                if len(timed) < 2:
                    continue
                (old_ms, old), (new_ms, new) = timed["rgb"], timed["grey_when_grey"]
                rows.append(
                    {
                        "pdf": str(pdf.relative_to(TESTDATA)) if pdf.is_relative_to(TESTDATA) else pdf.name,
                        "page": page,
                        "rendered_grey": _rendered_grey(pdf, page),
                        "sent_grey": Image.open(io.BytesIO(new)).mode == "L",
                        "same_bytes": old == new,
                        "bytes": [len(old), len(new)],
                        "cpu_ms": [round(old_ms, 1), round(new_ms, 1)],
                    }
                )
    result = {
        "bench": "render_grey",
        "command": f"python -m bench.render_grey --dpi {args.dpi} --format {args.format}",
        "machine": {"python": platform.python_version(), "pymupdf": pymupdf.VersionBind},
        "pages": len(rows),
        "same_bytes": sum(1 for r in rows if r["same_bytes"]),
        "different": [r for r in rows if not r["same_bytes"]],
        "summary": {
            kind: _mean_cpu([r for r in rows if r["rendered_grey"] == grey]) for kind, grey in GROUPS
        },
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: result[k] for k in ("pages", "same_bytes", "summary")}, indent=2))
    print(f"wrote {args.out}")


GROUPS = (("rendered grey", True), ("rendered in RGB (as before)", False))


def _mean_cpu(rows: list[dict[str, Any]]) -> dict[str, Any]:
    if not rows:
        return {"pages": 0}
    old = sum(r["cpu_ms"][0] for r in rows) / len(rows)
    new = sum(r["cpu_ms"][1] for r in rows) / len(rows)
    return {"pages": len(rows), "rgb_cpu_ms": round(old, 1), "grey_when_grey_cpu_ms": round(new, 1)}


def _rendered_grey(path: Path, page: int) -> bool:
    with pymupdf.open(path, filetype="pdf") as doc:
        return draws_in_grey(doc.load_page(page - 1).get_displaylist())


if __name__ == "__main__":
    main()
