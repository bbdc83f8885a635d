"""Prometheus metrics: pages per engine, OCR latency, queue depth, errors, OCR review and drift
(served at /metrics)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

from ingest.pipeline import PageOutcome

PAGES = Counter("opticite_pages_total", "Pages OCR'd, by engine and quality status", ["engine", "status"])
OCR_SECONDS = Histogram(
    "opticite_ocr_page_seconds",
    "Seconds to render and OCR one page",
    ["engine"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120),
)
QUEUE_DEPTH = Gauge("opticite_queue_depth", "Jobs waiting for a slot in this process")
JOBS_UNFINISHED = Gauge("opticite_jobs_unfinished", "Jobs queued or running (metadata DB)")
JOB_ERRORS = Counter("opticite_job_errors_total", "Jobs that ended failed or cancelled", ["state"])
HTTP_ERRORS = Counter("opticite_http_errors_total", "Error replies, by code", ["code"])
OUTPUT_TOKENS = Counter(
    "opticite_ocr_output_tokens_total",
    "Tokens generative OCR engines wrote, by engine and mode",
    ["engine", "mode"],
)
REVIEWS = Counter(
    "opticite_reviews_total",
    "OCR pages reviewed, by kb, engine, mode and verdict",
    ["kb", "engine", "mode", "verdict"],
)
EDIT_DISTANCE = Counter(
    "opticite_review_edit_distance_chars_total",
    "Characters changed by review corrections",
    ["kb", "engine", "mode"],
)
ACCEPT_RATE = Gauge(
    "opticite_review_accept_rate", "Share accepted unchanged over the kb's last reviews", ["kb"]
)
DRIFT_ALERT = Gauge(
    "opticite_drift_alert", "1 while the kb's accept rate is below the alert threshold", ["kb"]
)


def record_page(outcome: PageOutcome) -> None:
    PAGES.labels(engine=outcome.engine, status=outcome.quality.status).inc()
    OCR_SECONDS.labels(engine=outcome.engine).observe(outcome.seconds)
    if outcome.output_tokens:
        mode = outcome.mode.mode if outcome.mode else ""
        OUTPUT_TOKENS.labels(engine=outcome.engine, mode=mode).inc(outcome.output_tokens)


def render() -> tuple[bytes, str]:
    return generate_latest(), CONTENT_TYPE_LATEST
