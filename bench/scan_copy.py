"""Scanned copies of PDF pages, reproducible (seeded): what a cheap office scanner gives. Light on
imports (OpenCV, PyMuPDF), so benches that only need scans run anywhere (bench/ocr_service_path.py on
the GPU host)."""

from __future__ import annotations

import cv2
import numpy as np
import pymupdf

from ingest.page import PageImage
from ingest.preprocess import encode_png, rotate

DPI = 200
TURN_DEG = 0.6
NOISE_SIGMA = 12
JPEG_QUALITY = 60


def scan_copy(page: pymupdf.Page, number: int, seed: int) -> PageImage:
    """The page as a cheap office scan would give it: grey, slightly turned, noisy, JPEG."""
    pix = page.get_pixmap(dpi=DPI, colorspace=pymupdf.csGRAY)
    img = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.width)
    img, _ = rotate(img, TURN_DEG)
    noise = np.random.default_rng(seed).normal(0, NOISE_SIGMA, img.shape)
    img = np.clip(img.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    jpeg = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]
    img = np.asarray(cv2.imdecode(jpeg, cv2.IMREAD_GRAYSCALE), dtype=np.uint8)
    size = (img.shape[1], img.shape[0])
    return PageImage(
        page=number,
        width=size[0],
        height=size[1],
        unit="px",
        image_png=encode_png(img),
        image_size=size,
        dpi=DPI,
    )
