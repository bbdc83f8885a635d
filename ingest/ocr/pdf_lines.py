"""Lines of a PDF page's own text (PyMuPDF): style per line, clean text, bullets and drop caps glued on,
and `LineCache`, which keeps a page's lines between its readers so its text is parsed once per ingest.

Boxes are PDF points with a top-left origin.
"""

from __future__ import annotations

import copy
import os
import re
import threading
import unicodedata
from collections import Counter, OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

_BULLET = r"[•●◦▪▫■□○◆◇►▸‣⁃➢➤✓✔∙·*\-–—]"
LIST_RE = re.compile(rf"^\s*(?:{_BULLET}|\(?\d{{1,3}}[.)]|\(?[a-z][.)]|\(?[ivx]{{1,4}}\)|[A-Z]\))\s+\S")
# a bulleted item, never a heading however bold or large its style (earnings releases set highlights so)
BULLET_ITEM_RE = re.compile(rf"^\s*{_BULLET}\s+\S")
BULLET_ONLY_RE = re.compile(rf"^\s*(?:{_BULLET}|\d{{1,3}}[.)]|(?:[^\w\s]\s*){{1,3}})\s*$")
# checkboxes and symbol-font glyphs without a Unicode mapping used as list markers
_GLYPH_MARKER_RE = re.compile(r"^[\ufffd\ue000-\uf8ff☐☑☒□◻◼❑❒✗✘]+(?:\s*[\ufffd\ue000-\uf8ff☐☑☒□])*\s*")
_BULLET_RE = re.compile(_BULLET)
_GLYPHS_ONLY_RE = re.compile(rf"^\s*(?:{_BULLET}\s*)+$")
# spacing accents as LaTeX sets them before the letter ("J´an Min´aˇc"), as combining marks
_ACCENTS = {
    "´": "\u0301",
    "ˆ": "\u0302",
    "˜": "\u0303",
    "¨": "\u0308",
    "ˇ": "\u030c",
    "˘": "\u0306",
    "˚": "\u030a",
}
_ACCENT_RE = re.compile(rf"([{''.join(_ACCENTS)}])([A-Za-zı])")
_NO_SPACE_RUN = re.compile(r"[^\W\d_]{12,}")  # a long letter run: words set without space characters
WORD_GAP = 0.1  # a gap this share of the font size between glyphs is a word space
_BOLD_FLAG = 16
_MONO_FLAG = 8


def round_size(size: float) -> float:
    return round(size * 2) / 2


@dataclass
class PdfLine:
    text: str
    box: tuple[float, float, float, float]  # points, top-left origin
    size: float
    bold: bool
    mono: bool
    block: int  # PyMuPDF block number
    invisible: bool = False


def clean_text(text: str) -> str:
    """Paired single quotes as double quotes (‘‘x’’ → “x”), spacing accents joined to their letter, no
    zero-width spaces."""

    def join(m: re.Match[str]) -> str:
        letter = "i" if m.group(2) == "ı" else m.group(2)
        composed = unicodedata.normalize("NFC", letter + _ACCENTS[m.group(1)])
        return composed if len(composed) == 1 else m.group(0)

    text = text.replace("‘‘", "“").replace("’’", "”").replace("\u200b", "").replace("\ufeff", "")
    return _ACCENT_RE.sub(join, text)


def _spaced(span: dict[str, Any]) -> str:
    """A span's text from its glyphs, with a space wherever the gap between two glyphs is word-wide."""
    chars = span["chars"]
    out = [chars[0]["c"]] if chars else []
    for a, b in zip(chars, chars[1:], strict=False):
        if b["bbox"][0] - a["bbox"][2] > WORD_GAP * span["size"] and not (a["c"] + b["c"]).isspace():
            out.append(" ")
        out.append(b["c"])
    return "".join(out)


def _line_from_spans(all_spans: list[dict[str, Any]], block_no: int) -> PdfLine | None:
    spans = [s for s in all_spans if s["text"].strip()]
    if not spans:
        return None
    # a bullet glyph is set in its own font (SymbolMT, regular): the item's text alone gives the style
    spans = [s for s in spans if not _GLYPHS_ONLY_RE.match(s["text"])] or spans
    weights: Counter[tuple[float, bool, bool]] = Counter()
    for s in spans:
        bold = bool(s["flags"] & _BOLD_FLAG) or "bold" in s["font"].lower()
        weights[(round_size(s["size"]), bold, bool(s["flags"] & _MONO_FLAG))] += len(s["text"].strip())
    size, bold, mono = weights.most_common(1)[0][0]
    all_bold = all(k[1] for k in weights)
    box = (
        min(s["bbox"][0] for s in spans),
        min(s["bbox"][1] for s in spans),
        max(s["bbox"][2] for s in spans),
        max(s["bbox"][3] for s in spans),
    )
    text = clean_text(re.sub(r"\s+", " ", "".join(s["text"] for s in all_spans)).strip())
    if _GLYPH_MARKER_RE.match(text) and not BULLET_ONLY_RE.match(text):
        text = _GLYPH_MARKER_RE.sub("• ", text)
    invisible = all(s.get("alpha", 255) == 0 for s in spans)
    # an invisible OCR layer uses one glyph-less font: its style flags say nothing
    return PdfLine(
        text, box, size, bold and all_bold and not invisible, mono and not invisible, block_no, invisible
    )


def page_lines(page: pymupdf.Page) -> list[PdfLine]:
    # no TEXT_CID_FOR_UNKNOWN_UNICODE: unmapped glyphs must show as U+FFFD for has_real_text
    flags = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP
    blocks = page.get_text("dict", flags=flags)["blocks"]
    every = [s for b in blocks for ln in b.get("lines", []) for s in ln["spans"]]
    spaceless = {s["font"] for s in every if _NO_SPACE_RUN.search(s["text"])}
    if spaceless:
        # these fonts set words apart by gaps, not space characters: rebuild their text from the glyphs
        blocks = page.get_text("rawdict", flags=flags)["blocks"]
        for span in (s for b in blocks for ln in b.get("lines", []) for s in ln["spans"]):
            span["text"] = (
                _spaced(span) if span["font"] in spaceless else "".join(c["c"] for c in span["chars"])
            )
    lines: list[PdfLine] = []
    for bno, block in enumerate(blocks):
        spans: list[dict[str, Any]] = []
        for raw in block.get("lines", []):
            if spans and not _same_row(spans, raw):
                lines += [ln for ln in [_line_from_spans(spans, bno)] if ln]
                spans = []
            spans = [
                *spans,
                {"text": " ", "bbox": raw["bbox"], "size": 0, "flags": 0, "font": ""},
                *raw["spans"],
            ]
        lines += [ln for ln in [_line_from_spans(spans, bno)] if ln]
    return lines


class LineCache:
    """`page_lines` of recently read PDF pages, shared by a page's readers in one ingest: the router's
    `has_real_text`, the document's font sample and the engine's extraction. Keyed by the file (path,
    size, mtime) and page number. Extraction is a page's last reader: it takes the entry out (`last=True`).
    Pages routed to OCR are never taken, so at most `max_pages` entries stay, the oldest going first.
    Each caller gets its own copies of the lines (extraction glues bullets and drop caps onto them)."""

    def __init__(self, max_pages: int = 128) -> None:
        self.max_pages = max_pages
        self._lines: OrderedDict[tuple[str, int, int, int], list[PdfLine]] = OrderedDict()
        self._lock = threading.Lock()  # pages of a document are read in worker threads at once

    def lines(self, source: str | Path, page: pymupdf.Page, *, last: bool = False) -> list[PdfLine]:
        """The page's lines (`page` opened from `source`), parsed only when no earlier reader left them."""
        try:
            st = os.stat(source)
        except OSError:
            return page_lines(page)
        key = (str(source), st.st_size, st.st_mtime_ns, int(page.number))
        with self._lock:
            found = self._lines.pop(key, None) if last else self._lines.get(key)
            if found is not None and not last:
                self._lines.move_to_end(key)
        if found is None:
            found = page_lines(page)
            if not last:
                with self._lock:
                    self._lines[key] = found
                    while len(self._lines) > self.max_pages:
                        self._lines.popitem(last=False)
        return [copy.copy(ln) for ln in found]

    def __len__(self) -> int:
        return len(self._lines)


def _same_row(spans: list[dict[str, Any]], raw: dict[str, Any]) -> bool:
    """MuPDF cuts a line at a wide gap ("5.1" | "Results"); pieces on one baseline, close by, are one line."""
    prev = spans[-1]["bbox"]
    box = raw["bbox"]
    overlap = min(prev[3], box[3]) - max(prev[1], box[1])
    size = max(s["size"] for s in spans)
    return overlap > 0.6 * min(prev[3] - prev[1], box[3] - box[1]) and 0 <= box[0] - prev[2] <= 3 * size


def attach_bullets(lines: list[PdfLine]) -> list[PdfLine]:
    """A bullet glyph often sits in its own block left of its item; glue it onto that item's line."""
    out: list[PdfLine] = []
    for i, line in enumerate(lines):
        if BULLET_ONLY_RE.match(line.text):
            target = _right_neighbour(line, lines[i + 1 :])
            if target is None and not any(c.isalnum() for c in line.text):
                continue  # a stray marker glyph with nothing to mark carries no content
            if target is not None:
                glyph = line.text.strip() if _BULLET_RE.search(line.text) or line.text[0].isdigit() else "•"
                target.text = target.text if target.text.startswith("• ") else f"{glyph} {target.text}"
                target.box = (line.box[0], min(line.box[1], target.box[1]), target.box[2], target.box[3])
                continue
        out.append(line)
    return out


def attach_drop_caps(lines: list[PdfLine]) -> list[PdfLine]:
    """A drop cap (one large initial letter beside the first lines) joins the first word it starts."""
    heights = sorted(ln.box[3] - ln.box[1] for ln in lines)
    usual = heights[len(heights) // 2] if heights else 0.0
    out: list[PdfLine] = []
    for line in lines:
        height = line.box[3] - line.box[1]
        if len(line.text) == 1 and line.text.isupper() and height >= 1.8 * usual:
            target = next(
                (
                    c
                    for c in lines
                    if c is not line
                    and 0 <= c.box[0] - line.box[2] < 0.5 * height
                    and abs(c.box[1] - line.box[1]) < 0.5 * (c.box[3] - c.box[1])
                ),
                None,
            )
            if target is not None:
                target.text = line.text + target.text
                target.box = (line.box[0], target.box[1], target.box[2], target.box[3])
                continue
        out.append(line)
    return out


def _right_neighbour(bullet: PdfLine, rest: list[PdfLine]) -> PdfLine | None:
    for cand in rest[:60]:
        overlap = min(bullet.box[3], cand.box[3]) - max(bullet.box[1], cand.box[1])
        if overlap > 0.4 * (bullet.box[3] - bullet.box[1]) and 0 <= cand.box[0] - bullet.box[2] < 40:
            return cand
    return None
