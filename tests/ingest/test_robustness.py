"""Every file of the OCRmyPDF robustness corpus opens and renders page 1, or fails with a typed error, quickly."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingest.errors import DamagedFile, IngestError, UnsupportedFile
from ingest.sources import open_source

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "ocrmypdf-test-resources"
FILES = sorted(p.name for p in CORPUS.iterdir()) if CORPUS.is_dir() else ["<corpus absent>"]
BOUND_S = 30.0
EXPECTED_ERRORS: dict[str, type[IngestError]] = {"invalid.pdf": DamagedFile}
NOT_DOCUMENTS = {".md", ".toml", ".rst", ".txt"}


@pytest.mark.timeout(BOUND_S * 2)
@pytest.mark.parametrize("name", FILES)
def test_corpus_file_renders_page_one_or_fails_typed_within_bound(testdata: Path, name: str) -> None:
    path = testdata / "ocrmypdf-test-resources" / name
    started = time.monotonic()
    outcome: object
    try:
        with open_source(path) as doc:
            page = doc.render_page(1)
            outcome = (doc.page_count, page.image_size)
    except IngestError as exc:
        outcome = exc
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"{name} took {elapsed:.1f}s"

    if path.suffix in NOT_DOCUMENTS:
        assert isinstance(outcome, UnsupportedFile), outcome
    elif name in EXPECTED_ERRORS:
        assert isinstance(outcome, EXPECTED_ERRORS[name]), outcome
        assert "damaged or truncated" in outcome.message
    else:
        assert isinstance(outcome, tuple), f"{name}: {outcome!r}"
        pages, (w, h) = outcome
        assert pages >= 1 and w > 0 and h > 0
