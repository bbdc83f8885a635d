"""A filing's company, ticker, form and period read off its cover or its release's first lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.card import read_card
from ingest.filing import Line, read_filing
from ingest.layout import BBox, Block, PageLayout, Region
from ingest.ocr.textlayer import TextLayerEngine
from ingest.sources import open_source


def lines(*texts: str) -> list[Line]:
    return [
        (t, Region(page=1, bbox=BBox(x0=0.1, y0=0.02 * i, x1=0.9, y1=0.02 * i + 0.015), text=t))
        for i, t in enumerate(texts)
    ]


def values(found: dict[str, tuple[str, Region]]) -> dict[str, str]:
    return {k: v for k, (v, _) in found.items()}


def test_an_annual_report_cover() -> None:
    cover = lines(
        "UNITED STATES SECURITIES AND EXCHANGE COMMISSION",
        "FORM 10-K",
        "For the fiscal year ended December 31, 2022",
        "Commission file number 1-3285",
        "3M COMPANY",
        "Common Stock, Par Value $.01 Per Share | MMM | New York Stock Exchange",
        "our Quarterly Reports on Form 10-Q",
    )
    assert values(read_filing(cover)) == {
        "form": "Form 10-K",
        "period": "fiscal year ended December 31, 2022",
        "company": "3M COMPANY",
        "ticker": "MMM",
    }


def test_a_current_report_names_its_registrant_and_report_date() -> None:
    cover = lines(
        "FORM 8-K",
        "Date of report (Date of earliest event reported):",
        "August 30, 2023",
        "Johnson & Johnson",
        "(Exact name of registrant as specified in its charter)",
    )
    found = read_filing(cover)
    assert values(found) == {
        "form": "Form 8-K",
        "period": "report dated August 30, 2023",
        "company": "Johnson & Johnson",
    }
    assert found["company"][1].bbox.y0 == cover[3][1].bbox.y0  # cited where the name is written


def test_an_earnings_release() -> None:
    release = lines(
        "PepsiCo Reports First-Quarter 2023 Results; Raises Full-Year Guidance",
        "PURCHASE, N.Y. - April 25, 2023 - PepsiCo, Inc. (NASDAQ: PEP) today reported results",
    )
    assert values(read_filing(release)) == {
        "period": "first quarter 2023",
        "company": "PepsiCo, Inc.",
        "ticker": "PEP",
        "form": "earnings release",
    }


def test_the_card_of_a_filing_names_it_by_company_form_and_period() -> None:
    texts = [
        "FORM 10-Q",
        "For the quarterly period ended July 2, 2023",
        "PFIZER INC.",
        "(Exact name of registrant as specified in its charter)",
    ]
    blocks = [
        Block(kind="text", markdown=t, bbox=BBox(x0=0.1, y0=0.05 * i, x1=0.9, y1=0.05 * i + 0.03))
        for i, t in enumerate(texts)
    ]
    card = read_card(
        [
            PageLayout(
                page=1, width=612, height=792, image_size=(1224, 1584), engine="textlayer", blocks=blocks
            )
        ]
    )
    assert card.name() == "the Form 10-Q of PFIZER INC. for the quarterly period ended July 2, 2023"
    assert card.company() == "PFIZER INC."
    statement, regions = next((s, r) for s, r in card.statements() if s.startswith("Filing:"))
    assert "Form 10-Q of PFIZER INC." in statement and {r.page for r in regions} == {1}


def test_a_contract_is_no_filing() -> None:
    assert (
        read_filing(
            lines("MASTER SERVICES AGREEMENT", "This Agreement is made on May 1, 2020 between Acme and Beta.")
        )
        == {}
    )


def test_the_ticker_is_read_from_the_covers_trading_symbol_column() -> None:
    # a 10-K cover table read column by column: the common stock's symbol comes before the notes' symbols
    cover = lines(
        "JOHNSON & JOHNSON",
        "(Exact name of registrant as specified in its charter)",
        "Title of each class",
        "Trading Symbol",
        "Name of each exchange on which registered",
        "Common Stock, Par Value $1.00",
        "0.650% Notes Due May 2024",
        "JNJ",
        "JNJ24C",
        "New York Stock Exchange",
        "New York Stock Exchange",
    )
    found = read_filing(cover)
    assert values(found)["ticker"] == "JNJ"
    assert found["ticker"][1].bbox.y0 == cover[7][1].bbox.y0  # cited where the symbol is written


@pytest.mark.parametrize(
    ("filing", "ticker"),
    [("JOHNSON_JOHNSON_2022_10K", "JNJ"), ("PFIZER_2021_10K", "PFE"), ("VERIZON_2022_10K", "VZ")],
)
def test_a_filings_card_carries_the_ticker_of_its_cover(testdata: Path, filing: str, ticker: str) -> None:
    path = testdata / "financebench-dev" / "pdfs" / f"{filing}.pdf"
    engine = TextLayerEngine()
    with open_source(path) as doc:
        layouts = [engine.recognize_sync(doc.render_page(n, pixels=False)) for n in (1, 2)]
    card = read_card(layouts)
    assert card.filing_value("ticker") == ticker
    assert card.company().endswith(ticker)  # search tells the filing by "JnJ" or "PFE" (retrieval.scope)


def test_a_filings_card_has_no_parties_or_agreement_dates(testdata: Path) -> None:
    # Pfizer's 10-K lists acquired companies in a glossary on page 4 and dates its cover's market value:
    # a filing is no agreement, so neither becomes a party or an agreement date
    path = testdata / "financebench-dev" / "pdfs" / "PFIZER_2021_10K.pdf"
    engine = TextLayerEngine()
    with open_source(path) as doc:
        layouts = [engine.recognize_sync(doc.render_page(n, pixels=False)) for n in (1, 2, 3, 4)]
    card = read_card(layouts)
    assert card.filing_value("company") == "PFIZER INC."
    assert card.parties == [] and card.dates == []
    assert not any(s.startswith(("Parties:", "Date:")) for s, _ in card.statements())
