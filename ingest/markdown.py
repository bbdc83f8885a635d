"""Markdown for pages and documents from `PageLayout` blocks, in reading order, furniture left out.

Headings become `#`s by level, list items `- `/`1. ` lines, tables Markdown (HTML when no Markdown),
equations `$$…$$`, figures an image placeholder carrying their caption.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ingest.layout import Block, PageLayout

_BULLET_RE = re.compile(r"^\s*[•●◦▪▫■□○◆◇►▸‣⁃➢➤✓✔∙·*\-–—]\s*")
_NUMBERED_RE = re.compile(r"^\s*\(?(\d{1,3}|[a-z]|[ivx]{1,4})[.)]\s+")
_ALREADY_MATH_RE = re.compile(r"^\s*(\$\$|\\\[)")


def _heading(block: Block) -> str:
    level = block.level or (1 if block.kind == "title" else 2)
    text = " ".join(block.markdown.split()).lstrip("#").strip()
    return f"{'#' * max(1, min(level, 6))} {text}"


def _list_item(block: Block) -> str:
    lines = [ln for ln in block.markdown.strip().splitlines() if ln.strip()]
    if lines and all(ln.lstrip().startswith(("- ", "* ", "+ ")) for ln in lines):
        return "\n".join(lines)  # the engine already wrote a Markdown list
    text = " ".join(block.markdown.split())
    numbered = _NUMBERED_RE.match(text)
    if numbered:
        return f"{numbered.group(1)}. {text[numbered.end() :]}"
    return f"- {_BULLET_RE.sub('', text, count=1)}"


def _table(block: Block) -> str:
    return block.markdown.strip() or (block.html or "").strip()


def _equation(block: Block) -> str:
    text = block.markdown.strip()
    if _ALREADY_MATH_RE.match(text):
        return text
    return f"$$\n{text.strip('$').strip()}\n$$"


def _figure(block: Block, caption: str) -> str:
    alt = " ".join((block.markdown or caption or "Figure").split()).replace("[", "(").replace("]", ")")
    return f"![{alt}](#figure)"


def _code(block: Block) -> str:
    text = block.markdown.strip("\n")
    return text if text.lstrip().startswith("```") else f"```\n{text}\n```"


def render_block(block: Block, caption: str = "") -> str:
    """One block as Markdown; `caption` is the text of a caption next to a figure."""
    if block.kind in ("title", "heading"):
        return _heading(block)
    if block.kind == "list":
        return _list_item(block)
    if block.kind == "table":
        return _table(block)
    if block.kind == "equation":
        return _equation(block)
    if block.kind == "figure":
        return _figure(block, caption)
    if block.kind == "code":
        return _code(block)
    if block.kind == "caption":
        return f"*{' '.join(block.markdown.split())}*"
    return block.markdown.strip()


def _neighbour_caption(blocks: Sequence[Block], i: int) -> str:
    for j in (i + 1, i - 1):
        if 0 <= j < len(blocks) and blocks[j].kind == "caption":
            return blocks[j].markdown
    return ""


def render_page_markdown(layout: PageLayout) -> str:
    """The page's content blocks in reading order; consecutive list items stay in one list."""
    blocks = layout.content_blocks()
    parts: list[str] = []
    for i, block in enumerate(blocks):
        text = render_block(block, _neighbour_caption(blocks, i) if block.kind == "figure" else "")
        if not text:
            continue
        if parts and block.kind == "list" and blocks[i - 1].kind == "list":
            parts[-1] = f"{parts[-1]}\n{text}"
        else:
            parts.append(text)
    return "\n\n".join(parts)


def render_document_markdown(layouts: Sequence[PageLayout]) -> str:
    """All pages in page order, each opened by a `<!-- page N -->` mark."""
    pages = []
    for layout in sorted(layouts, key=lambda lay: lay.page):
        body = render_page_markdown(layout)
        pages.append(f"<!-- page {layout.page} -->\n\n{body}" if body else f"<!-- page {layout.page} -->")
    return "\n\n".join(pages) + "\n"
