"""Page images for highlights, crops and previews: rendered from the original when first asked for,
then kept in `docs/<id>/pages/NNNN.png` while all such images together stay within a byte bound.

Ingest renders no page images (a page read from its text layer is never rendered); this cache is
the one place that writes them. The least recently used images go first when the bound is passed.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ingest.pipeline import DocumentFiles
from ingest.sources import SourceConfig, open_source, with_pixels


class PageImageCache:
    def __init__(self, docs_dir: Path, source: SourceConfig, max_bytes: int) -> None:
        self.docs_dir = docs_dir
        self.source = source
        self.max_bytes = max_bytes
        self._lock = threading.Lock()  # one eviction pass at a time

    def png(self, files: DocumentFiles, page: int) -> bytes | None:
        """Page `page`'s PNG (1-based); None when the document has no original to render from."""
        path = files.page_image(page)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            pass
        else:
            os.utime(path)  # recently used: evicted last
            return data
        original = next(iter(sorted(files.root.glob("original.*"))), None)
        if original is None:
            return None
        with open_source(original, self.source) as doc:
            data = with_pixels(doc.render_page(page, pixels=False)).image_png  # rendered in a worker process
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.stem}.{threading.get_ident()}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
        self.evict()
        return data

    def evict(self) -> None:
        """Remove the least recently used page images until the rest fit in `max_bytes`."""
        with self._lock:
            images = []
            for path in self.docs_dir.glob("*/pages/*.png"):
                try:
                    stat = path.stat()
                except FileNotFoundError:  # removed meanwhile (a document deleted)
                    continue
                images.append((stat.st_mtime, stat.st_size, path))
            total = sum(size for _, size, _ in images)
            for _, size, path in sorted(images):
                if total <= self.max_bytes:
                    return
                path.unlink(missing_ok=True)
                total -= size
