"""Parse DeepSeek-OCR grounding output into layout blocks.

Input looks like `<|ref|>LABEL<|/ref|><|det|>[[x1, y1, x2, y2], ...]<|/det|>` followed by the block's
Markdown. Boxes are 0–999 per axis of the image that was sent (unpadded, as DeepSeek's reference
code draws them), which is the page itself because the client only ever resizes with the aspect kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

from pydantic import BaseModel

from ingest.layout import GRID_999, BBox, Block, BlockKind, Line

_BLOCK_RE = re.compile(r"<\|ref\|>(.*?)<\|/ref\|><\|det\|>(.*?)<\|/det\|>", re.DOTALL)
_BOX_RE = re.compile(
    r"\[\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*\]"
)
# A cut-off generation leaves a ref/det that never closed, or half of a tag at the very end.
_OPEN_TAG_RE = re.compile(r"<\|/?(?:ref|det)\|>")
_TAGS = ("<|ref|>", "<|/ref|>", "<|det|>", "<|/det|>")
_NOISE_RE = re.compile(r"<｜end▁of▁sentence｜>|<\|end▁of▁sentence\|>|</?center>")
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*)$", re.DOTALL)
_TABLE_RE = re.compile(r"<table\b.*?(?:</table>|$)", re.DOTALL | re.IGNORECASE)
_LIST_LINE_RE = re.compile(r"^\s*(?:[-*•·]|\d+[.)])\s+")

PAGE_BOX = BBox(x0=0.0, y0=0.0, x1=1.0, y1=1.0)

_KINDS: dict[str, BlockKind] = {
    "title": "title",
    "sub_title": "heading",
    "text": "text",
    "table": "table",
    "table_caption": "caption",
    "table_footnote": "caption",
    "image": "figure",
    "figure": "figure",
    "image_caption": "caption",
    "figure_title": "caption",
    "equation": "equation",
    "formula": "equation",
    "code": "code",
    "list": "list",
    "header": "header",
    "page_header": "header",
    "footer": "footer",
    "page_footer": "footer",
    "page_number": "page_number",
}
_CAPTION_OWNERS = {"table", "image", "figure"}


class GroundingResult(BaseModel):
    blocks: list[Block]
    truncated: bool = False


@dataclass
class _Raw:
    label: str
    boxes: list[BBox]
    content: str


def clean_output(raw: str) -> str:
    """Drop the end-of-sentence token and `<center>` tags the model wraps captions in."""
    return _NOISE_RE.sub("", raw)


def strip_grounding(text: str) -> str:
    """The text without grounding tags, for prompts whose reply is read as plain text."""
    return _BLOCK_RE.sub("", clean_output(text))


def boxes_from_det(det: str) -> list[BBox]:
    """Every complete `[x1, y1, x2, y2]` in a det payload, as normalized page boxes."""
    boxes = []
    for m in _BOX_RE.finditer(det):
        x0, y0, x1, y1 = (min(max(float(v), 0.0), GRID_999) for v in m.groups())
        boxes.append(BBox.from_999([x0, y0, x1, y1]))
    return boxes


def parse_grounding(raw: str) -> GroundingResult:
    """Blocks in the order the model emitted them; a cut-off tail keeps every complete block."""
    text = clean_output(raw)
    raws, truncated = _split(text)
    raws = _reattach_caption_html(raws)
    blocks = [b for b in (_to_block(r) for r in raws) if b is not None]
    for order, block in enumerate(blocks):
        block.order = order
    return GroundingResult(blocks=blocks, truncated=truncated)


def _split(text: str) -> tuple[list[_Raw], bool]:
    matches = list(_BLOCK_RE.finditer(text))
    tail_start = matches[-1].end() if matches else 0
    cut = _dangling_start(text, tail_start)
    truncated = cut is not None
    end_of_text = cut if cut is not None else len(text)
    raws: list[_Raw] = []
    lead = text[: matches[0].start()] if matches else text[:end_of_text]
    if lead.strip():
        # Text before the first grounding tag has no box; it is on the page, somewhere.
        raws.append(_Raw(label="", boxes=[], content=lead))
    for i, m in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else end_of_text
        raws.append(
            _Raw(label=m.group(1).strip(), boxes=boxes_from_det(m.group(2)), content=text[m.end() : end])
        )
    if raws and re.search(r"<table\b", raws[-1].content) and "</table>" not in raws[-1].content:
        truncated = True
    return raws, truncated


def _dangling_start(text: str, start: int) -> int | None:
    """Where a grounding tag that never closed begins, after the last complete block."""
    m = _OPEN_TAG_RE.search(text, start)
    if m is not None:
        return m.start()
    for tag in _TAGS:
        for n in range(len(tag) - 1, 0, -1):
            if text.endswith(tag[:n]) and len(text) - n >= start:
                return len(text) - n
    return None


def _reattach_caption_html(raws: list[_Raw]) -> list[_Raw]:
    """DeepSeek emits `table` (empty), then `table_caption` + caption text + the table's HTML.

    The HTML goes back to the table block, and the caption moves before it: the order the text
    was read in (and where the caption sits on the page).
    """
    out = list(raws)
    for i in range(len(out) - 1):
        owner, caption = out[i], out[i + 1]
        if owner.label not in _CAPTION_OWNERS or owner.content.strip() or "caption" not in caption.label:
            continue
        table = _TABLE_RE.search(caption.content)
        if table is None:
            continue
        owner.content = table.group(0)
        caption.content = caption.content[: table.start()] + caption.content[table.end() :]
        out[i], out[i + 1] = caption, owner
    return out


def _to_block(r: _Raw) -> Block | None:
    content = r.content.strip()
    kind = _KINDS.get(r.label, "text")
    if not content and r.label not in _KINDS:
        content = r.label  # `Locate <|ref|>TEXT<|/ref|>` replies carry the found text as the label
    if not content and kind not in ("figure", "table"):
        return None
    bbox = BBox.union(r.boxes) if r.boxes else PAGE_BOX
    lines = [Line(text="", bbox=b) for b in r.boxes] if len(r.boxes) > 1 else []
    level: int | None = None
    html: str | None = None
    heading = _HEADING_RE.match(content)
    if kind in ("title", "heading", "text") and heading is not None:
        level = len(heading.group(1))
        content = heading.group(2).strip()
        kind = "title" if kind == "title" else "heading"
    elif kind == "title":
        level = 1
    elif kind == "heading":
        level = 2
    if kind == "table" or (kind == "text" and content.startswith("<table")):
        kind = "table"
        html, content = _table_parts(content)
    elif kind == "text" and _is_list(content):
        kind = "list"
    return Block(kind=kind, markdown=content, bbox=bbox, level=level, html=html, label=r.label, lines=lines)


def _table_parts(content: str) -> tuple[str | None, str]:
    m = _TABLE_RE.search(content)
    if m is None:
        return None, content
    html = m.group(0)
    rendered = html_table_to_markdown(html)
    # A table whose HTML does not parse keeps the HTML as its Markdown: never empty content.
    return html, rendered if rendered else html


def _is_list(content: str) -> bool:
    lines = [ln for ln in content.splitlines() if ln.strip()]
    return bool(lines) and all(_LIST_LINE_RE.match(ln) for ln in lines)


@dataclass
class _Cell:
    text: str = ""
    rowspan: int = 1
    colspan: int = 1


@dataclass
class _TableParser(HTMLParser):
    rows: list[list[_Cell]] = field(default_factory=list)
    cell: _Cell | None = None

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            if not self.rows:
                self.rows.append([])
            spans = {k: _span(v) for k, v in attrs if k in ("rowspan", "colspan")}
            self.cell = _Cell(rowspan=spans.get("rowspan", 1), colspan=spans.get("colspan", 1))
            self.rows[-1].append(self.cell)
        elif tag == "br" and self.cell is not None:
            self.cell.text += " "

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th"):
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.text += data


def _span(value: str | None) -> int:
    try:
        return max(1, min(int(value or 1), 100))
    except ValueError:
        return 1


def html_table_to_markdown(html: str) -> str:
    """A pipe table; a cell spanning rows or columns repeats its text in every slot it covers."""
    parser = _TableParser()
    parser.feed(html)
    parser.close()
    grid: dict[tuple[int, int], str] = {}
    for r, row in enumerate(parser.rows):
        c = 0
        for cell in row:
            while (r, c) in grid:
                c += 1
            text = " ".join(cell.text.split()).replace("|", "\\|")
            for dr in range(cell.rowspan):
                for dc in range(cell.colspan):
                    grid.setdefault((r + dr, c + dc), text)
            c += cell.colspan
    if not grid:
        return ""
    n_rows = max(r for r, _ in grid) + 1
    n_cols = max(c for _, c in grid) + 1
    lines = ["| " + " | ".join(grid.get((r, c), "") for c in range(n_cols)) + " |" for r in range(n_rows)]
    lines.insert(1, "| " + " | ".join("---" for _ in range(n_cols)) + " |")
    return "\n".join(lines)
