"""What JPEG costs OCR: RapidOCR's character error rate against ground truth on real scans (Tesseract's
test pages, docling's scanned PDFs, SROIE receipts), each page sent as the lossless PNG render and as
JPEG at several qualities. The fake vLLM replays recorded text whatever the pixels, so a CPU engine's
reading stands in for the OCR server's.

    .venv/bin/python -m bench.ocr_image_format --sroie 8

Writes bench/results/ocr_image_format.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from bench.ocr_cpu_eval import cases, score
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine
from ingest.preprocess import decode_png, encode_image
from ingest.sources import open_source

RESULTS = Path(__file__).parent / "results" / "ocr_image_format.json"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sroie", type=int, default=8, help="receipts to include")
    parser.add_argument("--qualities", default="80,90,95")
    args = parser.parse_args(argv)
    import cv2

    engine = RapidOcrEngine(RapidOcrConfig())
    rows = []
    for case in cases(sroie=args.sroie):
        with open_source(case.path) as doc:
            page = doc.render_page(1)
        img = decode_png(page.image_png)
        variants = {"png": encode_image(img)}
        for q in (int(q) for q in args.qualities.split(",")):
            variants[f"jpeg{q}"] = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])[1].tobytes()
        row: dict[str, object] = {"page": case.path.name, "group": case.group}
        for name, data in variants.items():
            layout = engine.recognize_sync(page.model_copy(update={"image_png": data}))
            text = "\n".join(b.markdown for b in sorted(layout.blocks, key=lambda b: b.order))
            row[name] = round(score((text, text), case.truth, case.fold)["cer"], 4)
            row[f"{name}_bytes"] = len(data)
        rows.append(row)
        print(json.dumps(row), flush=True)
    names = [k for k in rows[0] if k not in ("page", "group") and not k.endswith("_bytes")]
    summary = {n: round(statistics.mean(float(r[n]) for r in rows), 4) for n in names}  # type: ignore[arg-type]
    result = {
        "bench": "ocr_image_format",
        "command": f"python -m bench.ocr_image_format --sroie {args.sroie} --qualities {args.qualities}",
        "pages": len(rows),
        "mean_cer": summary,
        "rows": rows,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
