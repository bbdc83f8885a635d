"""A SIMULATION of DeepSeek-OCR's optical compression for the fake vLLM server (`simulate_compression`).

Not a measurement of the model: the fake knows nothing of the image it gets beyond its size, so it
replays the recorded output of the page and degrades it by the mode the image's size implies (the
client downscales each mode's image to its longest side, `MODE_MAX_SIDE_PX`). Blocks whose text is
small on the page (an estimated line pitch, in the 0-999 grid, under the mode's floor) are lost, and
one letter in N of the rest is misread as a look-alike. Vision tokens follow DeepSeek-OCR's published
counts per mode (64, 100, 256, 400; Gundam 100 per 640 px tile, 2 to 9 tiles, plus 256).
The same page sent in several modes is recognised by a small thumbnail, so it keeps its recording.
"""

from __future__ import annotations

import base64
import math
import re

import cv2
import numpy as np

# longest image side -> mode, as the client sends them (ingest.ocr.mode_choice.MODE_MAX_SIDE_PX)
SIDE_MODES = ((512, "tiny"), (640, "small"), (1024, "base"), (1280, "large"))
LOST_BELOW_PITCH = {"tiny": 20.0, "small": 12.0, "base": 0.0, "large": 0.0, "gundam": 0.0}
MISREAD_EVERY = {"tiny": 8, "small": 30, "base": 120, "large": 400, "gundam": 0}
VISION_TOKENS = {"tiny": 64, "small": 100, "base": 256, "large": 400}
PROMPT_TEXT_TOKENS = 12
LOOK_ALIKES = str.maketrans("aeilnostuc", "oc1Imo5fvo")
_BLOCK = re.compile(
    r"(<\|ref\|>.*?<\|/ref\|><\|det\|>\[\[(.*?)\]\]<\|/det\|>\n?)(.*?)(?=<\|ref\|>|\Z)", re.DOTALL
)
_TAGS = re.compile(r"<[^>]+>")


def decode(data_uri: str) -> np.ndarray:
    data = base64.b64decode(data_uri.split(",", 1)[1])
    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)


def mode_of(image: np.ndarray, processor_kwargs: dict | None) -> str:
    if processor_kwargs:  # the client names the mode outright
        sizes = {(512, False): "tiny", (640, False): "small", (1024, False): "base", (1280, False): "large"}
        return sizes.get((processor_kwargs.get("base_size"), processor_kwargs.get("crop_mode")), "gundam")
    side = max(image.shape[:2])
    return next((mode for limit, mode in SIDE_MODES if side <= limit), "gundam")


def vision_tokens(mode: str, image: np.ndarray) -> int:
    if mode in VISION_TOKENS:
        return VISION_TOKENS[mode] + PROMPT_TEXT_TOKENS
    h, w = image.shape[:2]
    tiles = min(9, max(2, math.ceil(w / 640) * math.ceil(h / 640)))
    return 100 * tiles + 256 + PROMPT_TEXT_TOKENS


def compress(reply: str, mode: str) -> str:
    """The recorded reply as this mode would (in this simulation) read it."""
    floor, every = LOST_BELOW_PITCH[mode], MISREAD_EVERY[mode]
    kept = []
    for match in _BLOCK.finditer(reply):
        head, box, content = match.groups()
        if _pitch(box, content) < floor:
            continue
        kept.append(head + (_misread(content, every) if every else content))
    return "".join(kept)


def _pitch(box: str, content: str) -> float:
    """Estimated line pitch of a block: a glyph is about half as wide as the line is tall."""
    try:
        x0, y0, x1, y1 = (float(v) for v in box.split(",")[:4])
    except ValueError:
        return math.inf
    chars = len(_TAGS.sub("", content).strip())
    if not chars:
        return math.inf
    return math.sqrt(2 * max(x1 - x0, 1) * max(y1 - y0, 1) / chars)


def _misread(text: str, every: int) -> str:
    out, letters = [], 0
    for part in re.split(r"(<[^>]+>)", text):  # markup stays intact
        if part.startswith("<"):
            out.append(part)
            continue
        chars = list(part)
        for i, ch in enumerate(chars):
            if ch.isalpha():
                letters += 1
                if letters % every == 0:
                    chars[i] = ch.translate(LOOK_ALIKES)
        out.append("".join(chars))
    return "".join(out)


class PageMemory:
    """Which recording each page gets: a page seen before (its thumbnail and shape alike) keeps its own."""

    def __init__(self) -> None:
        self.pages: list[tuple[float, np.ndarray, int]] = []

    def index(self, image: np.ndarray, next_index: int) -> int:
        h, w = image.shape[:2]
        aspect = w / h
        thumb = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32)
        for seen_aspect, seen, index in self.pages:
            if abs(seen_aspect - aspect) < 0.02 * aspect and float(np.abs(seen - thumb).mean()) < 4.0:
                return index
        self.pages.append((aspect, thumb, next_index))
        return next_index
