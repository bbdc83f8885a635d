"""The files a run considers: a folder searched recursively, and objects of an S3-compatible bucket
downloaded into a scratch folder (their hash needs their bytes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

# what opticite reads (PDF and images); the server checks the content and refuses anything else
EXTENSIONS = frozenset({".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp"})


def _wanted(name: str) -> bool:
    return not Path(name).name.startswith(".") and Path(name).suffix.lower() in EXTENSIONS


def folder_files(folder: Path) -> list[Path]:
    """PDFs and images under `folder`, hidden files left out, in name order."""
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: no such folder")
    return [p for p in sorted(folder.rglob("*")) if p.is_file() and _wanted(p.name)]


def bucket_files(
    bucket: str, prefix: str, scratch: Path, endpoint_url: str | None = None, client: Any = None
) -> list[tuple[str, Path]]:
    """Each PDF or image object under `prefix`, downloaded into `scratch`: (s3 URI, local path).

    Credentials come from boto3's usual chain (AWS_* variables, config files, instance roles);
    `endpoint_url` points at any S3-compatible store (MinIO, Ceph, R2...)."""
    if client is None:
        import boto3  # only runs that read a bucket need it (extra `s3`)

        client = boto3.client("s3", endpoint_url=endpoint_url)
    found = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            key = obj["Key"]
            if key.endswith("/") or not _wanted(key):
                continue
            target = scratch / key
            target.parent.mkdir(parents=True, exist_ok=True)
            client.download_file(bucket, key, str(target))
            found.append((f"s3://{bucket}/{key}", target))
    return found
