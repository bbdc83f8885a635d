"""The CPU OCR engine: RapidOCR (PP-OCR det + rec on onnxruntime; the bundled models read Chinese and English).

Lines come back as quadrilaterals in pixels of the image we sent; they become axis-aligned boxes
normalized to the page, grouped into blocks (kept as `Block.lines`) and put in reading order.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ingest.configs import RapidOcrConfig
from ingest.errors import EngineBadResponse
from ingest.layout import BBox, Block, Line, PageLayout
from ingest.ocr.columns import Gutter, across_gutter, find_gutters, order_box, spans_differently
from ingest.ocr.engine import OcrOptions
from ingest.ocr.structure import is_side_heading, mark_headings, split_paragraphs
from ingest.orientation import Orientation, detect_orientation, rotate_image, rotate_prepared
from ingest.page import PageImage
from ingest.preprocess import PreparedPage, decode_png, preprocess_page

# Joining rules, in units of the text height of the lines involved.
ROW_OVERLAP = 0.5  # two boxes share a row when they overlap this much vertically
ROW_GAP = 0.35  # fragments of one row further apart than this are separate phrases (det joins words)
LINE_GAP = 0.9  # the next line joins a block when the blank above it is at most this
HEIGHT_RATIO = 1.5  # a line this much taller or shorter (a heading) starts a new block
COLUMN_OVERLAP = 0.3  # a line joins a block when it overlaps the block's width this much
MIN_COLUMN_SHARE = 0.15  # text columns are at least this share of the text width; narrower is a form
MIN_COLUMN_HEIGHTS = 8  # ... and at least this many line heights wide (a table cell rarely is)
NEARBY_ROWS = 3  # rows looked at, above and below, for a text-column gutter


@dataclass(frozen=True)
class TextBox:
    """A recognized line in pixels of the OCR'd image."""

    text: str
    x0: float
    y0: float
    x1: float
    y1: float
    score: float = 1.0
    # x extent in pixels of each whitespace-separated word of `text`, where RapidOCR gave word boxes
    words_x: tuple[tuple[float, float], ...] | None = None

    @property
    def height(self) -> float:
        return max(self.y1 - self.y0, 1.0)

    @property
    def width(self) -> float:
        return max(self.x1 - self.x0, 1.0)

    @property
    def bbox_px(self) -> tuple[float, float, float, float]:
        return (self.x0, self.y0, self.x1, self.y1)


class RapidOcrEngine:
    name = "rapidocr"

    def __init__(self, config: RapidOcrConfig | None = None) -> None:
        self.config = config or RapidOcrConfig()
        self._lock = threading.Lock()  # RapidOCR keeps per-call state on the instance: one call at a time
        self._ocr: Any = None
        self.extra_params: dict[str, Any] = {}  # more RapidOCR settings (benches try its options)

    async def recognize(self, page: PageImage, options: OcrOptions) -> PageLayout:
        return await asyncio.to_thread(self.recognize_sync, page, options)

    def recognize_sync(self, page: PageImage, options: OcrOptions | None = None) -> PageLayout:
        options = options or OcrOptions()
        prepared = preprocess_page(page, options.preprocess)
        img = fit_side(decode_png(prepared.page.image_png), self.config.max_side_px)
        lines = self.read_lines(img)
        orientation = Orientation(rotation=0)
        if self.config.auto_orient:
            orientation = detect_orientation(
                img, [b.bbox_px for b in lines], [b.score for b in lines], self.score_crops
            )
        if orientation.rotation:
            img = rotate_image(img, orientation.rotation)
            prepared = rotate_prepared(prepared, orientation.rotation)
            lines = self.read_lines(img)
        boxes = [b for b in lines if b.score >= self.config.min_score]
        size_px = (img.shape[1], img.shape[0])
        layout = page.layout(
            self.name,
            image_size=prepared.page.image_size,
            blocks=build_blocks(boxes, size_px),
            raw=raw_record(boxes, size_px, orientation),
        )
        return _on_original(layout, prepared)

    def warm_up(self) -> None:
        """Load the models now (at start-up) rather than on the first page."""
        with self._lock:
            self._engine()

    def read_lines(self, img: np.ndarray) -> list[TextBox]:
        """Every line det + rec found, however unsure (orientation probes read the unsure ones too)."""
        with self._lock:
            ocr = self._engine()
            try:
                # RapidOCR reads these on every call; one setting can't both enlarge small pages and shrink
                # big ones. `_load_det_model` is RapidOCR 3.10's: without it detection keeps its own resize
                if hasattr(ocr, "_load_det_model"):
                    det = ocr._load_det_model()
                    det.limit_type, det.limit_side_len = det_limit(img.shape, self.config.det_max_side_px)
                result = ocr(img, return_word_box=True)
            except Exception as exc:  # onnxruntime and RapidOCR raise untyped errors
                raise EngineBadResponse(f"RapidOCR failed on the page: {exc}") from exc
        # an empty page comes back as a bare output, or as detections without text
        texts, scores = getattr(result, "txts", None), getattr(result, "scores", None)
        words = getattr(result, "word_results", None)
        return boxes_from_result(getattr(result, "boxes", None), texts, scores, 0.0, words)

    def score_crops(self, crops: list[np.ndarray]) -> list[float]:
        """Recognition confidence for each line image, read as it is (no detection)."""
        # rec takes 3 channels only (a full call converts grey pages itself)
        bgr = [cv2.cvtColor(c, cv2.COLOR_GRAY2BGR) if c.ndim == 2 else c for c in crops]
        with self._lock:
            try:
                result = self._engine().recognize_txt(bgr)
            except Exception as exc:  # onnxruntime and RapidOCR raise untyped errors
                raise EngineBadResponse(f"RapidOCR failed on an orientation probe: {exc}") from exc
        return [float(s) for s in result.scores]

    def _engine(self) -> Any:
        if self._ocr is None:
            from rapidocr import RapidOCR  # loads onnxruntime: only when the first page arrives

            self._ocr = RapidOCR(params={**rapidocr_params(self.config), **self.extra_params})
        return self._ocr


def rapidocr_params(config: RapidOcrConfig) -> dict[str, Any]:
    """RapidOCR's settings (its config.yaml keys) for `config`."""
    params: dict[str, Any] = {
        "Global.use_cls": False,  # whole pages are turned upright instead (ingest.orientation)
        "Global.log_level": "warning",
        "Global.max_side_len": config.max_side_px,
        "Global.text_score": 0.0,  # unsure lines still tell the orientation; min_score drops them later
    }
    if config.threads:
        params["EngineConfig.onnxruntime.intra_op_num_threads"] = config.threads
        params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
    if config.rec_batch:
        params["Rec.rec_batch_num"] = config.rec_batch
    return params


DET_MIN_SIDE = 736  # RapidOCR's detection enlarges an image to this short side (its Det.limit_side_len)


def det_limit(shape: tuple[int, ...], max_side_px: int | None) -> tuple[str, int]:
    """RapidOCR's detection resize (Det.limit_type, Det.limit_side_len) for an image of `shape`: a page whose
    short side is below `DET_MIN_SIDE` is enlarged to it, as RapidOCR does by default (receipts, small
    scans); a bigger page whose long side is above `max_side_px` is shrunk to it (recognition still reads
    the lines at full size); any other is detected as it is."""
    h, w = shape[:2]
    if max_side_px and min(h, w) >= DET_MIN_SIDE and max(h, w) > max_side_px:
        return "max", max_side_px
    return "min", DET_MIN_SIDE


def _on_original(layout: PageLayout, prepared: PreparedPage) -> PageLayout:
    return prepared.map_layout(layout) if prepared.steps else layout


def raw_record(boxes: list[TextBox], size_px: tuple[int, int], orientation: Orientation) -> str:
    """Every kept line in pixels of the image read (after `rotation`), and how the page was turned."""
    record = {
        "size_px": size_px,
        "rotation": orientation.rotation,
        "orientation_scores": dict(orientation.scores),
        "lines": [[b.text, [b.x0, b.y0, b.x1, b.y1], b.score] for b in boxes],
    }
    return json.dumps(record, ensure_ascii=False)


def fit_side(img: np.ndarray, max_side_px: int) -> np.ndarray:
    h, w = img.shape[:2]
    scale = max_side_px / max(h, w)
    if scale >= 1.0:
        return img
    return cv2.resize(img, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def boxes_from_result(
    quads: Any, texts: Any, scores: Any, min_score: float, words: Any = None
) -> list[TextBox]:
    """Lines of a RapidOCR result; `words` (its `word_results`, one list per line) gives each line's
    word extents when it splits the line's text into the same words."""
    if quads is None or texts is None:
        return []
    per_line = list(words) if words is not None and len(words) == len(texts) else [None] * len(texts)
    out = []
    for quad, text, score, line_words in zip(
        quads, texts, scores or [1.0] * len(texts), per_line, strict=False
    ):
        pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
        if not str(text).strip() or float(score) < min_score:
            continue
        x0, y0 = pts.min(axis=0)
        x1, y1 = pts.max(axis=0)
        clean = str(text).strip()
        box = TextBox(
            clean, float(x0), float(y0), float(x1), float(y1), float(score), _words_x(clean, line_words)
        )
        out.append(box)
    return out


def _words_x(text: str, line_words: Any) -> tuple[tuple[float, float], ...] | None:
    """Each word's x extent, if RapidOCR's words are the text's words (CJK comes back per character)."""
    if not line_words or [w[0] for w in line_words] != text.split():
        return None
    extents = []
    for _, _, quad in line_words:
        if quad is None:
            return None
        xs = np.asarray(quad, dtype=np.float64).reshape(-1, 2)[:, 0]
        extents.append((float(xs.min()), float(xs.max())))
    return tuple(extents)


# --- blocks ----------------------------------------------------------------------------------
Segment = list[TextBox]  # fragments of one row that belong together (a phrase, or a whole form row)


def build_blocks(boxes: list[TextBox], size_px: tuple[int, int], paragraphs: bool = True) -> list[Block]:
    """Lines grouped into text blocks in reading order, cut into paragraphs and heading lines (unless
    `paragraphs` is off: the benches measure with and without); boxes normalized by `size_px`."""
    gutters = find_gutters([b.bbox_px for b in boxes])
    groups = group_lines(boxes, gutters)
    hulls = [_hull(g) for g in groups]
    ordering = [
        TextBox("", *order_box(h.bbox_px, [b.bbox_px for b in g], gutters))
        for h, g in zip(hulls, groups, strict=True)
    ]
    headings = {i for i, g in enumerate(groups) if len(_rows(g)) == 1 and is_side_heading(block_text(g))}
    blocks = []
    for order, i in enumerate(reading_order(ordering, headings, gutters)):
        h = hulls[i]
        blocks.append(
            Block(
                kind="text",
                markdown=block_text(groups[i]),
                bbox=BBox.from_pixels((h.x0, h.y0, h.x1, h.y1), size_px),
                order=order,
                label="rapidocr",
                lines=[
                    Line(
                        text=b.text,
                        bbox=BBox.from_pixels((b.x0, b.y0, b.x1, b.y1), size_px),
                        words_x=[(a / size_px[0], z / size_px[0]) for a, z in b.words_x]
                        if b.words_x
                        else None,
                    )
                    for b in groups[i]
                ],
            )
        )
    return mark_headings(split_paragraphs(blocks) if paragraphs else blocks)


def group_lines(boxes: list[TextBox], gutters: list[Gutter] | None = None) -> list[list[TextBox]]:
    """Segments stacked top to bottom into blocks: small gap, horizontal overlap, similar height, and the
    same side of every column gutter (a headline over the columns stays apart from the column under it)."""
    if gutters is None:
        gutters = find_gutters([b.bbox_px for b in boxes])
    segments = build_segments(boxes, gutters)
    groups: list[list[Segment]] = []
    for seg in sorted(segments, key=lambda s: ((_hull(s).y0 + _hull(s).y1) / 2, _hull(s).x0)):
        target = next((g for g in reversed(groups) if _stacks(g, seg, gutters)), None)
        if target is None:
            groups.append([seg])
        else:
            target.append(seg)
    return [[b for seg in g for b in seg] for g in groups]


def build_segments(boxes: list[TextBox], page_gutters: list[Gutter] | None = None) -> list[Segment]:
    """Rows cut into phrases at wide gaps. A row with two wide phrases is text in columns and stays
    apart; any other row ("Total:" ... "9.00") is a form row and stays whole, unless its gap lines up
    with a column gutter recurring nearby (the short last line of a column); it is cut where its gap
    lies in a column gutter of the page (a formula or a short line beside another column's text)."""
    if not boxes:
        return []
    width = max(b.x1 for b in boxes) - min(b.x0 for b in boxes)
    if page_gutters is None:
        page_gutters = find_gutters([b.bbox_px for b in boxes])
    phrases = [_phrases(row, page_gutters) for row in _rows(boxes)]
    gutters = [_column_gutters(segs, width) for segs in phrases]
    out: list[Segment] = []
    for r, segs in enumerate(phrases):
        nearby = gutters[max(0, r - NEARBY_ROWS) : r + NEARBY_ROWS + 1]
        if len(segs) > 1 and _side_heading(segs, width):
            out += [segs[0], [b for seg in segs[1:] for b in seg]]
        elif len(segs) > 1 and not gutters[r] and not _in_gutter(segs, nearby):
            out += _join_within_columns(segs, page_gutters)
        else:
            out.extend(segs)
    return out


def _join_within_columns(segs: list[Segment], gutters: list[Gutter]) -> list[Segment]:
    """A form row's phrases joined, but not across a column gutter."""
    out: list[Segment] = [list(segs[0])]
    for left, right in zip(segs, segs[1:], strict=False):
        if across_gutter(_hull(left).bbox_px, _hull(right).bbox_px, gutters):
            out.append([])
        out[-1].extend(right)
    return out


def _side_heading(segs: list[Segment], width: float) -> bool:
    """A margin heading beside the first line of its clause: "1. TERM; TERMINATION   This Agreement ..."."""
    rest = _hull([b for seg in segs[1:] for b in seg])
    text = " ".join(b.text for b in segs[0])
    wide = rest.width >= max(2 * MIN_COLUMN_SHARE * width, MIN_COLUMN_HEIGHTS * rest.height)
    return wide and is_side_heading(text)  # a form row ("TOTAL ... 12.00") has a short value instead


def _column_gutters(segs: list[Segment], width: float) -> list[tuple[float, float]]:
    """The gaps between consecutive wide phrases of a row: none unless the row is text in columns."""
    wide = [
        h for h in map(_hull, segs) if h.width >= max(MIN_COLUMN_SHARE * width, MIN_COLUMN_HEIGHTS * h.height)
    ]
    return [(a.x1, b.x0) for a, b in zip(wide, wide[1:], strict=False)]


def _in_gutter(segs: list[Segment], nearby: list[list[tuple[float, float]]]) -> bool:
    """A gap of this row lies in a gutter that recurs in two nearby rows (one wide pair is no column)."""
    return any(sum(any(_overlaps(gap, g) for g in gs) for gs in nearby) >= 2 for gap in _gaps(segs))


def _gaps(segs: list[Segment]) -> list[tuple[float, float]]:
    return [(_hull(a).x1, _hull(b).x0) for a, b in zip(segs, segs[1:], strict=False)]


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return min(a[1], b[1]) > max(a[0], b[0])


def _rows(boxes: list[TextBox]) -> list[list[TextBox]]:
    rows: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: ((b.y0 + b.y1) / 2, b.x0)):
        if rows and _same_row(rows[-1][0], box):
            rows[-1].append(box)
        else:
            rows.append([box])
    return [sorted(r, key=lambda b: b.x0) for r in rows]


def _phrases(row: list[TextBox], gutters: list[Gutter]) -> list[Segment]:
    segs: list[Segment] = [[row[0]]]
    for box in row[1:]:
        last = segs[-1][-1]
        near = box.x0 - last.x1 <= ROW_GAP * min(last.height, box.height)
        if near and not across_gutter(last.bbox_px, box.bbox_px, gutters):
            segs[-1].append(box)
        else:
            segs.append([box])
    return segs


def _same_row(a: TextBox, b: TextBox) -> bool:
    return min(a.y1, b.y1) - max(a.y0, b.y0) > ROW_OVERLAP * min(a.height, b.height)


def _stacks(group: list[Segment], seg: Segment, gutters: list[Gutter]) -> bool:
    last, s = _hull(group[-1]), _hull(seg)
    h = min(last.height, s.height)
    if max(last.height, s.height) / h > HEIGHT_RATIO or spans_differently(last.bbox_px, s.bbox_px, gutters):
        return False
    hull = _hull([b for g in group for b in g])
    gap = s.y0 - hull.y1
    overlap_x = min(hull.x1, s.x1) - max(hull.x0, s.x0)
    return -0.5 * h <= gap <= LINE_GAP * h and overlap_x >= COLUMN_OVERLAP * min(hull.width, s.width)


def block_text(group: list[TextBox]) -> str:
    """Rows joined by newlines; fragments of one row by a space, left to right."""
    return "\n".join(" ".join(b.text for b in row) for row in _rows(group))


def _hull(group: list[TextBox]) -> TextBox:
    return TextBox(
        text="",
        x0=min(b.x0 for b in group),
        y0=min(b.y0 for b in group),
        x1=max(b.x1 for b in group),
        y1=max(b.y1 for b in group),
    )


def reading_order(
    hulls: list[TextBox], headings: AbstractSet[int] = frozenset(), gutters: Sequence[Gutter] = ()
) -> list[int]:
    """Indices of `hulls` in reading order by recursive XY-cut: columns first, then bands.
    A column of `headings` alone (side headings in a margin) is read row by row with the text beside it.
    A vertical cut along a column gutter of the page holds even where one side is mostly narrow boxes
    (a figure's axis labels); elsewhere a narrow side is a form's amounts, read row by row."""
    return _xy_cut(list(range(len(hulls))), hulls, headings, gutters)


def _xy_cut(
    idx: list[int], hulls: list[TextBox], headings: AbstractSet[int], gutters: Sequence[Gutter]
) -> list[int]:
    if len(idx) <= 1:
        return idx
    cols = _split(idx, hulls, vertical=True)
    if (
        cols
        and (_is_text_columns(cols, hulls) or _on_gutter(cols, hulls, gutters))
        and not any(set(side) <= headings for side in cols)
    ):
        return _xy_cut(cols[0], hulls, headings, gutters) + _xy_cut(cols[1], hulls, headings, gutters)
    bands = _split(idx, hulls, vertical=False)
    if bands:
        return _xy_cut(bands[0], hulls, headings, gutters) + _xy_cut(bands[1], hulls, headings, gutters)
    return _rows_left_to_right(idx, hulls)


def _on_gutter(cols: tuple[list[int], list[int]], hulls: list[TextBox], gutters: Sequence[Gutter]) -> bool:
    left = max(hulls[i].x1 for i in cols[0])
    right = min(hulls[i].x0 for i in cols[1])
    top = min(hulls[i].y0 for i in cols[0] + cols[1])
    bottom = max(hulls[i].y1 for i in cols[0] + cols[1])
    return any(left <= g.x <= right and g.y0 < bottom and g.y1 > top for g in gutters)


def _rows_left_to_right(idx: list[int], hulls: list[TextBox]) -> list[int]:
    """Top to bottom; blocks starting on one row (a side heading beside its clause) left to right."""
    out: list[int] = []
    row: list[int] = []
    for i in sorted(idx, key=lambda i: hulls[i].y0):
        first = hulls[row[0]] if row else None
        if first and hulls[i].y0 - first.y0 > ROW_OVERLAP * min(first.height, hulls[i].height):
            out += sorted(row, key=lambda i: hulls[i].x0)
            row = []
        row.append(i)
    return out + sorted(row, key=lambda i: hulls[i].x0)


def _split(idx: list[int], hulls: list[TextBox], vertical: bool) -> tuple[list[int], list[int]] | None:
    """The first empty gap along x (vertical=True) or y that separates `idx` in two, if any."""

    def span(i: int) -> tuple[float, float]:
        b = hulls[i]
        return (b.x0, b.x1) if vertical else (b.y0, b.y1)

    ordered = sorted(idx, key=lambda i: span(i)[0])
    reach = span(ordered[0])[1]
    for k in range(1, len(ordered)):
        start, end = span(ordered[k])
        if start > reach:
            return ordered[:k], ordered[k:]
        reach = max(reach, end)
    return None


def _is_text_columns(cols: tuple[list[int], list[int]], hulls: list[TextBox]) -> bool:
    # Receipts and forms have a narrow column of amounts beside the labels: read those row by row.
    region = max(hulls[i].x1 for i in cols[0] + cols[1]) - min(hulls[i].x0 for i in cols[0] + cols[1])
    widths = [statistics.median(hulls[i].width for i in side) for side in cols]
    return min(widths) >= MIN_COLUMN_SHARE * region
