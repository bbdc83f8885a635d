"""Uploaded files: a client's filename made safe to store, and the staging folder it lands in.

An upload is staged as `data_dir/uploads/<random>/<safe name>` so that error messages quote the
user's name and the sources module sees the real extension (its strict_extension check).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path, PurePath

from fastapi import Request, UploadFile

from api.errors import UploadTooLarge

# ext4 and most file systems allow 255 bytes per name; what is left is headroom for suffixes we add.
MAX_NAME_BYTES = 200
MAX_SUFFIX_CHARS = 16
FALLBACK_NAME = "upload"
COPY_CHUNK = 1 << 20
MULTIPART_SLACK_BYTES = 64 * 1024  # boundaries, part headers and form fields around the file
# Reserved on Windows or SMB shares as well as POSIX ('/'), so a name stays valid wherever it is copied.
_RESERVED = re.compile(r'[<>:"/\\|?*]')


def safe_filename(name: str | None) -> str:
    """The last part of a client's filename (either slash), without control or reserved characters,
    leading dots or surrounding spaces, at most MAX_NAME_BYTES of UTF-8 with its suffix kept."""
    base = re.split(r"[\\/]", unicodedata.normalize("NFC", name or ""))[-1]
    base = "".join("_" if unicodedata.category(c)[0] == "C" else c for c in _RESERVED.sub("_", base))
    base = " ".join(base.split()).lstrip(". ").rstrip(" ")
    suffix = PurePath(base).suffix if base else ""
    if len(suffix) > MAX_SUFFIX_CHARS:
        suffix = ""
    stem = base[: len(base) - len(suffix)]
    budget = MAX_NAME_BYTES - len(suffix.encode())
    stem = stem.encode()[:budget].decode("utf-8", "ignore").rstrip(" .")
    return (stem or FALLBACK_NAME) + suffix


@contextmanager
def staged_upload(uploads_dir: Path, filename: str | None) -> Iterator[Path]:
    """A path `uploads_dir/<random>/<safe name>` for one upload; the folder goes away at exit."""
    uploads_dir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(dir=uploads_dir, prefix="upload-"))
    try:
        yield folder / safe_filename(filename)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def too_large_message(limit: int) -> str:
    return f"the upload is over the limit of {limit} bytes; split or compress the file"


async def save_upload(upload: UploadFile, request: Request, limit: int, target: Path) -> None:
    """Copy the upload to `target`, refusing it (413) past `limit` bytes."""
    declared = int(request.headers.get("content-length") or 0)
    too_large = UploadTooLarge(too_large_message(limit))
    if declared > limit + MULTIPART_SLACK_BYTES:
        raise too_large
    size = 0
    with target.open("wb") as out:
        while chunk := await upload.read(COPY_CHUNK):
            size += len(chunk)
            if size > limit:
                raise too_large
            await asyncio.to_thread(out.write, chunk)
