"""The document card: the title, parties and dates a document's first pages state, each with the page
and tight box where it is written, so preamble questions ("who are the parties?") get cited answers.

Rules only (regexes and small heuristics over blocks' lines and boxes, no model), so every engine's
layouts read alike. Boxes are `BBox`, 0..1 of the page; a value written over two lines has a region on
each line. Where nothing matches, the field stays empty rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, Field

from ingest.filing import first_lines, read_filing
from ingest.layout import BBox, Block, PageLayout, Region

FilingField = Literal["company", "ticker", "form", "period"]
FILING_FIELDS: tuple[FilingField, ...] = ("company", "ticker", "form", "period")
# How each statement of the card begins (`DocumentCard.statements`); search finds a field's statement by it
TITLE, PARTIES, DATE, EFFECTIVE, FILING = "Title:", "Parties:", "Date:", "Effective date:", "Filing:"


class CardField(BaseModel):
    name: Literal["title", "party", "date"] | FilingField
    # as written: "TRANSITION SERVICES AGREEMENT", "Reynolds Group Holdings Inc.", "January 18, 2020"
    value: str
    # party: its defined name or role ("RGHI", "Licensor"); date: "agreement" | "effective"
    role: str | None = None
    # where the value is written, one per line it spans; an effective date stated in a clause ("The
    # effective date of the Franchise will be January 1, 2016.") has its sentence's
    regions: list[Region] = Field(default_factory=list)


class DocumentCard(BaseModel):
    title: CardField | None = None
    parties: list[CardField] = Field(default_factory=list)
    dates: list[CardField] = Field(default_factory=list)
    # a financial filing's company, ticker, form and period (`ingest.filing`), in that order when found
    filing: list[CardField] = Field(default_factory=list)

    def filing_value(self, name: str) -> str:
        return next((f.value for f in self.filing if f.name == name), "")

    def company(self) -> str:
        """The filing's company and ticker ("3M COMPANY MMM"); empty for other documents."""
        return " ".join(v for v in (self.filing_value("company"), self.filing_value("ticker")) if v)

    def statements(self) -> list[tuple[str, list[Region]]]:
        """A sentence per field (title, parties, agreement date, effective date) saying what it is in
        words people ask with, and the regions where its values are written; each becomes a chunk."""
        out: list[tuple[str, list[Region]]] = []
        if self.title is not None:
            out.append(
                (_sentence(f"{TITLE} this document is the {_readable(self.title.value)}"), self.title.regions)
            )
        if self.parties:
            named = [f"{p.value} ({p.role})" if p.role else p.value for p in self.parties]
            listed = ", ".join(named[:-1]) + " and " + named[-1] if len(named) > 1 else named[0]
            out.append((_sentence(f"{PARTIES} it is made between {listed}"), _regions_of(self.parties)))
        if self.filing:
            out.append(
                (_sentence(f"{FILING} this document is {self._filing_name()}"), _regions_of(self.filing))
            )
        for role, says in (
            ("agreement", f"{DATE} it is dated "),
            ("effective", f"{EFFECTIVE} it takes effect on "),
        ):
            dates = [d for d in self.dates if d.role == role]
            if dates:
                out.append((_sentence(says + "; ".join(d.value for d in dates)), _regions_of(dates)))
        return out

    def text(self) -> str:
        """The statements as one paragraph; empty for an empty card."""
        return " ".join(sentence for sentence, _ in self.statements())

    def name(self) -> str:
        """How a reader names the document: "Website Content License Agreement (PSiTech Corporation;
        Empirical Ventures, Inc.)"; empty when the card found neither title nor parties."""
        if self.filing_value("company"):
            return self._filing_name()
        title = _readable(self.title.value) if self.title is not None else ""
        parties = "; ".join(p.value for p in self.parties)
        return f"{title} ({parties})" if title and parties else title or parties

    def _filing_name(self) -> str:
        """ "the Form 10-K of 3M COMPANY (MMM) for the fiscal year ended December 31, 2022"."""
        ticker = self.filing_value("ticker")
        company = self.filing_value("company") + (f" ({ticker})" if ticker else "")
        form, period = self.filing_value("form"), self.filing_value("period")
        return " ".join(
            part
            for part in (
                f"the {form} of" if form else "a filing of",
                company,
                f"for the {period}" if period else "",
            )
            if part
        )

    def regions(self) -> list[Region]:
        """Every field's regions in page order (stable within a page), each box once."""
        fields = [self.title] if self.title is not None else []
        return _regions_of([*fields, *self.parties, *self.dates])


def _regions_of(fields: list[CardField]) -> list[Region]:
    """The fields' regions in page order (stable within a page), each box once."""
    seen: set[tuple[int, tuple[float, ...]]] = set()
    out: list[Region] = []
    for region in sorted((r for f in fields for r in f.regions), key=lambda r: r.page):
        key = (region.page, tuple(region.bbox.as_list()))
        if key not in seen:
            seen.add(key)
            out.append(region)
    return out


def read_card(layouts: list[PageLayout], max_pages: int = 3) -> DocumentCard:
    """The card of a document from its first `max_pages` pages (furniture, tables and figures left out)."""
    stream = _stream(_card_blocks(layouts, max_pages))
    preamble = _preamble(stream)
    title_end = preamble[0] if preamble else len(stream.text)
    title = _title_line(stream, title_end) or (_title_in_preamble(stream, preamble) if preamble else None)
    parties = _parties(stream, preamble) if preamble else []
    dates = (
        _dates(stream, preamble) or _date_above(stream, preamble, layouts) if preamble else []
    ) or _dated(stream)
    if not any(d.role == "effective" for d in dates):
        dates += _effective_statement(stream)
    cn_parties, cn_dates = _chinese_fields(stream)
    found = read_filing(first_lines(layouts))
    filing = [
        CardField(name=k, value=found[k][0], regions=[found[k][1]]) for k in FILING_FIELDS if k in found
    ]
    if not any(f.name == "company" for f in filing):
        filing = []  # a form or a date alone does not make a filing
    else:  # a filing is no agreement: its cover's dates and a glossary's company names are no parties
        parties, dates = [], []
    return DocumentCard(
        title=title, parties=_unique(parties + cn_parties), dates=_unique(dates + cn_dates), filing=filing
    )


# --- the text stream: first pages' lines joined, each line's span kept -------------------------------

_TEXT_KINDS = frozenset({"title", "heading", "text", "list", "caption"})
_TOKEN = re.compile(r"\S+")


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    region: Region
    block: int
    coarse: bool  # one of several lines of a block the engine gave no lines for: cite the block's box


@dataclass(frozen=True)
class _Stream:
    text: str
    pieces: tuple[_Piece, ...]
    block_starts: tuple[int, ...]


# a table of contents between the cover and the preamble ("TABLE OF CONTENTS" atop four pages) is passed
# over: its entries are left out and its pages do not count, up to this many of them
MAX_CONTENTS_PAGES = 8
_CONTENTS = re.compile(r"[#*_\s]*(?:table\s+of\s+)?contents[*_\s]*", re.I)


def _card_blocks(layouts: list[PageLayout], max_pages: int) -> Iterator[tuple[int, Block]]:
    """(page, block) of the first `max_pages` pages, a table of contents' entries left out (its heading
    kept: it ends a preamble)."""
    pages = 0
    for layout in sorted(layouts, key=lambda lay: lay.page)[: max_pages + MAX_CONTENTS_PAGES]:
        blocks = layout.content_blocks()
        contents = next((i for i, b in enumerate(blocks) if _CONTENTS.fullmatch(b.markdown)), None)
        yield from ((layout.page, b) for b in blocks[: None if contents is None else contents + 1])
        pages += contents is None
        if pages == max_pages:
            return


def _stream(blocks: Iterable[tuple[int, Block]], kinds: frozenset[str] = _TEXT_KINDS) -> _Stream:
    parts: list[str] = []
    pieces: list[_Piece] = []
    block_starts: list[int] = []
    cursor = 0
    for page, block in blocks:
        lines = _block_lines(page, block) if block.kind in kinds else []
        for i, (region, coarse) in enumerate(lines):
            if parts:
                parts.append(" ")
                cursor += 1
            if i == 0:
                block_starts.append(cursor)
            line = region.text or ""
            pieces.append(_Piece(cursor, cursor + len(line), region, len(block_starts) - 1, coarse))
            parts.append(line)
            cursor += len(line)
    return _Stream("".join(parts), tuple(pieces), tuple(block_starts))


def _block_lines(page: int, block: Block) -> list[tuple[Region, bool]]:
    if block.lines:
        return [(line.region(page), False) for line in block.lines if line.text.strip()]
    texts = [re.sub(r"^#+\s*|\*\*|__", "", t).strip() for t in block.markdown.splitlines()]
    texts = [t for t in texts if t]
    return [(Region(page=page, bbox=block.bbox, text=t), len(texts) > 1) for t in texts]


def _regions(stream: _Stream, start: int, end: int) -> list[Region]:
    out: list[Region] = []
    for piece in stream.pieces:
        if piece.start < end and piece.end > start:
            local = _part(
                piece.region, max(start, piece.start) - piece.start, min(end, piece.end) - piece.start
            )
            region = piece.region if piece.coarse else local
            if not any(r.page == region.page and r.bbox == region.bbox for r in out):
                out.append(region)
    return out


def _part(region: Region, start: int, end: int) -> Region:
    """`Region.part`, narrowed inside a word cut by the value ("LLC," without its comma, "甲方：上海…公司"
    without its label) by the word's share of characters."""
    part = region.part(start, end)
    words = [(m.start(), m.end()) for m in _TOKEN.finditer(region.text or "")]
    if part is region or region.words_x is None or len(region.words_x) != len(words):
        return part
    x0, x1 = part.bbox.x0, part.bbox.x1
    for (a, b), (wx0, wx1) in zip(words, region.words_x, strict=True):
        if a < start < b:
            x0 = wx0 + (wx1 - wx0) * (start - a) / (b - a)
        if a < end < b:
            x1 = wx0 + (wx1 - wx0) * (end - a) / (b - a)
    return part.model_copy(update={"bbox": BBox(x0=x0, y0=part.bbox.y0, x1=x1, y1=part.bbox.y1)})


def _field(
    stream: _Stream, name: Literal["title", "party", "date"], start: int, end: int, role: str | None = None
) -> CardField:
    text = stream.text
    while start < end and text[start] in " ,;:":
        start += 1
    while end > start and text[end - 1] in " ,;:":
        end -= 1
    return CardField(name=name, value=text[start:end], role=role, regions=_regions(stream, start, end))


def _block_start(stream: _Stream, pos: int) -> int:
    return max((s for s in stream.block_starts if s <= pos), default=0)


# --- the preamble: the first sentence(s) naming the parties ---------------------------------------

_TRIGGER = re.compile(
    r"\b(?:between|among(?:st)?|entered\s+into|made|dated|effective\s+as\s+of|agreed)\b", re.I
)
# where recitals or the body begin: a preamble lies before the first of these
_STOP = re.compile(
    r"\s*(?:WHEREAS|Whereas|RECITALS?\b|Recitals?\b|BACKGROUND\b|Background\b|NOW,?\s+THEREFORE|"
    r"Now,?\s+[Tt]herefore|W\s?I\s?T\s?N\s?E\s?S\s?S\s?E\s?T\s?H|"
    r"(?:ARTICLE|Article)\s+(?:1|I|ONE)\b|(?:SECTION|Section)\s+1\b|1\.\s|第一条)"
)
# a table of contents' heading ends a preamble (the cover's "BY AND BETWEEN ..." does not run on into the
# preamble after the contents); one may begin after it
_CONTENTS_START = re.compile(r"\s*(?:(?:TABLE\s+OF\s+)?CONTENTS\b|Table\s+of\s+Contents\b)")
_REACH = 8000  # characters from the start within which a preamble must begin ("near the start")
_PREAMBLE_CHARS = 2500
_SENTENCE_END = re.compile(r"[.!?。](?:[\"”’)\]])*(?=\s+[\"“(\[]?[A-Z0-9\u4e00-\u9fff]|\s*$)")
# fmt: off
_ABBREVIATIONS = frozenset({
    "inc", "ltd", "co", "corp", "no", "nos", "st", "mr", "mrs", "ms", "dr", "jr", "sr", "bldg", "ave",
    "fl", "u.s", "u.s.a", "n.a", "s.a", "l.p", "l.l.c", "b.v", "n.v", "e.g", "i.e", "vs", "v", "p.c",
    "s.p.a"
})
# fmt: on


def _preamble(stream: _Stream) -> tuple[int, int] | None:
    """Span of the first sentence near the start that has a preamble word and names a party; the
    sentence grows by up to two more when its parties come after it ("... is dated 1 May 2020. PARTIES")."""
    text = stream.text
    limit = min(_REACH, _first_block(stream, _STOP))
    ends = _sentence_ends(text)
    searched = 0
    for trigger in _TRIGGER.finditer(text, 0, limit):
        if trigger.start() < searched:
            continue
        start = max(
            _block_start(stream, trigger.start()), max((e for e in ends if e <= trigger.start()), default=0)
        )
        bound = min(
            _first_block(stream, _STOP, after=trigger.end()),
            _first_block(stream, _CONTENTS_START, after=trigger.end()),
            start + _PREAMBLE_CHARS,
        )
        end = trigger.end()
        for _ in range(3):
            end = min((e for e in ends if e > end), default=bound)
            end = min(end, bound)
            if _names(text, start, end):
                return start, end
        searched = end
    return None


def _first_block(stream: _Stream, pattern: re.Pattern[str], after: int = -1) -> int:
    return next(
        (s for s in stream.block_starts if s > after and pattern.match(stream.text, s)), len(stream.text)
    )


def _sentence_ends(text: str) -> list[int]:
    ends: list[int] = []
    for m in _SENTENCE_END.finditer(text):
        words = text[max(0, m.start() - 12) : m.start()].split()
        word = words[-1].lstrip('(“"').lower() if words and not text[m.start() - 1].isspace() else ""
        if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
            continue
        ends.append(m.end())
    return ends


# --- parties --------------------------------------------------------------------------------------

# fmt: off
_SUFFIXES = frozenset({
    "inc", "incorporated", "llc", "l.l.c", "ltd", "limited", "corporation", "corp", "company", "co",
    "n.a", "plc", "gmbh", "ag", "s.a", "l.p", "lp", "llp", "lllp", "trust", "university", "fund",
    "partnership", "bank", "foundation", "institute", "association", "s.p.a", "b.v", "n.v", "pty",
    "pte", "s.a.r.l", "sarl", "kg", "a/s", "sa"
})
# fmt: on
_HEAD_SUFFIXES = frozenset({"university", "bank", "institute", "college"})  # "University of Iowa"
_CONNECTORS = frozenset({"of", "&", "de", "du", "la", "der", "von", "van"})
# fmt: off
_STOPWORDS = frozenset({
    "this", "between", "among", "amongst", "and", "by", "dated", "date", "made", "entered", "into",
    "with", "effective", "whereas", "is", "as", "to", "from", "in", "on", "exhibit"
})
# fmt: on
_NAME_WORD = re.compile(r"(?:[A-Z]|\d+[A-Za-z])[\w&'’\-./!]*")
_CAPS_WORD = re.compile(r"[A-Z][A-Z0-9&'’\-.]+")
_DBA = frozenset({"d/b/a", "dba", "d.b.a."})
_DESIGNATOR = re.compile(r"\d{2,4}-[A-Z0-9]+,?")  # "VERIZON OWNER TRUST 2020-A"
_DEFINED = re.compile(r"\(([^()]*)\)")
_QUOTED = re.compile(r"[“\"]([^”\"]{1,60})[”\"]")
_AS_ROLE = re.compile(r"\bas\s+(?:the\s+)?([A-Z][\w’'\-]*(?:(?:,\s*|\s+and\s+|\s+)[A-Z][\w’'\-]*)*)")
_BARE_ROLE = re.compile(r"(?:the\s+)?([A-Z][\w’'\-]*(?:\s+[A-Z][\w’'\-]*){0,2})")
_ACRONYM = re.compile(r"[A-Z0-9&\-]{2,}")
_ENUMERATOR = re.compile(r"\(?[A-Z][.)]")  # a recital's or list item's letter: "A.", "(B)"
_GENERIC_TERMS = frozenset({"party", "parties", "agreement"})

Token = tuple[int, int, str]
_GUILLEMETS = str.maketrans("«»", "  ")  # "SILICON SMELTERS « Pty » Ltd": marks inside a name


def _tokens(text: str, start: int, end: int) -> list[Token]:
    return [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text, start, end)]


def _bare(word: str) -> str:
    return word.strip("()“”\"',;:").rstrip(".").lower()


def _is_name_word(word: str) -> bool:
    bare = word.rstrip(",")
    return (
        bool(_NAME_WORD.fullmatch(bare))
        and _bare(bare) not in _STOPWORDS
        and not _DOC_WORD.fullmatch(_bare(bare))
    )


def _names(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of the organization names in text[start:end]: capitalized words ending in a legal suffix
    ("Photronics, Inc.", "The University of Iowa"), or all-caps names followed by a role."""
    text = text.translate(_GUILLEMETS)  # same length: the spans hold for the text as written
    tokens = _tokens(text, start, end)
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        found = _suffix_name(tokens, i) or _caps_name(text, tokens, i) or _titled_name(text, tokens, i)
        if found is None:
            i += 1
            continue
        first, last = found
        spans.append((tokens[first][0], _value_end(tokens[last][2], tokens[last][1])))
        i = last + 1
    return spans


def _suffix_name(tokens: list[Token], i: int) -> tuple[int, int] | None:
    word = tokens[i][2]
    if _bare(word) not in _SUFFIXES or not word.lstrip("(")[:1].isupper() or word.startswith(("“", '"', "(")):
        return None
    first = i
    k = i - 1
    if k >= 0 and tokens[k][2].endswith(",") and _is_name_word(tokens[k][2]):
        first, k = k, k - 1  # "ArTara, Inc."
    while k >= 0 and not re.search(r"[,;:)(”\"]$", tokens[k][2]):
        word_k = tokens[k][2]
        before = tokens[k - 1][2] if k > 0 else ""
        joins = _is_name_word(before) and before[-1] != ","
        if (
            _is_name_word(word_k)
            or (word_k.lower() in _CONNECTORS and joins)
            # a number inside a name written in capitals ("NETWORK 1 FINANCIAL, INC."); not in an address
            # ("160 Shelbourne Road Ballsbridge 4 Co. Dublin") or a date ("June 1 Acme Inc.")
            or (word_k.isdigit() and joins and before.isupper() and tokens[k + 1][2].isupper())
        ):
            first, k = k, k - 1
        else:
            break
    if k >= 0 and tokens[k][2].lower() in ("a", "an"):
        return None  # "a BVI Corporation" describes a party
    last = _name_tail(tokens, i)
    own = [
        w
        for _, _, w in tokens[first : last + 1]
        if _bare(w) not in _SUFFIXES | _CONNECTORS | {"the"} and not _ENUMERATOR.fullmatch(w)
    ]
    return (first, last) if own else None  # "the Company", "A. The Company" (a recital) are no names


def _name_tail(tokens: list[Token], i: int) -> int:
    """The suffix's last token after "Co., Ltd.", "Pty Ltd", "University of Iowa", "Trust 2020-A", "Inc., d/b/a X"."""
    last = i
    while (
        last + 1 < len(tokens)
        and _bare(tokens[last + 1][2]) in _SUFFIXES
        and tokens[last + 1][2][:1].isupper()  # "ACME LIMITED incorporated in England" ends at LIMITED
    ):
        last += 1
    if _bare(tokens[i][2]) in _HEAD_SUFFIXES and not tokens[last][2].endswith(","):
        last = _words_after(tokens, last, require="of")
    if (
        last + 1 < len(tokens)
        and _DESIGNATOR.fullmatch(tokens[last + 1][2])
        and not tokens[last][2].endswith(",")
    ):
        last += 1
    if last + 2 < len(tokens) and tokens[last + 1][2].lower() in _DBA:
        last = _words_after(tokens, last + 1)
    return last


def _words_after(tokens: list[Token], k: int, require: str | None = None) -> int:
    """The last of the capitalized words (and connectors) right after tokens[k]; k itself when none."""
    j = k + 1
    if require is not None:
        if j >= len(tokens) or tokens[j][2] != require:
            return k
        j += 1
    last = k
    while j < len(tokens) and (_is_name_word(tokens[j][2]) or tokens[j][2] in _CONNECTORS):
        if tokens[j][2] not in _CONNECTORS:
            last = j
        if re.search(r"[,;:)]$", tokens[j][2]):
            break
        j += 1
    return last


def _caps_name(text: str, tokens: list[Token], i: int) -> tuple[int, int] | None:
    """Two or more all-caps words followed by a defined term or ", as Issuer" ("ACME HOLDINGS (“Buyer”)")."""
    if i > 0 and _is_caps_word(tokens[i - 1][2]) and not tokens[i - 1][2].endswith(","):
        return None  # not the start of the run
    last = _run_end(tokens, i, _is_caps_word, len(tokens))
    if last - i < 1:
        return None
    after = text[tokens[last][1] : tokens[last][1] + 12]
    return (i, last) if re.match(r",?\s*(?:\(|as\s+[A-Z])", after) else None


def _run_end(tokens: list[Token], i: int, is_word: Callable[[str], bool], most: int) -> int:
    """The last of up to `most` words from tokens[i] that pass `is_word`, ending at a comma; i - 1 when none."""
    last = i
    while last < len(tokens) and last - i < most and is_word(tokens[last][2]):
        last += 1
        if tokens[last - 1][2].endswith(","):
            break
    return last - 1


def _titled_name(text: str, tokens: list[Token], i: int) -> tuple[int, int] | None:
    """Two to four capitalized words followed by a defined term or ", an individual": a person ("and Aitan
    Zacharin (the “Consultant”)") or a company named without a legal suffix."""
    if i > 0 and _is_name_word(tokens[i - 1][2]):
        return None  # not the start of the run, nor a place after a place ("New York, New York (“Licensee”)")
    if i > 0 and (tokens[i - 1][2] == "the" or _ALIAS.search(text, max(0, tokens[i][0] - 40), tokens[i][0])):
        return None  # "the Affiliate Office (“AFFILIATE”)" describes; "also known as Stryker ..." renames
    last = _run_end(tokens, i, _is_person_word, 4)
    if last - i < 1:
        return None
    after = text[tokens[last][1] : tokens[last][1] + 20]
    return (i, last) if re.match(r",?\s*(?:\((?:the\s+)?[“\"]|an\s+individual\b)", after) else None


_ALIAS = re.compile(r"\b(?:known\s+as|d/?b/?a|d\.b\.a\.|doing\s+business\s+as|trading\s+as)\s*$", re.I)


def _is_person_word(word: str) -> bool:
    bare = _bare(word)
    return (
        word[:1].isupper()
        and _is_name_word(word)
        and bare not in _SUFFIXES | {"the"}
        and not _ENUMERATOR.fullmatch(word)
    )


def _is_caps_word(word: str) -> bool:
    return bool(_CAPS_WORD.fullmatch(word.rstrip(","))) and _is_name_word(word)


def _value_end(word: str, end: int) -> int:
    """End of a name's last word without trailing punctuation; "Inc." keeps its period, "LLC." does not."""
    trimmed = re.sub(r"\W+$", "", word)
    if word[len(trimmed) :].startswith(".") and (trimmed.lower() in _ABBREVIATIONS or "." in trimmed):
        trimmed += "."
    return end - (len(word) - len(trimmed))


def _parties(stream: _Stream, span: tuple[int, int]) -> list[CardField]:
    names = _names(stream.text, *span)
    out: list[CardField] = []
    for n, (start, end) in enumerate(names):
        window = stream.text[end : names[n + 1][0] if n + 1 < len(names) else span[1]]
        out.append(_field(stream, "party", start, end, _role(window)))
    return out


def _role(window: str) -> str | None:
    """The party's defined term ("(the “Company” or “RCP”)" gives RCP) or its capacity ("as Issuer")."""
    for group in _DEFINED.finditer(window):
        terms = [
            t.strip() for t in _QUOTED.findall(group.group(1)) if t.strip().lower() not in _GENERIC_TERMS
        ]
        if terms:
            return next((t for t in terms if _ACRONYM.fullmatch(t)), terms[0]).rstrip(",.")
        bare = _BARE_ROLE.fullmatch(group.group(1).strip())  # "(Supplier)", English style
        if bare and bare.group(1).lower() not in _GENERIC_TERMS:
            return bare.group(1)
    capacity = _AS_ROLE.search(window)
    if capacity is None:
        return None
    words: list[str] = []
    for word in capacity.group(1).split(" "):
        if _bare(word) in _STOPWORDS - {"and"}:
            break
        words.append(word)
    return " ".join(words).rstrip(", ") or None


# --- dates ----------------------------------------------------------------------------------------

_MONTH = r"(?P<month>Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\b\.?"
_ORDINAL = r"(?:\s?(?:st|nd|rd|th|s\s?t|n\s?d|r\s?d|t\s?h)\b)?"  # "19t h": a text layer's split ordinal
_ORDINAL_WORDS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh",
    "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth", "seventeenth", "eighteenth", "nineteenth",
)  # fmt: skip
# "the first day of July, 2017": a day written out, up to "thirty-first" ("twenty first" too)
DAY_WORDS = {
    **{w: n for n, w in enumerate(_ORDINAL_WORDS, start=1)},
    "twentieth": 20,
    **{f"twenty-{w}": 21 + n for n, w in enumerate(_ORDINAL_WORDS[:9])},
    "thirtieth": 30,
    "thirty-first": 31,
}
DAY_WORD = "(?<!-)(?P<day>{})".format("|".join(w.replace("-", r"[\s-]") for w in DAY_WORDS))
_DATE_FORMS = tuple(
    re.compile(p, re.I)
    for p in (
        rf"\b{_MONTH}\s+(?P<day>\d{{1,2}}){_ORDINAL}\s?,?\s+(?P<year>\d{{4}})\b",  # "July 11 , 2006" too
        rf"\b(?P<day>\d{{1,2}}){_ORDINAL}\s+(?:day\s+of\s+)?{_MONTH},?\s+(?P<year>\d{{4}})\b",
        rf"\b{DAY_WORD}\s+day\s+of\s+{_MONTH},?\s+(?P<year>\d{{4}})\b",
        r"\b(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}|\d{2})\b",
        r"\b(?P<day>1[3-9]|2\d|3[01])/(?P<month>\d{1,2})/(?P<year>\d{4}|\d{2})\b",  # "29/3/18": day first
        r"\b(?P<year>\d{4})-(?P<month>\d{1,2})-(?P<day>\d{1,2})\b",
        r"(?P<year>\d{4})\s*年\s*(?P<month>\d{1,2})\s*月\s*(?P<day>\d{1,2})\s*日",
    )
)
# a date the preamble leaves blanks in, to fill in at signing ("this ____ day of ________, 2013"), or writes
# without its year ("made this 30th day of April"): read as far as it goes, normalized to ISO 8601's reduced
# forms ("2013", "2013-04", "--04-30"); `parse_date` reads full dates only
_BLANK = r"_{2,}"
_PARTIAL_FORMS = tuple(
    re.compile(p, re.I)
    for p in (
        rf"{_BLANK}\s*day\s+of\s+(?:{_BLANK}|{_MONTH}),?\s+(?:in\s+the\s+year\s+)?(?P<year>\d{{4}})\b",
        rf"\b(?P<day>\d{{1,2}}){_ORDINAL}\s+day\s+of\s+{_MONTH}(?!,?\s*(?:\d|_|in\s+the\s+year|(?:of|in)\s+(?:each|every)))",
    )
)
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_EFFECTIVE_BEFORE = re.compile(r"effective|生效", re.I)
_EFFECTIVE_AFTER = re.compile(r"[\s,]*\(?\s*(?:the\s+|this\s+)?[“\"]?Effective\s+Date", re.I)


def parse_date(value: str) -> dt.date | None:
    """The calendar date a full written date names ("19th day of December, 2018", "2020年1月18日")."""
    found = find_date(value)
    return dt.date.fromisoformat(found[1]) if found else None


def find_date(text: str, partial: bool = False) -> tuple[str, str] | None:
    """The first full written date in `text`, or with `partial` a partial one where there is none: as
    written, and its ISO 8601 form ("2018-12-19"; reduced where the text leaves a part out: "2013",
    "--04-30"). Only a document's own dating says a partial date is one: in a clause, "the 15th day of
    March" is a day of some year."""
    forms = _DATE_FORMS + _PARTIAL_FORMS if partial else _DATE_FORMS
    return next(((m.group(0), iso) for m in (f.search(text) for f in forms) if m and (iso := _iso(m))), None)


def _iso(match: re.Match[str]) -> str | None:
    """ISO 8601 form of a date match, reduced to the parts it has; None for no calendar date."""
    if match.re in _DATE_FORMS:
        date = _date_of(match)
        return date.isoformat() if date else None
    parts = match.groupdict()
    month = _MONTHS.index(parts["month"][:3].lower()) + 1 if parts.get("month") else None
    if parts.get("year"):
        return f"{parts['year']}-{month:02d}" if month else parts["year"]
    day = int(parts["day"])
    try:
        dt.date(2000, month or 0, day)  # a leap year: "29th day of February" is a day
    except ValueError:
        return None
    return f"--{month:02d}-{day:02d}"


def _date_of(match: re.Match[str]) -> dt.date | None:
    month = match.group("month")
    number = int(month) if month.isdigit() else _MONTHS.index(month[:3].lower()) + 1
    year = int(match.group("year"))
    if year < 100:  # "3/24/06"
        year += 2000 if year < 70 else 1900
    day = match.group("day")
    try:
        return dt.date(
            year, number, int(day) if day.isdigit() else DAY_WORDS[re.sub(r"\s", "-", day.lower())]
        )
    except ValueError:
        return None


def _date_matches(text: str, start: int, end: int) -> Iterator[re.Match[str]]:
    found = sorted(
        (m for f in _DATE_FORMS + _PARTIAL_FORMS for m in f.finditer(text, start, end) if _iso(m)),
        key=lambda m: m.start(),
    )
    taken = start
    for m in found:
        if m.start() >= taken:
            taken = m.end()
            yield m


# a date the first pages give the document outside a preamble: "Dated 29/3/18" on a cover, a preamble
# whose parties are not read ("... is effective as from the 1st day of January, 2009, by and between:"), or
# one after a table of contents when the cover named the parties ("entered into as of the 31 day of July")
_DATED = re.compile(r"\b(?:dated|(?:effective\s+)?as\s+(?:of|from)|effective\s+from|made\s+on)\b", re.I)
_DATED_REACH = 60  # characters after the words within which the date must begin


def _dated(stream: _Stream) -> list[CardField]:
    limit = min(_REACH, _first_block(stream, _STOP))
    for words in _DATED.finditer(stream.text, 0, limit):
        if found := _dates(stream, (words.start(), min(words.end() + _DATED_REACH, len(stream.text)))):
            return found[:1]
    return []


# a date the agreement takes effect on, said in a clause of the first pages rather than the preamble: "The
# effective date of the Franchise will be January 1, 2016.", "This Agreement shall become effective on ...",
# "“Commencement Date” means: 1st January 2013."
_TAKES_EFFECT = re.compile(
    r"\beffective\s+date\s+of\s+(?:this|the)\s+(?:[\w-]+\s+){0,4}?(?:is|will\s+be|shall\s+be)\s+"
    r"|\b(?:shall|will)\s+(?:become|be)\s+effective\s+(?:on|as\s+of|from)\s+"
    r"|\bagreement\s+(?:shall|will)\s+(?:commence|take\s+effect|come\s+into\s+(?:force|effect))\s+(?:on|as\s+of|from)\s+"
    r"|[“\"](?:effective|commencement)\s+date[”\"]\s+(?:means|shall\s+mean)\W*",  # a definition
    re.I,
)
_TAKES_EFFECT_REACH = 25  # characters after the words within which the date must begin ("the 1st day of")


def _effective_statement(stream: _Stream) -> list[CardField]:
    for words in _TAKES_EFFECT.finditer(stream.text):
        span = (words.end(), min(words.end() + _TAKES_EFFECT_REACH, len(stream.text)))
        m = next(
            (m for m in _date_matches(stream.text, span[0], len(stream.text)) if m.start() < span[1]), None
        )
        if m is not None:
            # cited by its sentence, which says what the date is: a clause, unlike a preamble, is read whole
            field = _field(stream, "date", m.start(), m.end(), "effective")
            return [
                field.model_copy(update={"regions": _regions(stream, *_sentence_of(stream, words.start()))})
            ]
    return []


def _sentence_of(stream: _Stream, pos: int) -> tuple[int, int]:
    """The span of the sentence holding text[pos], within its block."""
    text = stream.text
    ends = _sentence_ends(text)
    block_end = min((s for s in stream.block_starts if s > pos), default=len(text))
    start = max(_block_start(stream, pos), max((e for e in ends if e <= pos), default=0))
    end = min(min((e for e in ends if e > pos), default=block_end), block_end)
    while start < end and text[start].isspace():
        start += 1
    return start, end


def _dates(stream: _Stream, span: tuple[int, int]) -> list[CardField]:
    return [
        _field(stream, "date", m.start(), m.end(), _date_role(stream.text, m.start(), m.end(), span[0]))
        for m in _date_matches(stream.text, *span)
    ]


def _date_role(text: str, start: int, end: int, floor: int) -> str:
    """ "effective" for a date said to take effect ("effective as of <date>", "<date> (the "Effective
    Date")"), else "agreement"."""
    effective = _EFFECTIVE_BEFORE.search(text, max(floor, start - 40), start) or _EFFECTIVE_AFTER.match(
        text, end
    )
    return "effective" if effective else "agreement"


# a preamble dated by reference to a date written above it ("entered into and effective as of the date first
# written above"): the first date the first pages write before the preamble, as a header or cover does
_DATE_ABOVE = re.compile(
    r"\bdate\s+(?:first\s+)?(?:above\s+(?:written|set\s+forth|stated)|(?:written|set\s+forth|stated)\s+above)\b",
    re.I,
)


def _date_above(stream: _Stream, span: tuple[int, int], layouts: list[PageLayout]) -> list[CardField]:
    said = _DATE_ABOVE.search(stream.text, *span)
    if said is None:
        return []
    role = _date_role(stream.text, said.start(), said.end(), 0)
    page = next((p.region.page for p in stream.pieces if p.end > span[0]), None)
    headers = _stream(
        ((page, b) for lay in layouts if lay.page == page for b in lay.blocks if b.kind == "header"),
        frozenset({"header"}),
    )  # the header atop the preamble's page ("Sponsorship Agreement - July 16, 2012"), left out of `stream`
    for source, end in ((stream, span[0]), (headers, len(headers.text))):
        if date := next(_date_matches(source.text, 0, end), None):
            return [_field(source, "date", date.start(), date.end(), role)]
    return []


# --- title ----------------------------------------------------------------------------------------

_DOC_WORD = re.compile(
    r"\b(?:agreements?|contracts?|licen[cs]es?|leases?|amendments?|plan|addendum|memorandum|note|indenture|"
    r"deed|guarant(?:y|ee)|warrant|charter|bylaws|supplement|understanding|undertaking|protocol|"
    r"certificate|consent|waiver|instrument)\b|合同|协议|合约|契约|章程|备忘录",
    re.I,
)
_SOLO_DOC_WORDS = frozenset({"agreement", "contract", "indenture", "lease", "合同", "协议", "协议书"})
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_TITLE_END = re.compile(r"(?:合同|协议书?|合约|契约|章程|备忘录)\s*(?:[（(][^）)]*[）)])?$")
_NOT_TITLE = re.compile(
    r"(?:exhibit|schedule|annex|appendix|attachment)\s+[\w.\-]+\b|execution\s+(?:copy|version)|confidential|draft\b|"
    r"conformed\s+copy|table\s+of\s+contents|(?:by\s+and\s+)?between\b|among\b|and\b|dated\b",
    re.I,
)
_SMALL_WORDS = frozenset({"of", "and", "the", "for", "to", "in", "on", "by", "a", "an", "or", "with", "&"})
_FORM_OF = re.compile(r"form\s+of\s+", re.I)


def _title_line(stream: _Stream, before: int) -> CardField | None:
    """The first title-like line before `before`, joined with title-like neighbours of its block."""
    pieces = [p for p in stream.pieces if p.end <= before]
    for n, piece in enumerate(pieces):
        if not _is_title(piece.region.text or ""):
            continue
        first = last = n
        while first > 0 and _continues_title(pieces[first - 1], pieces[first], piece):
            first -= 1
        while last + 1 < len(pieces) and (
            _continues_title(pieces[last + 1], pieces[last], piece)
            or _dangles(pieces[last], pieces[last + 1])
        ):
            last += 1
        start = pieces[first].start
        form_of = _FORM_OF.match(stream.text, start)
        return _field(stream, "title", form_of.end() if form_of else start, pieces[last].end)
    return None


def _is_title(text: str) -> bool:
    t = text.strip()
    if not t or _NOT_TITLE.match(t) or not _DOC_WORD.search(t):
        return False
    if _CJK.search(t):
        # a Chinese title names the kind of document last: "房屋租赁合同", "技术服务协议（2021年版）"
        return (
            len(t) <= 40 and not re.search(r"[：:。；;，,]|[甲乙丙]方", t) and bool(_CJK_TITLE_END.search(t))
        )
    words = t.split()
    if len(words) > 14 or len(t) > 120 or re.search(r"[“”\"()]|\.\s", t) or re.search(r"[.;:,!?]$", t):
        return False
    if len(words) == 1 and t.lower() not in _SOLO_DOC_WORDS:
        return False
    return _headline_case(t)


# a title's lines sit close (a leading of ~1.2); a letterhead line above it, further (a scan's grouping
# can put both in one block: "PSITECHCORPORATION" over "WEBSITE CONTENT LICENSE AGREEMENT")
_TITLE_GAP = 0.6  # the most white space between two lines of one title, in line heights


def _continues_title(neighbour: _Piece, adjacent: _Piece, title: _Piece) -> bool:
    """Whether `neighbour`, the line above or below `adjacent` (a line of the title found so far), is
    part of the title that `title`'s line begins."""
    t = (neighbour.region.text or "").strip()
    a, b = neighbour.region.bbox, adjacent.region.bbox
    gap = max(a.y0 - b.y1, b.y0 - a.y1)
    return (
        neighbour.block == title.block
        and neighbour.region.page == adjacent.region.page
        and gap <= _TITLE_GAP * min(a.y1 - a.y0, b.y1 - b.y0)
        and not _NOT_TITLE.match(t)
        and _reads_as_title_line(t)
    )


_DANGLING_GAP = 2.0  # the most white space below a title line that ends in "to", "of" ..., in line heights


def _dangles(line: _Piece, below: _Piece) -> bool:
    """Whether `line` ends a title line in a word that needs more ("ADDENDUM TO") and `below` is the
    rest, set as a heading of its own ("ZEBRA® PARTNERCONNECT DISTRIBUTOR AGREEMENT")."""
    words = (line.region.text or "").split()
    a, b = line.region.bbox, below.region.bbox
    rest = (below.region.text or "").strip()
    return (
        bool(words)
        and words[-1].lower() in _SMALL_WORDS
        and below.region.page == line.region.page
        and 0 <= b.y0 - a.y1 <= _DANGLING_GAP * min(a.y1 - a.y0, b.y1 - b.y0)
        and _reads_as_title_line(rest)
    )


def _reads_as_title_line(text: str) -> bool:
    """A few words in headline case, without quotes, brackets or a closing punctuation mark."""
    return 0 < len(text.split()) <= 8 and not re.search(r"[“”\"()]|[.;:,!?]$", text) and _headline_case(text)


def _headline_case(text: str) -> bool:
    words = [w for w in re.findall(r"[^\W\d_][\w'’\-]*", text) if w.lower() not in _SMALL_WORDS]
    return bool(words) and sum(w[0].isupper() for w in words) >= 0.85 * len(words)


def _title_in_preamble(stream: _Stream, span: tuple[int, int]) -> CardField | None:
    """The agreement's name as the preamble writes it: "This Sponsorship and Services Agreement (...)"."""
    tokens = _tokens(stream.text, *span)[:20]
    doc = next((i for i, t in enumerate(tokens) if _DOC_WORD.fullmatch(_bare(t[2]))), None)
    if doc is None:
        return None
    while (
        doc + 1 < len(tokens) and _DOC_WORD.fullmatch(_bare(tokens[doc + 1][2])) and _in_title(tokens[doc][2])
    ):
        doc += 1  # "License Agreement"
    first = doc
    while first > 0 and _in_title(tokens[first - 1][2]):
        first -= 1
    while first < doc and tokens[first][2].lower() in _SMALL_WORDS:
        first += 1
    if first == doc:
        return None  # "This Agreement": no name
    return _field(stream, "title", tokens[first][0], _value_end(tokens[doc][2], tokens[doc][1]))


def _in_title(word: str) -> bool:
    if word.lower() in ("this", "the", "a", "an") or re.search(r"[,;:)(”\"]$", word):
        return False
    return word.lower() in _SMALL_WORDS or word[:1].isupper()


# --- Chinese contracts: 甲方：…公司, 签订日期：… -----------------------------------------------------

_CN_PARTY = re.compile(
    r"(?:[\u4e00-\u9fff]{0,6}[（(])?(?P<role>[甲乙丙丁]方)[）)]?(?:[（(][^）)]{0,10}[）)])?\s*[：:]\s*"
    r"(?P<value>[^\s，,。；;：:（(_]{2,60})"
)
_CN_NOT_NAME = re.compile(r"^[甲乙丙丁]方|签字|签章|盖章|代表")
_CN_DATE_LABEL = re.compile(r"(?P<label>签订|签署|签约|订立|生效)?(?:日期|时间)\s*[：:]\s*")


def _chinese_fields(stream: _Stream) -> tuple[list[CardField], list[CardField]]:
    text = stream.text
    parties: list[CardField] = []
    roles: set[str] = set()
    for m in _CN_PARTY.finditer(text):
        value = m.group("value")
        if (
            m.group("role") not in roles
            and re.search(r"[\u4e00-\u9fffA-Za-z]", value)
            and not _CN_NOT_NAME.search(value)
        ):
            roles.add(m.group("role"))
            parties.append(_field(stream, "party", m.start("value"), m.end("value"), m.group("role")))
    dates: list[CardField] = []
    for label in _CN_DATE_LABEL.finditer(text):
        found = next(_date_matches(text, label.end(), min(len(text), label.end() + 20)), None)
        if found is not None and found.start() == label.end():
            role = "effective" if label.group("label") == "生效" else "agreement"
            dates.append(_field(stream, "date", found.start(), found.end(), role))
    return parties, dates


# --- small helpers --------------------------------------------------------------------------------


def _unique(fields: list[CardField]) -> list[CardField]:
    """The first field of each value (case, spacing and punctuation ignored: "Acme, LLC" is "Acme LLC")
    and role."""
    seen: set[tuple[str, str | None]] = set()
    out: list[CardField] = []
    for f in fields:
        key = (" ".join(re.findall(r"\w+", f.value.lower())), f.role if f.name == "date" else None)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _readable(title: str) -> str:
    """An all-caps title in title case for reading; anything else as written."""
    if not title.isupper():
        return title
    words = title.lower().split()
    return " ".join(w if i and w in _SMALL_WORDS else w.capitalize() for i, w in enumerate(words))


def _sentence(text: str) -> str:
    return text if text.endswith((".", "。")) else f"{text}."
