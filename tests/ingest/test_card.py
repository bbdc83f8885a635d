"""The document card: title, parties and dates read from the first pages, each cited to a tight box."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pymupdf
import pytest

from ingest.card import CardField, DocumentCard, find_date, parse_date, read_card
from ingest.layout import BBox, Block, Line, PageLayout, Region
from ingest.ocr.reading_order import mark_furniture
from ingest.ocr.textlayer import TextLayerEngine
from ingest.page import PageImage

CUAD = Path(__file__).resolve().parents[3] / "shared" / "testdata" / "cuad-dev"
CHAR_W = 0.0075  # page width per character of the hand-made lines


def _line(text: str, y: float, x0: float = 0.08, words: bool = True) -> Line:
    """A line whose characters are CHAR_W wide; word extents given unless `words` is False."""
    words_x = [(x0 + m.start() * CHAR_W, x0 + m.end() * CHAR_W) for m in re.finditer(r"\S+", text)]
    box = BBox(x0=x0, y0=y, x1=x0 + len(text) * CHAR_W, y1=y + 0.012)
    return Line(text=text, bbox=box, words_x=words_x if words else None)


def _block(kind: str, lines: list[Line], order: int) -> Block:
    markdown = " ".join(line.text for line in lines)
    return Block.model_validate(
        {
            "kind": kind,
            "markdown": markdown,
            "bbox": BBox.union(ln.bbox for ln in lines),
            "order": order,
            "lines": lines,
        }
    )


def _page(blocks: list[Block], page: int = 1) -> PageLayout:
    return PageLayout(page=page, width=612, height=792, image_size=(1224, 1584), engine="test", blocks=blocks)


def _stacked(texts: list[str], kind: str = "text", page: int = 1, y: float = 0.1) -> PageLayout:
    """One block per text, each a single line, top to bottom (a cover page)."""
    return _page([_block(kind, [_line(t, y + 0.02 * i)], i) for i, t in enumerate(texts)], page)


def _within(region: Region, line: Line) -> bool:
    return line.bbox.contains(region.bbox, tol=1e-9)


def _narrower(region: Region, line: Line) -> bool:
    return region.bbox.x1 - region.bbox.x0 < line.bbox.x1 - line.bbox.x0 - 1e-9


PREAMBLE = [
    "This TRANSITION SERVICES AGREEMENT (this “Agreement”) is entered into as of January 18, 2020",
    "by and between Reynolds Group Holdings Inc., a Delaware corporation (“RGHI”), and Reynolds",
    "Consumer Products Inc., a Delaware corporation (the “Company” or “RCP”). Each Party shall be a “Provider.”",
]


def _reynolds() -> tuple[PageLayout, list[Line], Line]:
    title = _line("TRANSITION SERVICES AGREEMENT", 0.08, x0=0.38)
    lines = [_line(t, 0.12 + 0.015 * i) for i, t in enumerate(PREAMBLE)]
    recital = _line(
        "WHEREAS, Acme Widgets Inc. (“Acme”) made certain services available on March 3, 2019.", 0.2
    )
    blocks = [
        _block("heading", [_line("Exhibit 10.22", 0.03, x0=0.8)], 0),
        _block("heading", [title], 1),
        _block("text", lines, 2),
        _block("text", [recital], 3),
        _block("footer", [_line("Source: RCP, S-1/A, 1/21/2020", 0.95)], 4),
    ]
    return _page(blocks), lines, title


def test_preamble_gives_title_parties_and_dates() -> None:
    layout, lines, title_line = _reynolds()
    card = read_card([layout])

    assert card.title is not None
    assert card.title.value == "TRANSITION SERVICES AGREEMENT"
    assert [r.bbox for r in card.title.regions] == [title_line.bbox]
    assert [(p.value, p.role) for p in card.parties] == [
        ("Reynolds Group Holdings Inc.", "RGHI"),
        ("Reynolds Consumer Products Inc.", "RCP"),
    ]
    assert [(d.value, d.role) for d in card.dates] == [("January 18, 2020", "agreement")]

    first, second = card.parties
    assert (
        len(first.regions) == 1
        and _within(first.regions[0], lines[1])
        and _narrower(first.regions[0], lines[1])
    )
    start = lines[1].text.index("Reynolds")
    assert first.regions[0].bbox.x0 == pytest.approx(lines[1].bbox.x0 + start * CHAR_W)
    date = card.dates[0].regions[0]
    assert _within(date, lines[0]) and _narrower(date, lines[0])
    assert date.bbox.x1 == pytest.approx(lines[0].bbox.x1)  # the date ends the line


def test_a_value_over_two_lines_gets_a_region_on_each_line() -> None:
    layout, lines, _ = _reynolds()
    second = read_card([layout]).parties[1]
    assert [r.text for r in second.regions] == ["Reynolds", "Consumer Products Inc."]
    for region, line in zip(second.regions, lines[1:], strict=True):
        assert _within(region, line) and _narrower(region, line)
    assert second.regions[0].bbox.x1 == pytest.approx(lines[1].bbox.x1)
    assert second.regions[1].bbox.x0 == pytest.approx(lines[2].bbox.x0)


def test_card_text_and_regions_for_search_and_citation() -> None:
    layout, _, _ = _reynolds()
    card = read_card([layout])
    assert card.text() == (
        "Title: this document is the Transition Services Agreement. Parties: it is made between Reynolds "
        "Group Holdings Inc. (RGHI) and Reynolds Consumer Products Inc. (RCP). Date: it is dated January 18, 2020."
    )
    # one statement per field, each with only its own field's boxes: a cited date lights up the date
    statements = card.statements()
    assert [len(regions) for _, regions in statements] == [1, 3, 1]
    assert statements[2][1] == card.dates[0].regions
    assert card.name() == (
        "Transition Services Agreement (Reynolds Group Holdings Inc.; Reynolds Consumer Products Inc.)"
    )
    boxes = [(r.page, r.bbox) for r in card.regions()]
    assert len(boxes) == len(set(boxes)) == 5  # title, one + two party boxes, date
    assert DocumentCard.model_validate_json(card.model_dump_json()) == card


def test_effective_date_and_title_from_the_preamble_when_no_heading() -> None:
    lines = [
        _line(
            "This Trademark License Agreement (the “Agreement”) is made effective as of the 5th day of March,",
            0.1,
        ),
        _line(
            "2019 (the “Effective Date”) between Morgan Stanley Investment Management Inc. (“Licensor”),",
            0.115,
        ),
        _line("and ArTara, Inc., with offices at 1 Little West Street, New York (“Licensee”).", 0.13),
    ]
    card = read_card([_page([_block("text", lines, 0)])])
    assert card.title is not None and card.title.value == "Trademark License Agreement"
    assert _within(card.title.regions[0], lines[0]) and _narrower(card.title.regions[0], lines[0])
    assert [(p.value, p.role) for p in card.parties] == [
        ("Morgan Stanley Investment Management Inc.", "Licensor"),
        ("ArTara, Inc.", "Licensee"),
    ]
    assert [(d.value, d.role) for d in card.dates] == [("5th day of March, 2019", "effective")]
    assert len(card.dates[0].regions) == 2
    assert parse_date(card.dates[0].value) == dt.date(2019, 3, 5)
    assert card.text().endswith("Effective date: it takes effect on 5th day of March, 2019.")


def test_cover_page_lists_parties_line_by_line() -> None:
    cover = _stacked(
        [
            "Exhibit 10.4",
            "FORM OF TRANSFER AND SERVICING AGREEMENT",
            "among",
            "VERIZON OWNER TRUST 2020-A,",
            "as Issuer,",
            "VERIZON ABS LLC,",
            "as Depositor",
            "and",
            "CELLCO PARTNERSHIP d/b/a VERIZON WIRELESS,",
            "as Servicer, Marketing Agent and Custodian",
            "Dated as of January 29, 2020",
        ]
    )
    body = _stacked(["TABLE OF CONTENTS", "Section 1.1 Payments made to Foo Holdings LLC (“Foo”)"], page=2)
    card = read_card([body, cover])  # pages in any order

    assert card.title is not None and card.title.value == "TRANSFER AND SERVICING AGREEMENT"
    assert [(p.value, p.role) for p in card.parties] == [
        ("VERIZON OWNER TRUST 2020-A", "Issuer"),
        ("VERIZON ABS LLC", "Depositor"),
        ("CELLCO PARTNERSHIP d/b/a VERIZON WIRELESS", "Servicer, Marketing Agent and Custodian"),
    ]
    assert [(d.value, d.role) for d in card.dates] == [("January 29, 2020", "agreement")]
    abs_line = cover.blocks[5].lines[0]
    (region,) = card.parties[1].regions
    assert _within(region, abs_line) and _narrower(region, abs_line)  # the comma is left out
    title_line = cover.blocks[1].lines[0]
    assert card.title.regions[0].bbox.x0 > title_line.bbox.x0  # "FORM OF" is left out


def test_title_is_the_agreement_line_not_a_disclaimer_or_exhibit_number() -> None:
    blocks = [
        _block("heading", [_line("Exhibit 10.8", 0.03, x0=0.8)], 0),
        _block("text", [_line("EXECUTION COPY", 0.05, x0=0.8)], 1),
        _block(
            "heading",
            [_line("BEEN REDACTED.", 0.08, x0=0.4), _line("AMENDED AND RESTATED", 0.095, x0=0.36)],
            2,
        ),
        _block("heading", [_line("LICENSE AGREEMENT", 0.11, x0=0.38)], 3),
        _block(
            "text", [_line("This Agreement is made on 2020-01-18 between Acme GmbH and Beta AG.", 0.14)], 4
        ),
    ]
    card = read_card([_page(blocks)])
    assert card.title is not None and card.title.value == "LICENSE AGREEMENT"
    assert [p.value for p in card.parties] == ["Acme GmbH", "Beta AG"]
    assert [d.value for d in card.dates] == ["2020-01-18"]


def test_title_over_two_lines_of_one_block_joins_them() -> None:
    lines = [_line("AMENDED AND RESTATED", 0.08, x0=0.36), _line("LICENSE AGREEMENT", 0.095, x0=0.38)]
    card = read_card([_page([_block("title", lines, 0)])])
    assert card.title is not None and card.title.value == "AMENDED AND RESTATED LICENSE AGREEMENT"
    assert [r.bbox for r in card.title.regions] == [ln.bbox for ln in lines]


def test_lines_without_word_extents_estimate_by_characters() -> None:
    lines = [
        _line(
            "This Outsourcing Agreement is made and entered into by and between Photronics DNP Photomask",
            0.1,
            words=False,
        ),
        _line("Corporation (“PDMC”) and Dai Nippon Printing Co., Ltd. (“DNP”).", 0.115, words=False),
    ]
    card = read_card([_page([_block("text", lines, 0)])])
    assert [(p.value, p.role) for p in card.parties] == [
        ("Photronics DNP Photomask Corporation", "PDMC"),
        ("Dai Nippon Printing Co., Ltd.", "DNP"),
    ]
    first, second = card.parties[0].regions
    start = lines[0].text.index("Photronics")
    assert first.bbox.x0 == pytest.approx(lines[0].bbox.x0 + start * CHAR_W)
    assert first.bbox.x1 == pytest.approx(lines[0].bbox.x1)
    assert second.bbox.x0 == pytest.approx(lines[1].bbox.x0)
    assert second.bbox.x1 == pytest.approx(lines[1].bbox.x0 + len("Corporation") * CHAR_W)


def test_blocks_without_lines_are_read_from_markdown() -> None:
    box = BBox(x0=0.1, y0=0.1, x1=0.9, y1=0.13)
    blocks = [
        Block(
            kind="heading",
            markdown="## SUPPLY AGREEMENT",
            bbox=BBox(x0=0.4, y0=0.05, x1=0.6, y1=0.07),
            order=0,
        ),
        Block(
            kind="text",
            markdown="This Agreement is dated May 1, 2021 between Acme Corp. and Beta LLC.",
            bbox=box,
            order=1,
        ),
    ]
    card = read_card([_page(blocks)])
    assert card.title is not None and card.title.value == "SUPPLY AGREEMENT"
    assert [p.value for p in card.parties] == ["Acme Corp.", "Beta LLC"]
    assert [d.value for d in card.dates] == ["May 1, 2021"]
    assert all(box.contains(r.bbox) for p in card.parties for r in p.regions)


def test_chinese_contract_reads_labelled_lines() -> None:
    layout = _stacked(
        [
            "房屋租赁合同",
            "合同编号：HT-2020-001",
            "甲方：上海明远科技有限公司",
            "乙方（承租方）：北京华信物业管理有限公司",
            "签订日期：2020年1月18日",
            "第一条 甲方同意将房屋出租给乙方使用。",
            "甲方（盖章）：",
        ]
    )
    card = read_card([layout])
    assert card.title is not None and card.title.value == "房屋租赁合同"
    assert [(p.value, p.role) for p in card.parties] == [
        ("上海明远科技有限公司", "甲方"),
        ("北京华信物业管理有限公司", "乙方"),
    ]
    assert [(d.value, d.role) for d in card.dates] == [("2020年1月18日", "agreement")]
    assert parse_date(card.dates[0].value) == dt.date(2020, 1, 18)
    party_line = layout.blocks[2].lines[0]
    (region,) = card.parties[0].regions
    assert _within(region, party_line) and _narrower(region, party_line)
    assert region.bbox.x0 == pytest.approx(party_line.bbox.x0 + 3 * CHAR_W)


def test_english_style_parties_listed_after_the_dated_sentence() -> None:
    layout = _stacked(
        [
            "SUPPLY AGREEMENT",
            "THIS AGREEMENT is dated 1 May 2020",
            "PARTIES",
            "(1) ACME LIMITED incorporated in England with company number 123 (Supplier); and",
            "(2) BETA LTD incorporated in England with company number 456 (Customer).",
            "AGREED TERMS",
        ]
    )
    card = read_card([layout])
    assert card.title is not None and card.title.value == "SUPPLY AGREEMENT"
    assert [(p.value, p.role) for p in card.parties] == [
        ("ACME LIMITED", "Supplier"),
        ("BETA LTD", "Customer"),
    ]
    assert [(d.value, d.role) for d in card.dates] == [("1 May 2020", "agreement")]


def test_a_body_sentence_is_not_a_preamble() -> None:
    layout = _stacked(["1. Definitions", "Payments made to Acme Inc. shall be due on January 1, 2020."])
    assert read_card([layout]) == DocumentCard()


def test_no_preamble_gives_an_empty_card() -> None:
    layout = _stacked(
        [
            "Attention Is All You Need",
            "Abstract",
            "The dominant sequence transduction models are based on recurrent networks made of encoders.",
            "We propose a new simple network architecture based solely on attention, dated 2017.",
        ]
    )
    card = read_card([layout])
    assert card == DocumentCard(title=None, parties=[], dates=[])
    assert card.text() == "" and card.regions() == []
    assert read_card([]) == card


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("January 18, 2020", dt.date(2020, 1, 18)),
        ("Feb 10, 2014", dt.date(2014, 2, 10)),
        ("July 11 , 2006", dt.date(2006, 7, 11)),  # a text layer's space before the comma
        ("18th day of January, 2020", dt.date(2020, 1, 18)),
        ("19t h day of December, 2018", dt.date(2018, 12, 19)),
        ("first day of July, 2017", dt.date(2017, 7, 1)),  # the day written out
        ("Twenty First day of May, 2001", dt.date(2001, 5, 21)),
        ("thirty-first day of February, 2020", None),
        ("30 December 2016", dt.date(2016, 12, 30)),
        ("1/18/2020", dt.date(2020, 1, 18)),
        ("03/24/06", dt.date(2006, 3, 24)),  # two-digit years, month first as in the US
        ("29/3/18", dt.date(2018, 3, 29)),  # ... or day first where the first number cannot be a month
        ("2020-01-18", dt.date(2020, 1, 18)),
        ("2020年1月18日", dt.date(2020, 1, 18)),
        ("[•], 2020", None),
        ("[·] day of [·], 2019", None),
        ("February 30, 2020", None),
    ],
)
def test_parse_date_reads_full_dates_only(written: str, expected: dt.date | None) -> None:
    assert parse_date(written) == expected


def test_a_date_outside_a_readable_preamble() -> None:
    """A cover's "Dated 29/3/18", and a preamble naming no party, still date the document."""
    cover = read_card([_stacked(["EXHIBIT 10.43", "Dated 29/3/18", "Distributorship agreement", "between"])])
    assert [(d.role, d.value) for d in cover.dates] == [("agreement", "29/3/18")]
    assert cover.dates[0].regions[0].page == 1
    unnamed = read_card(
        [
            _stacked(
                [
                    "OUTSOURCING AGREEMENT",
                    "This Outsourcing Agreement is effective as from the 1st day of January, 2009, by and between",
                    "the parties named in the schedule below.",
                ]
            )
        ]
    )
    assert unnamed.parties == []
    assert [(d.role, d.value) for d in unnamed.dates] == [("effective", "1st day of January, 2009")]


def test_an_effective_date_stated_in_a_clause_of_the_first_pages() -> None:
    """The preamble dates the agreement; a clause on the next page says when it takes effect."""
    preamble = _stacked(
        [
            "GAS FRANCHISE AGREEMENT",
            "THIS AGREEMENT, made and entered into this 17th day of November, 2015, by and between the",
            "TOWN OF VINTON, a Virginia municipal corporation (“Grantor”), and ROANOKE GAS COMPANY, a Virginia",
            "corporation (“Grantee”).",
        ]
    )
    clause = _stacked(["2. TERM. The effective date of the Franchise will be January 1, 2016."], page=2)
    card = read_card([preamble, clause])
    assert [(d.role, d.value) for d in card.dates] == [
        ("agreement", "17th day of November, 2015"),
        ("effective", "January 1, 2016"),
    ]
    # cited by its sentence, not the clause's number and title
    assert [(r.page, r.text) for r in card.dates[1].regions] == [
        (2, "The effective date of the Franchise will be January 1, 2016.")
    ]
    defined = read_card(
        [preamble, _stacked(["1. DEFINITIONS", "“Commencement Date” means: 1st January 2016."], page=2)]
    )
    assert [(d.role, d.value) for d in defined.dates][1:] == [("effective", "1st January 2016")]
    # a preamble that states the effective date keeps it: a later clause's date is not looked for
    stated = read_card(
        [
            _stacked(["This Agreement is effective as of March 3, 2019 between Acme Inc. and Beta LLC."]),
            clause,
        ]
    )
    assert [(d.role, d.value) for d in stated.dates] == [("effective", "March 3, 2019")]


def test_parties_with_marks_inside_the_name_and_a_spanish_suffix() -> None:
    card = read_card(
        [
            _stacked(
                [
                    "OUTSOURCING AGREEMENT",
                    "This Outsourcing Agreement (hereinafter “Agreement”) is effective as from the 1st day of"
                    " January, 2009, by and between:",
                    "SILICON SMELTERS « Pty » Ltd, registration nr 1998/019036/07, represented by its director",
                    "AND",
                    "ESPACIO INFORMATION TECHNOLOGY, SA., a public limited company with place of business in Madrid.",
                ]
            )
        ]
    )
    assert [p.value for p in card.parties] == [
        "SILICON SMELTERS « Pty » Ltd",
        "ESPACIO INFORMATION TECHNOLOGY, SA",
    ]


def test_a_table_of_contents_between_the_cover_and_the_preamble_is_passed_over() -> None:
    cover = _stacked(["Network Build and Maintenance Agreement"], kind="title")
    contents = [
        _stacked(["TABLE OF CONTENTS", "1.1 Scope 1.2 Term of Agreement 2.1 Definitions", "1 1 2"], page=n)
        for n in (2, 3, 4)
    ]
    preamble = _stacked(
        [
            "This Network Build and Maintenance Agreement is entered into as of the 31 day of July, 2019 (the",
            "“Effective Date”) by and between Commnet Wireless, LLC, a Delaware limited liability company",
            "(“Vendor”), and AT&T Mobility LLC, a Delaware limited liability company (“AT&T”).",
        ],
        page=5,
    )
    card = read_card([cover, *contents, preamble])
    assert [(d.value, d.regions[0].page) for d in card.dates] == [("31 day of July, 2019", 5)]
    assert [p.value for p in card.parties] == ["Commnet Wireless, LLC", "AT&T Mobility LLC"]


# --- CUAD contracts (shared test data) ----------------------------------------------------------


def _first_pages(path: Path, count: int = 3) -> list[PageLayout]:
    """Text-layer layouts of the first pages, built as bench/retrieval_eval.py's `layouts_for` does."""
    engine = TextLayerEngine()
    with pymupdf.open(path) as doc:
        sizes = [(p.rect.width, p.rect.height) for p in doc][:count]
    pages = [
        PageImage(
            page=i + 1,
            width=w,
            height=h,
            unit="pt",
            image_png=b"",
            image_size=(int(w * 2), int(h * 2)),
            dpi=144,
            source=path,
        )
        for i, (w, h) in enumerate(sizes)
    ]
    return mark_furniture([engine.recognize_sync(p) for p in pages])


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _passes(card: DocumentCard, entry: dict[str, list[str]]) -> tuple[bool, bool, bool | None]:
    """(title, party, date) checks; the date check is None when the lawyers' date is not a full date."""
    title = card.title is not None and any(
        _norm(card.title.value) == _norm(n) for n in entry["Document Name"]
    )
    party = any(_norm(p.value) == _norm(g) for p in card.parties for g in entry["Parties"])
    golds = {d for d in (parse_date(g) for g in entry["Agreement Date"]) if d is not None}
    dates = {parse_date(d.value) for d in card.dates}
    return title, party, (bool(golds & dates) if golds else None)


def _describe(name: str, card: DocumentCard) -> str:
    fields: list[CardField] = ([card.title] if card.title else []) + card.parties + card.dates
    return f"{name}: " + "; ".join(f"{f.name}={f.value!r}/{f.role}" for f in fields)


def test_cuad_cards_match_the_lawyers_preamble_spans() -> None:
    if not CUAD.is_dir():
        pytest.skip(f"CUAD test data not found at {CUAD}")
    entries = json.loads((CUAD / "metadata.json").read_text())
    results: list[tuple[bool, bool, bool | None]] = []
    for entry in entries:
        card = read_card(_first_pages(CUAD / "contracts" / entry["file"]))
        results.append(_passes(card, entry))
        print(_describe(entry["file"], card), results[-1])
    titles = sum(r[0] for r in results)
    parties = sum(r[1] for r in results)
    dated = [r[2] for r in results if r[2] is not None]
    print(f"title {titles}/{len(results)}, party {parties}/{len(results)}, date {sum(dated)}/{len(dated)}")
    # Reached: title 9/10 (the lawyers' name for 03 is cut: "TRANSFER AND SERVICING AGREEMENT, d"),
    # party 10/10, date 8/8 full dates. Floors sit one under, so a regression fails.
    assert len(results) == 10
    assert titles >= 8
    assert parties >= 9
    assert sum(dated) >= len(dated) - 1


def test_a_title_takes_its_close_lines_not_a_letterhead_a_line_above() -> None:
    """A scan's grouping can put a letterhead and the title in one block: only a title's own lines sit
    closer than ~half a line height to each other."""
    preamble = "This Content License Agreement is made on Feb 10, 2014 by and between Acme Inc. and Beta LLC."
    letterhead = _block(
        "text",
        [
            _line("PSITECHCORPORATION", 0.100),  # a line height (0.012) of white space below it
            _line("WEBSITE CONTENT", 0.124),
            _line("LICENSE AGREEMENT", 0.138),  # 0.002 below the line above: the same title
        ],
        0,
    )
    card = read_card([_page([letterhead, _block("text", [_line(preamble, 0.2)], 1)])])
    assert card.title is not None and card.title.value == "WEBSITE CONTENT LICENSE AGREEMENT"


def test_a_number_inside_a_capitals_name_a_recital_letter_and_a_party_written_twice() -> None:
    card = read_card(
        [
            _stacked(
                [
                    "AFFILIATE AGREEMENT",
                    "This Affiliate Agreement is made by and between NETWORK 1 FINANCIAL, INC. (“NETWORK 1”), the",
                    "Ireland office at Third Floor 160 Shelbourne Road Ballsbridge 4 Co. Dublin, and",
                    "CPM Medical Consultants LLC, and Slinger Bag Inc. (the “Company”). CPM Medical Consultants, LLC",
                    "shall distribute. A. The Company wishes to engage the Consultant.",
                ]
            )
        ]
    )
    assert [p.value for p in card.parties] == [
        "NETWORK 1 FINANCIAL, INC.",
        "CPM Medical Consultants LLC",
        "Slinger Bag Inc.",
    ]


def test_a_person_or_a_company_without_a_suffix_is_a_party_before_its_defined_term() -> None:
    card = read_card(
        [
            _stacked(
                [
                    "CONSULTING AGREEMENT",
                    "This Consulting Agreement (the “Agreement”) is made by and between Slinger Bag Inc., a Nevada",
                    "corporation (the “Company”), Diplomat Ambassador Eyewear Group (“Diplomat”), Payment Data",
                    "Systems, Inc., the Affiliate Office (“AFFILIATE”), Howmedica Osteonics Corp., also known as",
                    "Stryker Orthopaedics (“Stryker”), and Aitan Zacharin (the “Consultant”).",
                ]
            )
        ]
    )
    assert [(p.value, p.role) for p in card.parties] == [
        ("Slinger Bag Inc.", "Company"),
        ("Diplomat Ambassador Eyewear Group", "Diplomat"),
        ("Payment Data Systems, Inc.", "AFFILIATE"),
        ("Howmedica Osteonics Corp.", "Stryker"),
        ("Aitan Zacharin", "Consultant"),
    ]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (
            "is effective this ______ day of ________________, 2013, by and among",
            ("______ day of ________________, 2013", "2013"),
        ),
        ("made this ____ day of March 2014 between", ("____ day of March 2014", "2014-03")),
        ("made this 30th day of April (the “Effective Date”) between", ("30th day of April", "--04-30")),
        ("the 29th day of February between", ("29th day of February", "--02-29")),  # a day in a leap year
        ("30th day of April, 2020", ("30th day of April, 2020", "2020-04-30")),  # the full date, not a part
        ("________ day of ____________, in the year ________", None),  # nothing filled in
        ("payable on the 15th day of June of each year", None),  # a recurring day is no date
        ("the 31st day of February", None),
    ],
)
def test_find_date_reads_what_a_preamble_fills_in(written: str, expected: tuple[str, str] | None) -> None:
    """A date left with blanks to fill in at signing, or written without its year, is read as far as it
    goes, in ISO 8601's reduced forms; `parse_date` still reads full dates only."""
    assert find_date(written, partial=True) == expected
    assert find_date(written) == (expected if expected and len(expected[1]) == 10 else None)
    assert parse_date(written) == (
        dt.date.fromisoformat(expected[1]) if expected and len(expected[1]) == 10 else None
    )


NO_YEAR = [
    "CONSULTING AGREEMENT",
    "THIS AGREEMENT made this 30th day of April (the “Effective Date”) between Slinger Bag Inc.,",
    "a Nevada company (the “Company”) and Aitan Zacharin (the “Consultant”).",
]


def test_a_preamble_with_blanks_for_its_date_or_without_its_year_dates_the_card() -> None:
    blanks = read_card(
        [
            _stacked(
                [
                    "MARKETING AGREEMENT",
                    "This Marketing Agreement is effective this ______ day of ________________, 2013, by and among",
                    "Principal Life Insurance Company (“Issuer”) and Princor Financial Services Corporation (“Distributor”).",
                ]
            )
        ]
    )
    assert [(d.role, d.value) for d in blanks.dates] == [
        ("effective", "______ day of ________________, 2013")
    ]
    no_year = read_card([_stacked(NO_YEAR)])
    assert [(d.role, d.value) for d in no_year.dates] == [("effective", "30th day of April")]
    (region,) = no_year.dates[0].regions
    line = _line(NO_YEAR[1], 0.12)  # as _stacked lays out the second line
    assert _within(region, line) and _narrower(region, line)


def test_a_preamble_dated_the_date_first_written_above_takes_the_date_of_the_header_above_it() -> None:
    """ "... effective as of the date first written above": the date written atop the page, here in its
    running header, which the card otherwise leaves out; a later page's header does not count."""
    header = _line("Exhibit (d)(i) Sponsorship Agreement - July 16, 2012", 0.03)
    preamble = [
        "THIS SPONSORSHIP AGREEMENT (“Agreement”) is entered into and effective as of the date first written",
        "above (“Effective Date”) by and among PEEK Investments LLC, a Delaware limited liability company",
        "(“Purchaser”), and each other party hereto identified on the signature page(s) hereto.",
    ]
    first = _page(
        [
            _block("header", [header], 0),
            _block("heading", [_line("SPONSORSHIP AGREEMENT", 0.08)], 1),
            _block("text", [_line(t, 0.12 + 0.015 * i) for i, t in enumerate(preamble)], 2),
        ]
    )
    later = _page([_block("header", [_line("Sponsorship Agreement - August 1, 2012", 0.03)], 0)], page=2)
    card = read_card([first, later])
    assert [(d.role, d.value) for d in card.dates] == [("effective", "July 16, 2012")]
    (region,) = card.dates[0].regions
    assert region.page == 1 and _within(region, header) and _narrower(region, header)
    # without the words, the header's date is no date of the agreement
    plain = [preamble[0].replace("as of the date first written", "as of now"), *preamble[1:]]
    body = _block("text", [_line(t, 0.12 + 0.015 * i) for i, t in enumerate(plain)], 2)
    card = read_card([_page([*first.blocks[:2], body])])
    assert card.dates == []


def test_a_title_line_ending_in_to_takes_the_heading_below_it() -> None:
    """ "ADDENDUM TO" set apart from "ZEBRA® PARTNERCONNECT DISTRIBUTOR AGREEMENT" (two headings 1.6 line
    heights apart) is one title; a title that ends in a whole phrase does not take the heading below."""
    preamble = "THIS ADDENDUM is made on the 4th day of February 2019 between Zebra Technologies International, LLC (“Zebra”)"

    def card_of(first: str, second: str) -> DocumentCard:
        blocks = [
            _block("heading", [_line(first, 0.232)], 0),
            _block("heading", [_line(second, 0.2545)], 1),
            _block("text", [_line(preamble, 0.3)], 2),
        ]
        return read_card([_page(blocks)])

    card = card_of("ADDENDUM TO", "ZEBRA® PARTNERCONNECT DISTRIBUTOR AGREEMENT")
    assert card.title is not None
    assert card.title.value == "ADDENDUM TO ZEBRA® PARTNERCONNECT DISTRIBUTOR AGREEMENT"
    assert [r.bbox.y0 for r in card.title.regions] == [0.232, 0.2545]
    whole = card_of("DISTRIBUTOR AGREEMENT", "ARTICLE ONE DEFINITIONS")
    assert whole.title is not None and whole.title.value == "DISTRIBUTOR AGREEMENT"
