"""`Services.ocr_file` reports each page as it finishes and needs no prepared data directory; the CLI's
progress bar counts the pages of every file it will OCR."""

from __future__ import annotations

from pathlib import Path

from api.cli import _count_pages
from api.services import Services
from ingest.pipeline import PageOutcome
from tests.support.documents import make_pdf
from tests.support.servers import test_settings


async def test_ocr_file_reports_every_page_and_creates_the_uploads_folder(tmp_path: Path) -> None:
    settings = test_settings(tmp_path / "fresh" / "data")
    pdf = make_pdf(tmp_path / "three.pdf", pages=3, seed="progress")
    seen: list[PageOutcome] = []
    services = Services(settings)  # not started: nothing has created data_dir or its uploads folder
    try:
        result = await services.ocr_file(pdf, on_page=seen.append)
    finally:
        await services.components.aclose()
    assert sorted(o.page for o in seen) == [1, 2, 3] == [p.page for p in result.pages]
    assert all(o.status == "done" and o.engine == "textlayer" for o in seen)
    assert list(settings.uploads_dir.iterdir()) == []  # the scratch folder is gone again


def test_cli_progress_total_counts_pages_and_skips_unreadable_files(tmp_path: Path) -> None:
    settings = test_settings(tmp_path / "data")
    files = [make_pdf(tmp_path / "a.pdf", pages=2), make_pdf(tmp_path / "b.pdf", pages=3)]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"not a pdf at all\n" * 10)
    assert _count_pages([*files, broken], settings) == 5
    assert _count_pages([broken], settings) is None  # an indeterminate bar, not a bar of 0
