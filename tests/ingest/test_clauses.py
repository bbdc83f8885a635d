"""Legal numbering: clause labels, numbered headings and run-in titles, on plain values and through the chunker."""

from __future__ import annotations

import pytest

from ingest.chunking import ChunkingConfig, chunk_document
from ingest.clauses import chip, label_block, parse_number, run_in_title, sub_clause
from ingest.layout import BBox, Block, PageLayout


@pytest.mark.parametrize(
    ("text", "label", "level"),
    [
        ("ARTICLE IV ACCOUNTS, COLLECTIONS AND APPLICATION OF FUNDS", "Article IV", 2),
        ("Article 7. Term", "Article 7", 2),
        ("Section 12 Governing Law", "12", 3),
        ("Section 3.13 Notices to Obligors.", "3.13", 4),
        ("§ 9.2(b) Audit Rights. Each party may", "9.2(b)", 5),
        ("12. GOVERNING LAW", "12", 3),
        ("12.3 Governing Law. This Agreement shall be governed by", "12.3", 4),
        ("12.3.1 Notices", "12.3.1", 5),
        ("第十二条 争议解决", "第十二条", 3),
        ("第三章 付款", "第三章", 2),
    ],
)
def test_legal_numbering_gives_label_and_depth(text: str, label: str, level: int) -> None:
    number = parse_number(text)
    assert number is not None
    assert (number.label, number.level) == (label, level)


@pytest.mark.parametrize(
    "text",
    [
        "12 months after the Effective Date",
        "2020 was a good year",
        "Section 2.1(d) of the Originator Receivables Transfer Agreement",  # a reference, not a clause
        "ARTICLE DEFINITIONS",
        "1,000,000 shares",
        "99. Something",  # past any contract's numbering
    ],
)
def test_numbers_that_are_not_clauses(text: str) -> None:
    assert parse_number(text) is None


def test_run_in_title_and_sub_clause() -> None:
    assert run_in_title("Governing Law. This Agreement shall be governed by Ohio law.") == "Governing Law"
    assert run_in_title("The Licensee shall pay the fee. Payment is due monthly.") is None
    assert sub_clause("(a) Transfer of Receivables. In consideration") == "(a)"
    assert sub_clause("(iii) Good Title.") == "(iii)"
    assert sub_clause("Transfer (a) of") is None
    assert run_in_title("租金支付 承租人应于每月五日前支付租金。") == "租金支付"
    assert run_in_title("承租人应于每月五日前，向出租人支付 租金。") is None  # a sentence, not a title


def test_short_numbered_text_becomes_a_heading_and_sentences_stay_text() -> None:
    box = BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.12)
    heading = label_block(Block(kind="text", markdown="1. TERM; TERMINATION", bbox=box))
    assert (heading.kind, heading.level, heading.clause) == ("heading", 3, "1")
    clause = label_block(
        Block(kind="text", markdown="1.2 Renewal. This Agreement renews for one year.", bbox=box)
    )
    assert (clause.kind, clause.clause) == ("text", "1.2")
    plain = label_block(Block(kind="text", markdown="The parties agree as follows:", bbox=box))
    assert plain.clause is None and plain.kind == "text"


def test_chip_reads_like_a_citation() -> None:
    assert chip("12.3", 15) == "§12.3 · p. 15"
    assert chip("Article IV", 3) == "Article IV · p. 3"
    assert chip(None, 2) == "p. 2"
    assert chip("第十二条", 3) == "第十二条 · p. 3"


def _page(blocks: list[Block]) -> PageLayout:
    for i, b in enumerate(blocks):
        b.order = i
    return PageLayout(page=4, width=612, height=792, image_size=(1224, 1584), engine="test", blocks=blocks)


def test_chunks_follow_clauses_and_carry_their_labels() -> None:
    def box(y: float) -> BBox:
        return BBox(x0=0.1, y0=y, x1=0.9, y1=y + 0.02)

    blocks = [
        Block(kind="text", markdown="ARTICLE XII MISCELLANEOUS", bbox=box(0.1)),
        Block(kind="text", markdown="12.1 Notices. Notices go to the addresses below.", bbox=box(0.2)),
        Block(
            kind="text", markdown="12.3 Governing Law. New York law governs this Agreement.", bbox=box(0.3)
        ),
        Block(kind="list", markdown="(a) Each party submits to the courts of New York.", bbox=box(0.4)),
    ]
    config = ChunkingConfig(target_tokens=16)  # small, so the sub-clause starts a chunk of its own
    chunks = chunk_document("d", "kb", "c.pdf", [_page(blocks)], config, lambda t: len(t.split()))
    by_clause = {c.clause: c for c in chunks}
    assert set(by_clause) >= {"12.1", "12.3", "12.3(a)"}
    law = by_clause["12.3"]
    assert law.heading_path == ["ARTICLE XII MISCELLANEOUS", "12.3 Governing Law"]
    assert "New York law governs" in law.markdown and "Notices go" not in law.markdown
    assert by_clause["12.3(a)"].heading_path == law.heading_path
