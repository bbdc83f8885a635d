"""What a financial filing says about itself on its first pages: company (and ticker), form, period.

SEC covers print them in fixed phrases: "FORM 10-K", "For the fiscal year ended December 31, 2022", the
company's name above "(Exact name of registrant as specified in its charter)"; earnings releases say
"PepsiCo, Inc. (NASDAQ: PEP) today reported results for the first quarter 2023". Rules only, like
`ingest.card`, which keeps what is found here on the document card; each value keeps the line's region.
"""

from __future__ import annotations

import re

from ingest.layout import PageLayout, Region

FORM_RE = re.compile(
    r"\bFORM\s+(10-K|10-Q|8-K|20-F|6-K|40-F)\b"
)  # as the cover prints it, not "our Form 10-Q"
_DATE = r"[A-Z][a-z]+\.?\s+\d{1,2},\s+\d{4}"
PERIOD_RE = re.compile(rf"\bfor the (fiscal year|quarterly period|year) ended:?\s+({_DATE})", re.IGNORECASE)
REPORT_DATE_RE = re.compile(rf"\bdate of report\b[^:]*:\s*({_DATE})", re.IGNORECASE)
QUARTER_RE = re.compile(
    r"\b(first|second|third|fourth)[- ]quarter(?: and full[- ]year)?,? (\d{4})|\b(\d{4}) (first|second|third|fourth)[- ]quarter",
    re.IGNORECASE,
)
REGISTRANT_RE = re.compile(r"\(\s*exact name of registrant", re.IGNORECASE)
FILE_NUMBER_RE = re.compile(r"\bcommission file number\b", re.IGNORECASE)
TICKER_RE = re.compile(r"\((?:NYSE|NASDAQ|Nasdaq)\s*:\s*([A-Z]{1,5})\)")
ANNOUNCER_RE = re.compile(r"(?:^|[–—-]\s+)([A-Z][\w.&,' ]{1,60}?)\s+\((?:NYSE|NASDAQ|Nasdaq)\s*:")
# a ticker in the cover's table of registered securities: "Common Stock, Par Value $.01 Per Share MMM New York ..."
LISTED_RE = re.compile(r"\b([A-Z]{1,5})\s*\|?\s*(?:New York Stock Exchange|The Nasdaq|NASDAQ|Nasdaq)")
_NOT_TICKERS = frozenset({"LLC", "INC", "THE", "NYSE", "PAR", "USD"})
# the cover's "Trading Symbol(s)" column read line by line: its first bare symbol is the common stock's
TRADING_SYMBOL_RE = re.compile(r"\btrading symbol", re.IGNORECASE)
BARE_TICKER_RE = re.compile(r"^[A-Z]{1,5}$")
SYMBOL_COLUMN_LINES = 30  # lines after the column's header where its first symbol may be read


Line = tuple[str, Region]


def first_lines(layouts: list[PageLayout], max_pages: int = 2) -> list[Line]:
    """The text lines of the first pages (tables' rows included), furniture left out."""
    out: list[Line] = []
    for layout in sorted(layouts, key=lambda lay: lay.page)[:max_pages]:
        for block in layout.content_blocks():
            regions = block.regions(layout.page)
            out += [(" ".join((r.text or "").split()), r) for r in regions if (r.text or "").strip()]
    return out


def read_filing(lines: list[Line]) -> dict[str, tuple[str, Region]]:
    """ "company", "ticker", "form" and "period" as written, each with its line's region; missing ones left out."""
    found: dict[str, tuple[str, Region]] = {}
    texts = [t for t, _ in lines]  # the 8-K's report date is often on the line after its label
    for i, (text, region) in enumerate(lines):
        if "form" not in found and (m := FORM_RE.search(text)):
            found["form"] = (f"Form {m.group(1).upper()}", region)
        if "period" not in found and (m := PERIOD_RE.search(text)):
            found["period"] = (f"{m.group(1).lower()} ended {m.group(2)}", region)
        if "period" not in found and (m := REPORT_DATE_RE.search(" ".join(texts[i : i + 2]))):
            found["period"] = (f"report dated {m.group(1)}", region)
        if "period" not in found and (m := QUARTER_RE.search(text)):
            quarter, year = (m.group(1), m.group(2)) if m.group(1) else (m.group(4), m.group(3))
            found["period"] = (f"{quarter.lower()} quarter {year}", region)
        if "company" not in found and (company := _company(lines, i)) is not None:
            found["company"] = company
        if "ticker" not in found and TRADING_SYMBOL_RE.search(text):
            found.update(_symbol_column(lines[i + 1 : i + 1 + SYMBOL_COLUMN_LINES]))
        ticker = TICKER_RE.search(text) or LISTED_RE.search(text)
        if "ticker" not in found and ticker and ticker.group(1) not in _NOT_TICKERS:
            found["ticker"] = (ticker.group(1), region)
    if "form" not in found and "period" in found and QUARTER_RE.search(found["period"][0]):
        found["form"] = ("earnings release", found["period"][1])  # "Reports Fourth-Quarter 2022 Results"
    return found


def _company(lines: list[Line], i: int) -> tuple[str, Region] | None:
    """The company named at line i: above or before "(Exact name of registrant ...)", the capitals after
    "Commission file number", or the announcer of a release ("– PepsiCo, Inc. (NASDAQ: PEP) today")."""
    text, region = lines[i]
    if REGISTRANT_RE.search(text):
        before = REGISTRANT_RE.split(text)[0].strip(" ,")
        if before:
            return before, region
        return (lines[i - 1][0].strip(" ,"), lines[i - 1][1]) if i > 0 else None
    if FILE_NUMBER_RE.search(text) and i + 1 < len(lines):
        after, where = lines[i + 1]
        return (after, where) if after.isupper() and 1 <= len(after.split()) <= 6 else None
    if m := ANNOUNCER_RE.search(text):
        return m.group(1).strip(" ,"), region
    return None


def _symbol_column(lines: list[Line]) -> dict[str, tuple[str, Region]]:
    """The first bare symbol ("JNJ", not the notes' "JNJ24C") below a "Trading Symbol(s)" header."""
    for text, region in lines:
        if BARE_TICKER_RE.match(text) and text not in _NOT_TICKERS:
            return {"ticker": (text, region)}
    return {}
