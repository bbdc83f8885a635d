"""OpticiteIngestOperator: upload a folder's (and a bucket's) new files to opticite, then wait deferred.

First step, on a worker: hash each file, skip those the kb already holds (same sha256), upload the rest.
Then the task defers to OpticiteDocumentsTrigger, which polls in the triggerer, and ends on a worker
again: it fails, naming each file and its reason, when a document failed or a file was refused.
"""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.exceptions import AirflowException
from airflow.sdk import BaseOperator

from opticite_airflow.client import TERMINAL_STATES, OpticiteApiError, OpticiteClient, sha256_file
from opticite_airflow.sources import bucket_files, folder_files
from opticite_airflow.triggers import OpticiteDocumentsTrigger


class OpticiteIngestOperator(BaseOperator):
    """Ingest new files from `folder` and/or `s3_bucket` into knowledge base `kb` of the server at
    `base_url`. Returns (XCom) `{"uploaded": [...], "skipped": [...], "refused": [...]}`, each row a
    file with its document id, status and error."""

    template_fields = (
        "folder",
        "kb",
        "base_url",
        "api_key",
        "engine",
        "s3_bucket",
        "s3_prefix",
        "s3_endpoint_url",
    )

    def __init__(
        self,
        *,
        kb: str,
        base_url: str,
        folder: str | None = None,
        api_key: str | None = None,
        engine: str | None = None,
        tags: list[str] | None = None,
        s3_bucket: str | None = None,
        s3_prefix: str = "",
        s3_endpoint_url: str | None = None,
        poll_interval_s: float = 10.0,
        wait_timeout: timedelta = timedelta(hours=12),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.kb, self.base_url, self.folder, self.api_key = kb, base_url, folder, api_key
        self.engine, self.tags = engine, list(tags or [])
        self.s3_bucket, self.s3_prefix, self.s3_endpoint_url = s3_bucket, s3_prefix, s3_endpoint_url
        self.poll_interval_s, self.wait_timeout = poll_interval_s, wait_timeout

    def execute(self, context: Any) -> dict[str, Any]:
        if not self.folder and not self.s3_bucket:
            raise AirflowException("nothing to ingest: set `folder`, `s3_bucket` or both")
        with tempfile.TemporaryDirectory(prefix="opticite-s3-") as scratch:
            files = [(str(p), p) for p in folder_files(Path(self.folder))] if self.folder else []
            if self.s3_bucket:
                files += bucket_files(self.s3_bucket, self.s3_prefix, Path(scratch), self.s3_endpoint_url)
            summary = self._submit_all(files)
        counts = [len(summary[k]) for k in ("uploaded", "skipped", "refused")]
        self.log.info(
            "%d file(s): %d uploaded, %d already in kb %r, %d refused",
            len(files),
            *counts[:2],
            self.kb,
            counts[2],
        )
        waiting = [r["document_id"] for r in summary["uploaded"] + summary["skipped"] if not _ended(r)]
        if not waiting:
            return self.execute_complete(context, {"documents": {}, "carry": summary})
        trigger = OpticiteDocumentsTrigger(
            self.base_url, waiting, self.api_key, self.poll_interval_s, summary
        )
        self.defer(trigger=trigger, method_name="execute_complete", timeout=self.wait_timeout)
        raise AssertionError("defer() raises TaskDeferred")  # pragma: no cover

    def _submit_all(self, files: list[tuple[str, Path]]) -> dict[str, list[dict[str, Any]]]:
        summary: dict[str, list[dict[str, Any]]] = {"uploaded": [], "skipped": [], "refused": []}
        with OpticiteClient(self.base_url, self.api_key) as client:
            for name, path in files:
                row: dict[str, Any] = {"file": name, "document_id": None, "status": None, "error": None}
                try:
                    found = client.find(self.kb, sha256_file(path))
                    if found is not None:
                        known = {
                            "document_id": found["id"],
                            "status": found["status"],
                            "error": found["error"],
                        }
                        summary["skipped"].append(row | known)
                        continue
                    sub = client.upload(path, self.kb, self.engine, self.tags)
                except OpticiteApiError as exc:
                    if exc.transient:
                        raise  # the server is down or failing: retry the task, not the file
                    summary["refused"].append(row | {"status": "refused", "error": exc.message})
                    continue
                summary["uploaded"].append(row | {"document_id": sub["document_id"], "status": "queued"})
        return summary

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        summary: dict[str, list[dict[str, Any]]] = event["carry"]
        if "error" in event:
            raise AirflowException(f"waiting on opticite failed: {event['error']}")
        for row in summary["uploaded"] + summary["skipped"]:
            end = event["documents"].get(row["document_id"])
            if end is not None:
                row.update(status=end["status"], error=end["error"])
        bad = [r for r in summary["refused"] + summary["uploaded"] + summary["skipped"] if _failed(r)]
        if bad:
            reasons = "; ".join(f"{r['file']}: {r['status']}: {r['error']}" for r in bad)
            raise AirflowException(f"{len(bad)} file(s) not ingested into kb {self.kb!r}: {reasons}")
        return summary


def _ended(row: dict[str, Any]) -> bool:
    return row["status"] in TERMINAL_STATES


def _failed(row: dict[str, Any]) -> bool:
    return row["status"] in ("refused", "failed")
