"""api.page_cache: page images rendered on demand from the original, kept within a byte bound."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from api.page_cache import PageImageCache
from ingest.pipeline import DocumentFiles
from ingest.sources import SourceConfig, open_source
from tests.support.documents import make_pdf


def test_pages_render_on_demand_and_the_least_recently_used_go_past_the_bound(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "a.pdf", pages=3)
    with open_source(pdf) as doc:
        expected = {n: doc.render_page(n).image_png for n in (1, 2, 3)}
    files = DocumentFiles(tmp_path / "docs" / "d1")
    files.root.mkdir(parents=True)
    shutil.copyfile(pdf, files.root / "original.pdf")
    two_pages = sorted(len(png) for png in expected.values())[-1] * 2 + 1
    cache = PageImageCache(tmp_path / "docs", SourceConfig(), max_bytes=two_pages)

    for n in (1, 2, 1, 3):  # page 1 used again after 2: page 2 is the least recently used
        assert cache.png(files, n) == expected[n]
        time.sleep(0.05)  # distinct file times on coarse clocks
    assert [n for n in (1, 2, 3) if files.page_image(n).is_file()] == [1, 3]
    assert cache.png(files, 2) == expected[2]  # evicted pages render again


def test_a_document_without_its_original_has_no_page_image(tmp_path: Path) -> None:
    files = DocumentFiles(tmp_path / "docs" / "gone")
    files.root.mkdir(parents=True)
    assert PageImageCache(tmp_path / "docs", SourceConfig(), max_bytes=10**9).png(files, 1) is None
