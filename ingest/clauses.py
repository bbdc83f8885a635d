"""Contract structure from legal numbering: clause labels, numbered headings, run-in clause titles.

Engines mark headings by font (text layer) or not at all (OCR): contracts number their clauses instead
("ARTICLE IV", "Section 12", "12.3", "12.3(a)", "第十二条"). `mark_clauses` reads that numbering on any engine's
blocks: each block that opens with a number gets `Block.clause`, and a short numbered title ("12. GOVERNING
LAW", "Section 2.1 Transfers.") becomes a heading whose level follows the numbering's depth. Pure.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingest.layout import Block, PageLayout

# heading levels by numbering depth: 1 is the document title, articles sit above sections
ARTICLE_LEVEL = 2
SECTION_LEVEL = 3
MAX_LEVEL = 6
HEADING_MAX_WORDS = 14  # a numbered block this short (after its number) that reads as a title is a heading
RUN_IN_MAX_WORDS = 8  # "12.3 Governing Law. This Agreement ..." : the title before the first period

_ROMAN = r"[IVXLC]+"
# OCR drops the space now and then ("ARTICLE1", "ARTICLEIV")
_ARTICLE = re.compile(rf"^(?:ARTICLE|Article)(?:\s+({_ROMAN}|\d+|[A-Z]{{3,}})|({_ROMAN}|\d+))\b[.:]?\s*")
_SECTION_WORD = re.compile(r"^(?:SECTION|Section|§+)\s*(\d+(?:\.\d+)*)(\([a-z0-9]{1,4}\))?\.?\s*")
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})(\([a-z0-9]{1,4}\))?(?:\.|\s)\s*(?=\S)")
# Chinese contracts: 第三章 (chapter), 第二节 (section), 第十二条 (article), 第一款 (paragraph)
_CHINESE = re.compile(r"^第\s*([〇零一二三四五六七八九十百千\d]+)\s*([章节条款])\s*")
_CHINESE_LEVELS = {"章": ARTICLE_LEVEL, "节": SECTION_LEVEL, "条": SECTION_LEVEL, "款": SECTION_LEVEL + 1}
_CJK = re.compile(r"[\u4e00-\u9fff]")
_CJK_STOPS = re.compile(r"[，。；：,;:]")
CJK_HEADING_MAX_CHARS = 20
_SUB = re.compile(r"^\(([a-z]{1,2}|[ivx]{1,5}|\d{1,2})\)\s+")
_SMALL_WORDS = frozenset({"with", "upon", "from", "into", "under", "over", "than", "that", "this", "such"})
_WORD_NUMBERS = {"ONE": "1", "TWO": "2", "THREE": "3", "FOUR": "4", "FIVE": "5", "SIX": "6", "SEVEN": "7"}


@dataclass(frozen=True)
class ClauseNumber:
    label: str  # normalized: "Article IV", "12", "12.3", "12.3(a)"
    level: int  # heading level this numbering sits at
    rest: str  # the block's text after the number


def parse_number(text: str) -> ClauseNumber | None:
    """The legal numbering a block opens with, or None (dates, amounts and list markers are not clauses)."""
    text = text.lstrip("#* ").strip()
    if m := _CHINESE.match(text):
        return ClauseNumber(f"第{m.group(1)}{m.group(2)}", _CHINESE_LEVELS[m.group(2)], text[m.end() :])
    if m := _ARTICLE.match(text):
        word = m.group(1) or m.group(2)
        number = _WORD_NUMBERS.get(word, word)
        if number.isupper() and not re.fullmatch(_ROMAN, number):
            return None  # "ARTICLE DEFINITIONS": a word, not a number
        return ClauseNumber(f"Article {number}", ARTICLE_LEVEL, text[m.end() :])
    m = _SECTION_WORD.match(text) or _NUMBERED.match(text)
    if m is None:
        return None
    number, sub = m.group(1), m.group(2) or ""
    rest = text[m.end() :]
    if rest[:1].islower():
        return (
            None  # "Section 2.1(d) of the Transfer Agreement ...": a reference running on from a page before
        )
    if _NUMBERED.match(text) and not _SECTION_WORD.match(text):
        if "." not in text[: m.end()] and not sub:
            return None  # "12 months", "2020 ..." : a bare number without a dot is no clause number
        if int(number.split(".")[0]) > 50 or not rest[:1].isalpha() and not rest.startswith(("(", "“", '"')):
            return None
    depth = number.count(".") + (1 if sub else 0)
    return ClauseNumber(number + sub, min(MAX_LEVEL, SECTION_LEVEL + depth), rest)


def sub_clause(text: str) -> str | None:
    """The "(a)" / "(ii)" marker a list item opens with, or None."""
    m = _SUB.match(text.strip())
    return f"({m.group(1)})" if m else None


def run_in_title(rest: str) -> str | None:
    """ "Governing Law" from "Governing Law. This Agreement shall ..." (a short title before the first period);
    "租金支付" from "租金支付 承租人应于..." (a Chinese title ends at the first space)."""
    if _CJK.match(rest):
        head, space, tail = rest.partition(" ")
        fits = 0 < len(head) <= CJK_HEADING_MAX_CHARS and not _CJK_STOPS.search(head)
        return head if space and tail.strip() and fits else None
    head, dot, tail = rest.partition(". ")
    words = head.split()
    if not dot or not tail or not 0 < len(words) <= RUN_IN_MAX_WORDS:
        return None
    content = [w for w in words if len(w) > 3 and w.lower() not in _SMALL_WORDS]
    return head.strip() if content and all(w[:1].isupper() for w in content) else None


def is_title_like(rest: str) -> bool:
    """A numbered block that is a heading: short, and not a sentence (no period inside, no lower-case run)."""
    if _CJK.match(rest):
        return len(rest.strip()) <= CJK_HEADING_MAX_CHARS and not _CJK_STOPS.search(rest.rstrip("。"))
    words = rest.split()
    if not words or len(words) > HEADING_MAX_WORDS:
        return False
    body = rest.rstrip(" .:;")
    if ". " in body or body.endswith(","):
        return False
    long_words = [w for w in words if len(w) > 3]
    return not long_words or sum(w[:1].isupper() for w in long_words) >= 0.6 * len(long_words)


def label_block(block: Block) -> Block:
    """The block with its clause label, promoted to a heading when it is a short numbered title."""
    if block.kind not in ("text", "heading", "list", "title"):
        return block
    number = parse_number(block.markdown)
    if number is None:
        return block
    if block.kind in ("text", "list") and is_title_like(number.rest):
        return block.model_copy(update={"clause": number.label, "kind": "heading", "level": number.level})
    # a heading the engine found keeps its level: the document's fonts already rank its sections
    return block.model_copy(update={"clause": number.label})


def mark_clauses(layouts: list[PageLayout]) -> list[PageLayout]:
    """Every page with its blocks' clause labels and numbered headings (see the module docstring)."""
    return [lay.model_copy(update={"blocks": [label_block(b) for b in lay.blocks]}) for lay in layouts]


def chip(clause: str | None, page: int | None) -> str:
    """How a citation reads in the UI and CLI: "§12.3 · p. 15", "Article IV · p. 3", "p. 2"."""
    parts = []
    if clause:
        parts.append(clause if clause.startswith(("Article", "第")) else f"§{clause}")
    if page is not None:
        parts.append(f"p. {page}")
    return " · ".join(parts)
