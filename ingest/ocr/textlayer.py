"""Text-layer engine: blocks, headings, lists, tables and reading order from a PDF's own text (PyMuPDF).

PyMuPDF gives PDF points with a top-left origin; every box here is normalized with `BBox.from_points`.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pymupdf

from ingest.configs import TextLayerConfig
from ingest.errors import BadOcrOption, DamagedFile
from ingest.layout import BBox, Block, Line, PageLayout, WordsX
from ingest.ocr.engine import OcrOptions
from ingest.ocr.furniture import edge_furniture
from ingest.ocr.pdf_lines import (
    BULLET_ITEM_RE,
    LIST_RE,
    LineCache,
    PdfLine,
    attach_bullets,
    attach_drop_caps,
)
from ingest.ocr.reading_order import mark_furniture, order_blocks
from ingest.ocr.tables import count_rulings, figure_blocks, table_blocks
from ingest.page import PageImage

__all__ = [
    "TextLayerConfig",
    "TextLayerEngine",
    "has_real_text",
    "judge_text_layer",
    "mark_furniture",
    "text_layer_stats",
]

# prefixes written with a hyphen in compounds; never "re"/"pre"/"co"/"ex", where TeX breaks plain words
HYPHEN_PREFIXES = frozenset(
    {"non", "self", "post", "anti", "multi", "semi", "quasi", "pseudo", "cross", "well"}
)
_WORDY_RE = re.compile(r"[^\W\d_]{2,}")  # headings have a word of two letters or more
# "within thirty\n(30) days": a number in words restated in digits across a line break, no list item
_NUMBER_RESTATED = re.compile(
    r"\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty"
    r"|sixty|seventy|eighty|ninety|hundred|thousand)\n\(\d{1,4}\)\s",
    re.IGNORECASE,
)
_MATH_RE = re.compile(r"[=+−±×÷∇∂∑∏∫√≤≥≠≈∞⋅]")
CAPTION_RE = re.compile(r"^(?:Figure|Fig\.|Table|Listing|Chart)\s*[0-9IVX]+[.:\s]", re.IGNORECASE)
_BAD_CHARS_RE = re.compile(r"[\ufffd\ue000-\uf8ff\x00-\x08\x0b\x0c\x0e-\x1f]")
_WORD_RE = re.compile(r"^[^\W_]+(?:[-'’.,/][^\W_]+)*$")
# each page's lines, parsed once for the router's check, the font sample and the extraction
_LINES = LineCache()


# --------------------------------------------------------------------------------------------- fonts
@dataclass(frozen=True)
class FontStats:
    """Document-level font facts: body size, heading sizes (largest first) and a title size if clear."""

    body: float
    heading_sizes: tuple[float, ...] = ()
    title: float | None = None


def font_stats_from(
    sizes: Counter[float], short_lines: dict[float, set[int]], low_sizes: set[float], ratio: float
) -> FontStats:
    """Pure rule: body = most common size by characters; heading sizes = larger sizes on short lines;
    title = the largest size (>= 1.4x body) when it is used on one of the first two pages only, in the
    top half of the page (`low_sizes` are sizes seen in a bottom half)."""
    if not sizes:
        return FontStats(body=10.0)
    body = sizes.most_common(1)[0][0]
    larger = sorted((s for s in short_lines if s >= body * ratio), reverse=True)
    title = None
    if larger and larger[0] >= body * 1.4:
        pages = short_lines[larger[0]]
        if len(pages) == 1 and min(pages) <= 2 and larger[0] not in low_sizes:
            title = larger[0]
            larger = larger[1:]
    return FontStats(body=body, heading_sizes=tuple(larger), title=title)


def _read_fonts(doc: pymupdf.Document, source: str, ratio: float, max_pages: int) -> FontStats:
    sizes: Counter[float] = Counter()
    short_lines: dict[float, set[int]] = {}
    low_sizes: set[float] = set()
    step = max(1, doc.page_count // max_pages)
    for pno in range(0, doc.page_count, step)[:max_pages]:
        page = doc[pno]
        for line in _LINES.lines(source, page):
            sizes[line.size] += len(line.text)
            if len(line.text) <= 120:
                short_lines.setdefault(line.size, set()).add(pno + 1)
            if line.box[1] > page.rect.height / 2:
                low_sizes.add(line.size)
    return font_stats_from(sizes, short_lines, low_sizes, ratio)


@lru_cache(maxsize=8)
def _cached_fonts(path: str, mtime_ns: int, ratio: float, max_pages: int) -> FontStats:
    with pymupdf.open(path) as doc:
        return _read_fonts(doc, path, ratio, max_pages)


@dataclass
class _Para:
    lines: list[PdfLine] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(ln.text for ln in self.lines)

    @property
    def box(self) -> tuple[float, float, float, float]:
        bs = [ln.box for ln in self.lines]
        return min(b[0] for b in bs), min(b[1] for b in bs), max(b[2] for b in bs), max(b[3] for b in bs)


def _paragraphs(lines: list[PdfLine]) -> list[_Para]:
    """Group lines top-down: a line joins the paragraph right above it when the style matches, the columns
    overlap and no paragraph cue (list marker, first-line indent, wide gap) starts a new one."""
    paras: list[_Para] = []
    spacing = _line_spacing(lines)
    for line in sorted(lines, key=lambda ln: ln.box[1]):
        target = min(
            (p for p in paras[-40:] if _continues(p, line, spacing)),
            key=lambda p: line.box[1] - p.lines[-1].box[3],
            default=None,
        )
        if target is None:
            paras.append(_Para([line]))
        else:
            target.lines.append(line)
    return paras


MIN_SPACING_PAIRS = 8  # line pairs a page needs before its own line spacing is trusted
DOUBLE_SPACED = 0.7  # a page whose closest lines are this far apart (in line heights) is double-spaced
# a clause's number opens a paragraph: "3.1.2. EIT commits ...", "10.8 Jurisdiction.", "Section 5 ..."
_CLAUSE_START = re.compile(r"^\s*(?:\d{1,3}(?:\.\d{1,3})+\.?|(?:section|article)\s+[\dIVXLC]+\b)", re.I)


def _line_spacing(lines: list[PdfLine]) -> float:
    """A double-spaced page's gap between the lines of a paragraph, in line heights: the 20th percentile of
    the gaps between vertically adjacent, horizontally overlapping lines, when even that is
    `DOUBLE_SPACED` or more; else 0 (the page is single-spaced, or has too few lines to tell)."""
    ordered = sorted(lines, key=lambda ln: ln.box[1])
    gaps = sorted(
        (b.box[1] - a.box[3]) / max(1.0, a.box[3] - a.box[1])
        for a, b in zip(ordered, ordered[1:], strict=False)
        if min(a.box[2], b.box[2]) > max(a.box[0], b.box[0])
        and 0 <= b.box[1] - a.box[3] <= 2.5 * (a.box[3] - a.box[1])
    )
    if len(gaps) < MIN_SPACING_PAIRS:
        return 0.0
    closest = gaps[len(gaps) // 5]
    return closest if closest >= DOUBLE_SPACED else 0.0


def _continues(para: _Para, line: PdfLine, spacing: float = 0.0) -> bool:
    prev = para.lines[-1]
    height = max(1.0, prev.box[3] - prev.box[1])
    gap = line.box[1] - prev.box[3]
    if gap < -0.3 * height:
        return False
    if gap > (0.9 if line.block == prev.block else 0.7) * height and (
        gap > 1.15 * spacing * height or _CLAUSE_START.match(line.text)
    ):
        return False  # a double-spaced page's lines join across their wide gaps, but not at a clause number
    overlap = min(prev.box[2], line.box[2]) - max(prev.box[0], line.box[0])
    # within one of PyMuPDF's blocks any overlap will do: a short last line under an indented first one
    # ("17. Governing Law. This Agreement ... conflict of" / "laws provisions.") ends its paragraph
    if overlap <= 0 or (
        overlap < 0.5 * min(prev.box[2] - prev.box[0], line.box[2] - line.box[0]) and line.block != prev.block
    ):
        return False
    if _opens_list_item(prev, line) or abs(line.size - prev.size) > 0.6:
        return False
    if line.bold != prev.bold or line.mono != prev.mono:
        return False
    indented = line.box[0] - prev.box[0] > 0.5 * height
    # a first-line indent starts a paragraph; a hanging indent (second line indented) continues one
    return not (indented and (len(para.lines) > 1 or line.block != prev.block))


def _opens_list_item(prev: PdfLine, line: PdfLine) -> bool:
    """A list marker opens `line`, unless its digits restate the number ending `prev` ("ten" / "(10) year")."""
    return bool(LIST_RE.match(line.text)) and not _NUMBER_RESTATED.search(f"{prev.text}\n{line.text}")


# --------------------------------------------------------------------------------------------- kinds
def classify(para: _Para, fonts: FontStats, config: TextLayerConfig) -> tuple[str, int | None]:
    """Pure rule: (kind, heading level) of one paragraph given the document's font statistics."""
    text = para.text
    size = Counter(ln.size for ln in para.lines).most_common(1)[0][0]
    sentence = text.rstrip().endswith(".") and len(text.split()) >= 6
    short = len(text) <= config.heading_max_chars and len(para.lines) <= 3 and not sentence
    short = short and _WORDY_RE.search(text) is not None
    if _MATH_RE.search(text) and not re.search(r"[^\W\d_]{3,}", text):
        return "text", None  # a displayed formula set large ("e + iπ 1 = 0") is not a heading
    if BULLET_ITEM_RE.match(text):
        return "list", None
    if short and fonts.title is not None and abs(size - fonts.title) < 0.6:
        return "title", 1
    shift = 1 if fonts.title is not None else 0
    if short and size >= fonts.body * config.heading_size_ratio and not text.endswith(","):
        rank = next(
            (i for i, s in enumerate(fonts.heading_sizes) if size >= s - 0.25), len(fonts.heading_sizes)
        )
        return "heading", min(6, rank + 1 + shift)
    if CAPTION_RE.match(text):
        return "caption", None
    if LIST_RE.match(text):
        return "list", None
    bold = all(ln.bold for ln in para.lines) and size >= fonts.body * 0.95
    if short and bold and len(text) <= 100 and not text.endswith((".", ",", ";")):
        return "heading", min(6, len(fonts.heading_sizes) + 1 + shift)
    if all(ln.mono for ln in para.lines):
        return "code", None
    return "text", None


def _markdown(kind: str, para: _Para, vocab: set[str]) -> str:
    if kind == "code":
        return "\n".join(ln.text for ln in para.lines)
    out = ""
    for ln in para.lines:
        word = out.rpartition(" ")[2]
        if len(word) > 1 and word.endswith("-") and ln.text[:1].islower():
            out = (out if keeps_hyphen(word, ln.text, vocab) else out[:-1]) + ln.text
        else:
            out = f"{out} {ln.text}" if out else ln.text
    return out


def keeps_hyphen(first: str, rest: str, vocab: set[str]) -> bool:
    """Pure rule for a line ending in a hyphen: a compound ("non-governmental", "self-publishing") keeps it,
    a word broken across lines ("organi-sations") is joined. The page's own words decide first (either
    form seen unbroken elsewhere), then a prefix that writes compounds with a hyphen."""
    left = first.rstrip("-").lstrip("(\"“‘'").lower()
    right = re.match(r"[^\W\d_]*", rest).group(0).lower()  # type: ignore[union-attr]
    if f"{left}-{right}" in vocab:
        return True
    if left + right in vocab:
        return False
    return left in HYPHEN_PREFIXES or left.rsplit("-", 1)[-1] in HYPHEN_PREFIXES


def page_vocabulary(lines: list[PdfLine]) -> set[str]:
    """Lower-cased words of the page (hyphenated compounds whole) that the hyphen rule looks up."""
    return {w.lower() for ln in lines for w in re.findall(r"[^\W\d_]+(?:-[^\W\d_]+)*", ln.text)}


# --------------------------------------------------------------------------------------------- page
def _inside(line: PdfLine, tables: list[BBox], size: tuple[float, float]) -> bool:
    cx, cy = (line.box[0] + line.box[2]) / 2 / size[0], (line.box[1] + line.box[3]) / 2 / size[1]
    return any(t.x0 - 0.005 <= cx <= t.x1 + 0.005 and t.y0 - 0.005 <= cy <= t.y1 + 0.005 for t in tables)


def extract_blocks(
    page: pymupdf.Page, page_text: list[PdfLine], fonts: FontStats, config: TextLayerConfig
) -> list[Block]:
    """Every block of one PDF page in reading order; `page_text` is its `page_lines` (changed here)."""
    size = (page.rect.width, page.rect.height)
    run_tables = config.tables == "always" or (
        config.tables == "auto" and count_rulings(page) >= config.min_rulings
    )
    tables = table_blocks(page, size) if run_tables else []
    lines = [
        ln
        for ln in attach_drop_caps(attach_bullets(page_text))
        if not _inside(ln, [t.bbox for t in tables], size)
    ]
    blocks: list[Block] = [*tables, *figure_blocks(page, size, [ln.box for ln in lines])]
    furniture = _furniture_lines(lines, size)
    blocks += [_line_block(kind, lines[i], size) for i, kind in furniture.items()]
    vocab = page_vocabulary(lines)
    words = page.get_text("words", flags=pymupdf.TEXT_MEDIABOX_CLIP)
    for para in _paragraphs([ln for i, ln in enumerate(lines) if i not in furniture]):
        kind, level = classify(para, fonts, config)
        blocks.append(
            Block(
                kind=kind,  # type: ignore[arg-type]
                level=level,
                markdown=_markdown(kind, para, vocab),
                bbox=BBox.from_points(para.box, size),
                label="textlayer",
                lines=[
                    Line(
                        text=ln.text, bbox=BBox.from_points(ln.box, size), words_x=words_x(ln, words, size[0])
                    )
                    for ln in para.lines
                ],
            )
        )
    return order_blocks(blocks)


def words_x(line: PdfLine, words: list[tuple[Any, ...]], width: float) -> WordsX | None:
    """Each word's horizontal extent on the line, from PyMuPDF's words (x0, y0, x1, y1, text, ...) whose
    centre lies in the line's box; None when they do not pair one to one with the line's words."""
    x0, y0, x1, y1 = line.box
    inside = sorted(
        (w for w in words if x0 - 1 <= (w[0] + w[2]) / 2 <= x1 + 1 and y0 - 1 <= (w[1] + w[3]) / 2 <= y1 + 1),
        key=lambda w: w[0],
    )
    if len(inside) != len(line.text.split()):
        return None
    return [(round(w[0] / width, 5), round(w[2] / width, 5)) for w in inside]


def _furniture_lines(lines: list[PdfLine], size: tuple[float, float]) -> dict[int, str]:
    """Header/footer lines found before paragraphs are built, so a running head never joins the body."""
    items = [(ln.text, BBox.from_points(ln.box, size), (ln.box[3] - ln.box[1]) / size[1]) for ln in lines]
    return edge_furniture(items)


def _line_block(kind: str, line: PdfLine, size: tuple[float, float]) -> Block:
    box = BBox.from_points(line.box, size)
    return Block(
        kind=kind,  # type: ignore[arg-type]
        markdown=line.text,
        bbox=box,
        label="textlayer",
        lines=[Line(text=line.text, bbox=box)],
    )


def _open_pdf(page: PageImage) -> pymupdf.Document:
    if page.source is None or page.unit != "pt":
        raise BadOcrOption(
            "the text-layer engine reads PDF pages only; use engine 'auto' or 'rapidocr' for images"
        )
    try:
        return pymupdf.open(page.source)
    except (pymupdf.FileDataError, RuntimeError) as exc:
        raise DamagedFile(f"could not reopen {Path(page.source).name} for its text layer: {exc}") from exc


class TextLayerEngine:
    name = "textlayer"

    def __init__(self, config: TextLayerConfig | None = None) -> None:
        self.config = config or TextLayerConfig()

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        return await asyncio.to_thread(self.recognize_sync, page)

    def recognize_sync(self, page: PageImage) -> PageLayout:
        cfg = self.config
        with _open_pdf(page) as doc:
            src = Path(str(page.source))
            fonts = _cached_fonts(
                str(src), src.stat().st_mtime_ns, cfg.heading_size_ratio, cfg.font_sample_pages
            )
            pdf_page = doc[page.page - 1]
            blocks = extract_blocks(pdf_page, _LINES.lines(src, pdf_page, last=True), fonts, cfg)
            raw = pdf_page.get_text()
        return page.layout(self.name, unit="pt", blocks=blocks, raw=raw)


# --------------------------------------------------------------------------------------------- real text?
@dataclass(frozen=True)
class TextLayerStats:
    chars: int  # printable, non-space characters
    bad: int  # U+FFFD, private-use and control characters
    wordlike: float  # share of tokens that look like words or numbers
    invisible: float  # share of characters drawn invisibly (render mode 3: an OCR layer)


MIN_REAL_CHARS = 30


def judge_text_layer(stats: TextLayerStats) -> bool:
    """Pure rule: enough printable text, few broken glyphs, mostly word-like tokens; an invisible (OCR) layer
    must be cleaner still, since its fonts carry no structure and its text is someone else's OCR."""
    if stats.chars < MIN_REAL_CHARS or stats.bad > 0.05 * stats.chars:
        return False
    if stats.invisible >= 0.9:
        return stats.chars >= 2 * MIN_REAL_CHARS and stats.wordlike >= 0.8
    return stats.wordlike >= 0.5


def text_layer_stats(lines: list[PdfLine]) -> TextLayerStats:
    text = " ".join(ln.text for ln in lines)
    chars = sum(1 for c in text if not c.isspace() and c.isprintable())
    hidden = sum(len(ln.text) for ln in lines if ln.invisible)
    tokens = [t.strip("()[]{}\"'“”‘’:;,.!?") for t in text.split()]
    tokens = [t for t in tokens if t]
    wordlike = sum(1 for t in tokens if _WORD_RE.match(t)) / len(tokens) if tokens else 0.0
    total = sum(len(ln.text) for ln in lines) or 1
    return TextLayerStats(chars, len(_BAD_CHARS_RE.findall(text)), wordlike, hidden / total)


def has_real_text(page: PageImage) -> bool:
    """True when the page's PDF text layer holds real text worth using instead of OCR (see judge_text_layer)."""
    if (
        page.unit != "pt"
        or page.source is None
        or str(page.source).lower().endswith((".png", ".jpg", ".tif"))
    ):
        return False
    if page.text_chars and page.text_chars < MIN_REAL_CHARS:
        return False
    try:
        with pymupdf.open(page.source) as doc:
            return judge_text_layer(text_layer_stats(_LINES.lines(page.source, doc[page.page - 1])))
    except (pymupdf.FileDataError, RuntimeError, IndexError, ValueError):
        return False
