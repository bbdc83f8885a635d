"""Headings on OCR pages, from the text and the line heights alone (no fonts): numbered side headings
("1. TERM; TERMINATION" in a margin column), one-line ALL CAPS titles and lines clearly taller than the body.

Pure functions on any engine's blocks and lines; boxes are normalized (0..1 of the page).
"""

from __future__ import annotations

import re
import statistics

from ingest.clauses import ARTICLE_LEVEL, is_title_like, parse_number, sub_clause
from ingest.layout import BBox, Block, Line

HEADING_MAX_WORDS = 10  # a heading found by caps or height is at most this many words
CAPS_MIN_LETTERS = 4  # "A." or "USD" alone is no heading
TALL_RATIO = 1.4  # a one-line block this much taller than the page's median line is a heading
CJK_TITLE_MAX_CHARS = 20  # a Chinese title is a short line ...
_CJK_STOPS = "。，；！？、,;"  # ... that does not end like a sentence or a clause


def is_side_heading(text: str) -> bool:
    """A short numbered title ("1. TERM; TERMINATION", "Section 4 Payment"), the kind contracts set in a
    margin column beside the clause's text. Unnumbered caps are not enough: a table's header row
    ("CODE/DESC   PRICE Disc AMOUNT") looks the same."""
    number = parse_number(text)
    return number is not None and bool(number.rest.strip()) and is_title_like(number.rest)


def is_caps_title(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    words = text.split()
    return (
        len(letters) >= CAPS_MIN_LETTERS
        and len(words) <= HEADING_MAX_WORDS
        and all(c.isupper() for c in letters)
        and not text.rstrip().endswith(",")
    )


def mark_headings(blocks: list[Block]) -> list[Block]:
    """The blocks with one-line titles marked as headings: ALL CAPS, or much taller than the body.
    Numbered titles are left to `ingest.clauses`, which gives them their level from the numbering."""
    heights = [ln.bbox.y1 - ln.bbox.y0 for b in blocks for ln in b.lines]
    body = statistics.median(heights) if heights else 0.0
    out = []
    for block in blocks:
        if block.kind == "text" and len(block.lines) == 1 and _is_heading(block, body):
            block = block.model_copy(update={"kind": "heading", "level": 2})
        out.append(block)
    return out


def _is_heading(block: Block, body_height: float) -> bool:
    text = block.markdown.strip()
    height = block.bbox.y1 - block.bbox.y0
    if is_cjk_title(text, height, body_height):
        return True
    if parse_number(text) is not None or len(text.split()) > HEADING_MAX_WORDS:
        return False
    tall = body_height > 0 and height >= TALL_RATIO * body_height
    return is_caps_title(text) or (tall and any(c.isalpha() for c in text))


def is_cjk_title(text: str, height: float, body_height: float) -> bool:
    """A short line of Chinese characters, no digits, no "label：value" colon, not ending like a sentence
    or a clause, and no smaller than the body ("投资要点", "盈利预测与估值"). Set a size or two above
    the body, such titles come out of the detector no taller than its lines (boxes are padded), so the
    height only rules out notes and captions. Latin text never matches."""
    text = "".join(text.split())
    cjk = sum(1 for c in text if "\u4e00" <= c <= "\u9fff")
    return (
        0 < len(text) <= CJK_TITLE_MAX_CHARS
        and cjk >= 0.8 * len(text)
        and not any(c.isdigit() or c in "：:" for c in text)
        and text[-1] not in _CJK_STOPS
        and height >= 0.95 * body_height
    )


# --- paragraphs ------------------------------------------------------------------------------
INDENT = 1.5  # a row starting this many line heights right of the block's left edge opens a paragraph
GAP = 1.6  # a row this many times the block's usual line pitch below the last one opens a paragraph
SHORT = 0.7  # a row ending before this share of the block's width ends its paragraph
MIN_ROWS = 3  # fewer rows than this leave the block as it is
_PAGE_REF = re.compile(r"\s\d{1,3}$")  # a table-of-contents entry ends with its page number
_BARE_NUMBER = re.compile(r"^(?:ARTICLE|Article|SECTION|Section)\s*(?:[IVXLC]+|\d+)\.?$")


def split_paragraphs(blocks: list[Block]) -> list[Block]:
    """OCR blocks cut into paragraphs and heading lines, in order, from their lines' geometry and text:
    a row indented, after a wide gap, or opening with legal numbering or ALL CAPS after a short row starts
    a new block, and a short heading-like row ends its own. Scans of contracts come out of line grouping
    as one block per page, where the text layer has a block per paragraph and heading; chunking by
    headings needs them apart. Blocks without lines (DeepSeek's) are kept as they are."""
    out: list[Block] = []
    for block in blocks:
        rows = _line_rows(block)
        texts = [" ".join(ln.text for ln in r) for r in rows]
        contents = sum(bool(_PAGE_REF.search(t)) for t in texts) >= 0.5 * len(rows)
        if block.kind != "text" or len(rows) < MIN_ROWS or contents:
            out.append(block)  # a table of contents stays whole: its entries are no headings here
            continue
        out += [_sub_block(block, part) for part in _paragraphs(block, rows)]
    return [b.model_copy(update={"order": i}) for i, b in enumerate(out)]


Row = list[Line]


def _line_rows(block: Block) -> list[Row]:
    rows: list[Row] = []
    for ln in sorted(block.lines, key=lambda ln: (ln.bbox.y0 + ln.bbox.y1) / 2):
        mid = (ln.bbox.y0 + ln.bbox.y1) / 2
        last = rows[-1][0].bbox if rows else None
        if last and last.y0 < mid < last.y1:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [sorted(r, key=lambda ln: ln.bbox.x0) for r in rows]


def _paragraphs(block: Block, rows: list[Row]) -> list[list[Row]]:
    height = statistics.median(ln.bbox.y1 - ln.bbox.y0 for r in rows for ln in r)
    left, right = _left_margin(rows), block.bbox.x1
    mids = [statistics.mean((ln.bbox.y0 + ln.bbox.y1) / 2 for ln in r) for r in rows]
    pitch = statistics.median(b - a for a, b in zip(mids, mids[1:], strict=False))
    parts: list[list[Row]] = [[rows[0]]]

    def short(row: Row) -> bool:
        return row[-1].bbox.x1 < left + SHORT * (right - left)

    for i in range(1, len(rows)):
        prev, row = rows[i - 1], rows[i]
        prev_text = " ".join(ln.text for ln in prev)
        text = " ".join(ln.text for ln in row)
        prev_short = short(prev)
        starts = (
            row[0].bbox.x0 > left + INDENT * height
            or mids[i] - mids[i - 1] > GAP * pitch
            or (prev_short and (_numbered(text) or is_caps_title(text)))
            or (prev_short and _heading_like(prev_text))
            or (prev_short and short(row) and _cjk_title_row(row, height))
            or (prev_short and _cjk_title_row(prev, height))
        )
        if starts and not (_BARE_NUMBER.match(prev_text) and is_caps_title(text)):
            parts.append([])
        parts[-1].append(row)
    return parts


def _left_margin(rows: list[Row]) -> float:
    """Where the block's rows start, its first row aside: a first line sticking out to the left (a doi
    above a column, a hanging number) does not make every row under it look indented."""
    return min(r[0].bbox.x0 for r in rows[1:])


def _cjk_title_row(row: Row, body_height: float) -> bool:
    text = " ".join(ln.text for ln in row)
    return is_cjk_title(text, statistics.median(ln.bbox.y1 - ln.bbox.y0 for ln in row), body_height)


def _numbered(text: str) -> bool:
    return parse_number(text) is not None or sub_clause(text) is not None


def _heading_like(text: str) -> bool:
    number = parse_number(text)
    return is_caps_title(text) or (number is not None and is_title_like(number.rest))


def _sub_block(block: Block, rows: list[Row]) -> Block:
    lines = [ln for r in rows for ln in r]
    texts = [" ".join(ln.text for ln in r) for r in rows]
    update: dict[str, object] = {
        "markdown": "\n".join(texts),
        "bbox": BBox.union(ln.bbox for ln in lines),
        "lines": lines,
    }
    if len(rows) == 2 and _BARE_NUMBER.match(texts[0]) and is_caps_title(texts[1]):
        # "ARTICLE IV" over "TERM AND TERMINATION": one heading, as the text layer gives it
        update |= {"markdown": " ".join(texts), "kind": "heading", "level": ARTICLE_LEVEL}
    return block.model_copy(update=update)
