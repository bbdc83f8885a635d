"""Fuzzing, bounded in time: the grounding parser and the file sources give clean results or typed errors.

Hypothesis drives both with generated input (mutated real outputs and files); any exception other than
an `IngestError` fails the test. The example count is small so the suite stays fast; raise it with
`OPTICITE_FUZZ_EXAMPLES=5000` for a longer run.
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path

import pymupdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ingest.errors import IngestError
from ingest.ocr.grounding import parse_grounding
from ingest.sources import SourceConfig, open_source

EXAMPLES = int(os.environ.get("OPTICITE_FUZZ_EXAMPLES", "150"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])

GROUNDING_PIECES = [
    "<|ref|>",
    "<|/ref|>",
    "<|det|>",
    "<|/det|>",
    "[[",
    "]]",
    ", ",
    "[",
    "]",
    "text",
    "table",
    "title",
    "sub_title",
    "image",
    "table_caption",
    "<table><tr><td>",
    "</td></tr></table>",
    "<center>",
    "</center>",
    "<｜end▁of▁sentence｜>",
    "\n",
    "# ",
    "## ",
    "\\(x^2\\)",
    "999",
    "0",
    "-5",
    "1200",
    "12.5",
    "合同",
    "条款",
]


def _real_outputs() -> list[str]:
    folder = (
        Path(__file__).resolve().parents[2].parent / "shared/testdata/docling-testdata/md_deepseek/sources"
    )
    return [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.md"))] if folder.is_dir() else []


REAL = _real_outputs()


def _check_blocks(raw: str) -> None:
    """The parser never raises and numbers the blocks it keeps in reading order. Boxes need no check
    here: BBox orders and clamps its corners whenever one is built, whatever the parser passes it."""
    result = parse_grounding(raw)
    assert [block.order for block in result.blocks] == list(range(len(result.blocks)))


@FUZZ
@given(st.lists(st.sampled_from(GROUNDING_PIECES) | st.text(max_size=12), max_size=60).map("".join))
def test_grounding_parser_never_crashes_on_token_soup(raw: str) -> None:
    _check_blocks(raw)


@pytest.mark.skipif(not REAL, reason="shared test data (md_deepseek sources) not found")
@FUZZ
@given(st.data())
def test_grounding_parser_survives_cut_and_spliced_real_outputs(data: st.DataObject) -> None:
    raw = data.draw(st.sampled_from(REAL))
    start = data.draw(st.integers(0, len(raw)))
    end = data.draw(st.integers(start, len(raw)))
    insert = data.draw(st.sampled_from(GROUNDING_PIECES))
    _check_blocks(raw[:start] + insert + raw[end:])


@functools.cache
def _sample_files() -> tuple[bytes, ...]:
    """Built once: PDF bytes carry a timestamp, and hypothesis needs the same input on replay."""
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "Fuzz me: governing law is Delaware.")
    pdf = doc.tobytes()
    doc.close()
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), "white").save(buf, format="PNG")
    return (pdf, buf.getvalue())


@FUZZ
@given(data=st.data())
def test_sources_open_mutated_files_cleanly(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    tmp = tmp_path_factory.mktemp("fuzz")
    original = data.draw(st.sampled_from(_sample_files()))
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        if not mutated:
            break
        i = data.draw(st.integers(0, len(mutated) - 1))
        mutated[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(mutated)))
    path = tmp / ("upload.pdf" if original.startswith(b"%PDF") else "upload.png")
    path.write_bytes(bytes(mutated[:cut]))
    try:
        with open_source(path, SourceConfig(max_pages=50, max_pixels=20_000_000)) as doc:
            for n in range(1, min(doc.page_count, 2) + 1):
                try:
                    page = doc.render_page(n)
                except IngestError:
                    continue
                assert page.image_size[0] > 0 and page.image_size[1] > 0
    except IngestError as exc:
        assert exc.code and exc.message  # a typed, explained failure is a clean outcome
