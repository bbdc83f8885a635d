"""The chunker on hand-built layouts: headings, tables, regions, furniture, CJK sentences."""

from __future__ import annotations

from ingest.card import DocumentCard
from ingest.chunking import Chunk, ChunkingConfig, chunk_document, chunk_id, split_sentences
from ingest.layout import BBox, Block, Line, PageLayout


def words(text: str) -> int:
    """A stand-in tokenizer: words, and each CJK character as one token."""
    return sum(len(w) if any("\u4e00" <= c <= "\u9fff" for c in w) else 1 for w in text.split())


def box(y: float, h: float = 0.04) -> BBox:
    return BBox(x0=0.1, y0=y, x1=0.9, y1=y + h)


def page(n: int, blocks: list[Block]) -> PageLayout:
    for i, b in enumerate(blocks):
        b.order = i
    return PageLayout(page=n, width=612, height=792, image_size=(1224, 1584), engine="test", blocks=blocks)


NO_CARD = DocumentCard(
    title=None, parties=[], dates=[]
)  # these tests are about sections; tests/ingest/test_card.py


def chunk(layouts: list[PageLayout], **cfg: int) -> list[Chunk]:
    """Tiny sections stay apart unless a test asks for `min_tokens` (the fixtures are a few words)."""
    config = ChunkingConfig(**{"min_tokens": 0, **cfg})
    return chunk_document("doc1", "kb1", "f.pdf", layouts, config, words, card=NO_CARD)


def contract() -> list[PageLayout]:
    p1 = page(
        1,
        [
            Block(kind="header", markdown="ACME CONFIDENTIAL", bbox=box(0.01)),
            Block(kind="title", markdown="# Supply Agreement", bbox=box(0.05)),
            Block(kind="heading", level=2, markdown="## 1. Definitions", bbox=box(0.1)),
            Block(kind="text", markdown="Goods means the products listed in Schedule A.", bbox=box(0.15)),
            Block(kind="text", markdown="Term means the period in clause 9.", bbox=box(0.2)),
            Block(kind="heading", level=2, markdown="## 2. Payment", bbox=box(0.3)),
            Block(kind="text", markdown="The buyer pays within 30 days of invoice.", bbox=box(0.8)),
            Block(kind="page_number", markdown="1", bbox=box(0.95)),
        ],
    )
    p2 = page(
        2,
        [
            Block(kind="header", markdown="ACME CONFIDENTIAL", bbox=box(0.01)),
            Block(kind="text", markdown="Late payments bear interest at 2% per month.", bbox=box(0.1)),
            Block(kind="caption", markdown="Table 1: Prices", bbox=box(0.3)),
            Block(
                kind="table",
                markdown="| item | price |\n|---|---|\n| bolt | 1 |\n| nut | 2 |",
                bbox=box(0.35),
            ),
            Block(kind="footer", markdown="Page 2 of 2", bbox=box(0.95)),
        ],
    )
    return [p1, p2]


def test_sections_follow_the_heading_path() -> None:
    chunks = chunk(contract())
    paths = [c.heading_path for c in chunks]
    assert paths == [
        ["Supply Agreement", "1. Definitions"],
        ["Supply Agreement", "2. Payment"],
        ["Supply Agreement", "2. Payment"],
    ]
    assert "Goods means" in chunks[0].markdown and "Term means" in chunks[0].markdown
    assert chunks[0].embed_text().startswith("Supply Agreement > 1. Definitions\n")


def test_every_content_block_is_cited_exactly_once_and_furniture_never() -> None:
    layouts = contract()
    cited = [(r.page, r.bbox) for c in chunk(layouts) for r in c.regions]
    expected = [(lay.page, b.bbox) for lay in layouts for b in lay.content_blocks()]
    assert sorted(cited, key=str) == sorted(expected, key=str)
    text = " ".join(c.embed_text() for c in chunk(layouts))
    assert "CONFIDENTIAL" not in text and "Page 2 of 2" not in text


def test_section_crossing_a_page_break_has_regions_on_both_pages() -> None:
    payment = chunk(contract())[1]
    assert "30 days" in payment.markdown and "2% per month" in payment.markdown
    assert payment.pages == [1, 2]
    assert {r.page for r in payment.regions} == {1, 2}


def test_table_is_its_own_chunk_with_caption_and_heading_path() -> None:
    table = chunk(contract())[2]
    assert table.kind == "table"
    assert table.markdown.startswith("Table 1: Prices\n| item | price |")
    assert table.heading_path == ["Supply Agreement", "2. Payment"]
    assert [r.bbox for r in table.regions] == [box(0.3), box(0.35)]


def test_large_table_is_split_by_rows_with_the_header_repeated() -> None:
    rows = "\n".join(f"| item {i} | {i * 10} |" for i in range(25))
    table = Block(kind="table", markdown=f"| name | amount |\n|---|---|\n{rows}", bbox=box(0.2, 0.7))
    parts = chunk([page(1, [table])], table_max_rows=10)
    assert [c.kind for c in parts] == ["table"] * 3
    for part in parts:
        assert part.markdown.splitlines()[:2] == ["| name | amount |", "|---|---|"]
    body = [ln for p in parts for ln in p.markdown.splitlines()[2:]]
    assert body == rows.splitlines()


def test_short_text_above_a_table_titles_every_part_of_it_and_a_sentence_does_not() -> None:
    rows = "\n".join(f"| item {i} | {i * 10} |" for i in range(25))
    table = Block(kind="table", markdown=f"| (Millions) | 2022 |\n|---|---|\n{rows}", bbox=box(0.2, 0.7))
    title = Block(kind="text", markdown="CONSOLIDATED BALANCE SHEETS At December 31", bbox=box(0.15))
    parts = chunk([page(1, [title, table])], table_max_rows=10)
    assert [c.kind for c in parts] == ["table"] * 3
    for part in parts:
        assert part.markdown.splitlines()[:2] == [
            "CONSOLIDATED BALANCE SHEETS At December 31",
            "| (Millions) | 2022 |",
        ]
    sentence = Block(kind="text", markdown="The table below shows the amounts we owe.", bbox=box(0.15))
    first, second = chunk([page(1, [sentence, table])], table_max_rows=30)
    assert first.kind == "text" and second.markdown.startswith("| (Millions) | 2022 |")


def test_long_block_splits_at_sentences_and_keeps_its_line_boxes() -> None:
    sentences = [f"Sentence number {i} says something about the supplier." for i in range(12)]
    lines = [Line(text=s, bbox=box(0.1 + i * 0.05, 0.03)) for i, s in enumerate(sentences)]
    block = Block(kind="text", markdown=" ".join(sentences), bbox=box(0.1, 0.6), lines=lines)
    chunks = chunk([page(1, [block])], target_tokens=30, max_tokens=40)
    assert len(chunks) > 1
    assert all(c.tokens <= 40 for c in chunks)
    assert all(c.markdown.endswith(".") for c in chunks)
    cited = [r.bbox for c in chunks for r in c.regions]
    assert cited == [ln.bbox for ln in lines]  # each line cited once, in the chunk holding its sentence
    first = chunks[0]
    assert all(first.markdown.count(s) == 1 for s in sentences[: len(first.regions)])


def test_cjk_text_splits_at_chinese_sentence_marks() -> None:
    assert split_sentences(
        "本协议自签署之日起生效。任何一方可以提前三十天通知终止！是否续约？由双方协商"
    ) == [
        "本协议自签署之日起生效。",
        "任何一方可以提前三十天通知终止！",
        "是否续约？",
        "由双方协商",
    ]
    text = "本协议自签署之日起生效并持续有效。" * 12
    chunks = chunk(
        [page(1, [Block(kind="text", markdown=text, bbox=box(0.1))])], target_tokens=40, max_tokens=40
    )
    assert len(chunks) > 1 and all(c.markdown.endswith("。") for c in chunks)
    assert "".join(c.markdown.replace(" ", "") for c in chunks) == text


def test_english_split_keeps_clause_numbers_and_abbreviations() -> None:
    assert split_sentences("See Sec. 12.3 of the Agreement. Payment is $1,000.00 net.") == [
        "See Sec. 12.3 of the Agreement.",
        "Payment is $1,000.00 net.",
    ]


def test_no_chunk_passes_the_embedder_limit() -> None:
    config = ChunkingConfig(target_tokens=350, max_tokens=512).fitted(256)
    assert (config.target_tokens, config.max_tokens) == (256, 256)
    long = " ".join(["word"] * 1000)  # one sentence with no punctuation at all
    chunks = chunk_document(
        "d", "kb", "f", [page(1, [Block(kind="text", markdown=long, bbox=box(0.1))])], config, words
    )
    assert all(words(c.embed_text()) <= 256 for c in chunks)
    assert sum(c.markdown.count("word") for c in chunks) == 1000


def test_ids_are_deterministic_and_ordinal_based() -> None:
    first, second = chunk(contract()), chunk(contract())
    assert [c.id for c in first] == [c.id for c in second] == [chunk_id("doc1", i) for i in range(3)]
    assert all(c.kb == "kb1" and c.filename == "f.pdf" for c in first)


def test_regions_keep_the_text_they_cover_so_citations_can_narrow() -> None:
    lines = [
        Line(text="The buyer pays within 30 days.", bbox=box(0.1, 0.02)),
        Line(text="Interest is 2%.", bbox=box(0.13, 0.02)),
    ]
    with_lines = Block(
        kind="text",
        markdown="The buyer pays within 30 days. Interest is 2%.",
        bbox=box(0.1, 0.05),
        lines=lines,
    )
    without = Block(kind="text", markdown="Notices go to the registered office.", bbox=box(0.3))
    [only] = chunk([page(1, [with_lines, without])])
    assert [(r.text, r.bbox) for r in only.regions] == [
        ("The buyer pays within 30 days.", lines[0].bbox),
        ("Interest is 2%.", lines[1].bbox),
        ("Notices go to the registered office.", without.bbox),
    ]


def test_a_small_chunk_joins_the_next_section_keeping_its_heading_as_text() -> None:
    layouts = [
        page(
            1,
            [
                Block(kind="heading", level=1, markdown="# Exhibit 10.8", bbox=box(0.02)),
                Block(kind="text", markdown="EXECUTION COPY", bbox=box(0.05)),
                Block(kind="title", level=1, markdown="# Services Agreement", bbox=box(0.1)),
                Block(
                    kind="text", markdown="This Services Agreement is made by Acme and Beta.", bbox=box(0.15)
                ),
                Block(kind="heading", level=1, markdown="# 1. Term", bbox=box(0.3)),
                Block(kind="text", markdown=" ".join(["The term is one year."] * 8), bbox=box(0.35)),
            ],
        )
    ]
    chunks = chunk(layouts, min_tokens=12)
    assert [c.heading_path for c in chunks] == [["Services Agreement"], ["1. Term"]]
    assert (
        chunks[0].markdown
        == "Exhibit 10.8\n\nEXECUTION COPY\n\nThis Services Agreement is made by Acme and Beta."
    )
    assert [r.bbox for r in chunks[0].regions] == [box(0.02), box(0.05), box(0.1), box(0.15)]


def test_a_trailing_heading_alone_joins_the_previous_chunk() -> None:
    blocks = [
        Block(kind="heading", level=1, markdown="# 1. Term", bbox=box(0.1)),
        Block(kind="text", markdown="The term is one year from signing.", bbox=box(0.2)),
        Block(kind="heading", level=1, markdown="# Schedule A", bbox=box(0.9)),
    ]
    [only] = chunk([page(1, blocks)], min_tokens=4)
    assert only.heading_path == ["1. Term"]
    assert only.markdown == "The term is one year from signing.\n\nSchedule A"
    assert [r.bbox for r in only.regions] == [box(0.1), box(0.2), box(0.9)]
    assert len(chunk([page(1, blocks)], min_tokens=0)) == 2


def test_small_chunks_do_not_join_past_the_size_limit_or_into_a_table() -> None:
    table = Block(kind="table", markdown="| a | b |\n|---|---|\n| 1 | 2 |", bbox=box(0.5))
    blocks = [
        Block(kind="heading", level=1, markdown="# Prices", bbox=box(0.1)),
        Block(kind="text", markdown="See below.", bbox=box(0.2)),
        table,
        Block(kind="text", markdown="Net of tax.", bbox=box(0.6)),
        Block(kind="heading", level=1, markdown="# Notes", bbox=box(0.7)),
        Block(kind="text", markdown=" ".join(["word"] * 25), bbox=box(0.8)),
    ]
    chunks = chunk([page(1, blocks)], min_tokens=8, max_tokens=30, target_tokens=30)
    assert [c.markdown for c in chunks[:3]] == ["See below.", table.markdown, "Net of tax."]
    assert chunks[3].heading_path == ["Notes"] and all(c.tokens <= 30 for c in chunks)
    joined = chunk([page(1, blocks)], min_tokens=8, max_tokens=40, target_tokens=40)
    assert joined[2].markdown.startswith("Prices\n\nNet of tax.\n\nword word")


def test_by_default_only_a_heading_with_no_text_joins_another_chunk() -> None:
    blocks = [
        Block(kind="heading", level=1, markdown="# 1. Law", bbox=box(0.1)),
        Block(kind="text", markdown="Delaware law governs.", bbox=box(0.2)),
        Block(kind="heading", level=1, markdown="# 2. Notices", bbox=box(0.3)),
        Block(kind="text", markdown="Notices are in writing.", bbox=box(0.4)),
        Block(kind="heading", level=1, markdown="# Schedule A", bbox=box(0.9)),
    ]
    chunks = chunk_document("d", "kb", "f", [page(1, blocks)], ChunkingConfig(), words)
    assert [c.heading_path for c in chunks] == [["1. Law"], ["2. Notices"]]
    assert chunks[1].markdown == "Notices are in writing.\n\nSchedule A"


def test_a_section_running_header_titles_its_pages_tables_and_a_document_header_does_not() -> None:
    """A filing prints a statement's title atop its pages ("Consolidated Balance Sheets"), where
    furniture marking finds a running header; the company's header runs on every page."""

    def filing_page(n: int, section: str) -> PageLayout:
        table = Block(
            kind="table",
            markdown="| (Millions) | 2022 |\n|---|---|\n| Total assets | 46,455 |",
            bbox=box(0.2),
        )
        return page(
            n,
            [
                Block(kind="header", markdown=section, bbox=box(0.02, 0.02)),
                Block(kind="header", markdown="Acme Inc. 2022 Form 10-K", bbox=box(0.05, 0.02)),
                table,
            ],
        )

    layouts = [filing_page(1, "Consolidated Balance Sheets")] + [
        filing_page(n, f"Note {n}. Other matters") for n in range(2, 9)
    ]
    tables = chunk(layouts)
    assert tables[0].markdown.splitlines()[:2] == ["Consolidated Balance Sheets", "| (Millions) | 2022 |"]
    assert tables[0].regions[0].bbox == box(0.02, 0.02)  # the title is cited where it is printed
    assert all("Form 10-K" not in t.markdown for t in tables)
    assert tables[3].markdown.startswith("Note 4. Other matters\n")


def test_a_units_line_set_as_a_heading_qualifies_the_statement_title_and_never_replaces_it() -> None:
    statement = page(
        54,
        [
            Block(
                kind="heading",
                level=4,
                markdown="ADOBE INC. CONSOLIDATED STATEMENTS OF INCOME",
                bbox=box(0.05),
            ),
            Block(kind="heading", level=4, markdown="(In millions, except per share data)", bbox=box(0.1)),
            Block(
                kind="table",
                markdown="| | 2022 | 2021 |\n|---|---|---|\n| Total revenue | 17,606 | 15,785 |",
                bbox=box(0.2, 0.3),
            ),
        ],
    )
    [table] = [c for c in chunk([statement]) if c.kind == "table"]
    assert table.heading_path == ["ADOBE INC. CONSOLIDATED STATEMENTS OF INCOME"]
    assert box(0.1) in [r.bbox for r in table.regions]  # the units line is still cited with the table
