"""A file's content hash, the key that makes ingestion idempotent: sha256 of its bytes, hex.

The server stores it per document (an upload of the same bytes to the same kb returns that document),
and `GET /v1/documents?sha256=` finds it before uploading (`opticite sync`, integrations/airflow).
Light on purpose: CLI commands that go through a server import it without PyMuPDF.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def sha256_file(path: Path, chunk_bytes: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_bytes):
            digest.update(chunk)
    return digest.hexdigest()
