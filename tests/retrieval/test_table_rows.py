"""Answers from statement tables quote the row with its label and column headers, cited on the row's box."""

from __future__ import annotations

from ingest.layout import BBox, Region
from retrieval.answer import AnswerConfig, ExtractiveAnswerer
from retrieval.hits import SearchHit
from retrieval.table_rows import header_of, is_header_row, row_statement

TABLE = "\n".join(
    [
        "Consolidated Statement of Income",
        "| (Millions) | 2022 | 2021 |",
        "|---|---|---|",
        "| Net sales | $34,229 | $35,355 |",
        "| Cost of sales | 19,232 | 18,795 |",
        "| Effective tax rate | 21.6% | 24.6% |",
    ]
)


def test_row_reads_with_its_column_headers() -> None:
    assert header_of(TABLE) == ["(Millions)", "2022", "2021"]
    assert (
        row_statement("| Effective tax rate | 21.6% | 24.6% |", TABLE)
        == "Effective tax rate — 2022: 21.6%; 2021: 24.6%"
    )
    assert row_statement("| (Millions) | 2022 | 2021 |", TABLE) is None  # the header itself states nothing
    assert row_statement("Net sales rose 3%.", TABLE) is None


async def test_extractive_answer_quotes_the_row_and_cites_its_box() -> None:
    rows = TABLE.splitlines()[1:]
    boxes = [BBox(x0=0.05, y0=0.2 + 0.02 * i, x1=0.95, y1=0.215 + 0.02 * i) for i in range(len(rows))]
    regions = [
        Region(page=48, bbox=box, text=row.strip("| "))
        for row, box in zip(rows, boxes, strict=True)
        if not row.startswith("|---")
    ]
    hit = SearchHit(
        chunk_id="c", doc_id="d", kb="k", filename="10k.pdf", score=1.0, kind="table", markdown=TABLE,
        regions=regions, pages=[48],
    )  # fmt: skip
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(
        "What was the effective tax rate in 2022?", [hit]
    )
    assert not answer.refused
    assert answer.answer.startswith("Effective tax rate — 2022: 21.6%; 2021: 24.6%")
    [citation] = answer.citations
    [cited] = citation.regions
    assert (cited.page, cited.bbox.y0) == (48, regions[-1].bbox.y0)  # the row, not the table


async def test_a_header_row_never_answers_by_itself() -> None:
    assert is_header_row("| (Millions) | 2022 | 2021 |", TABLE)
    assert not is_header_row("| Net sales | $34,229 | $35,355 |", TABLE)
    hit = SearchHit(
        chunk_id="c", doc_id="d", kb="k", filename="10k.pdf", score=1.0, kind="table", markdown=TABLE,
        regions=[], pages=[48],
    )  # fmt: skip
    # the years are all the question shares with the table: the header row alone matched it
    answer = await ExtractiveAnswerer(AnswerConfig()).answer(
        "How did the company do in 2022 and 2021?", [hit]
    )
    assert "(Millions) 2022 2021" not in answer.answer


async def test_a_row_is_matched_with_its_column_headers() -> None:
    # the raw row "Net sales $34,229 $35,355" holds no year; read under its headers it holds 2022
    prose = SearchHit(
        chunk_id="p", doc_id="d", kb="k", filename="10k.pdf", score=1.0, kind="text", pages=[30],
        markdown="Net sales are reported net of returns and allowances, as described in the notes.",
    )  # fmt: skip
    table = SearchHit(
        chunk_id="t", doc_id="d", kb="k", filename="10k.pdf", score=0.9, kind="table", markdown=TABLE,
        pages=[48],
    )  # fmt: skip
    answer = await ExtractiveAnswerer(AnswerConfig(max_sentences=1)).answer(
        "What were net sales in 2022?", [prose, table]
    )
    assert answer.answer.startswith("Net sales — 2022: $34,229; 2021: $35,355")
