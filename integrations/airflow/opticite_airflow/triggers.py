"""Waits in Airflow's triggerer until every document is done, partial, failed or cancelled, so no worker
slot is held while the server reads pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
from airflow.triggers.base import BaseTrigger, TriggerEvent

from opticite_airflow.client import (
    RETRIES,
    TERMINAL_STATES,
    TIMEOUT,
    OpticiteApiError,
    checked,
    headers,
    unreachable,
)

MAX_FAILED_POLLS = 5  # polls in a row that found the server unreachable or failing before giving up


class OpticiteDocumentsTrigger(BaseTrigger):
    """Polls `GET /v1/documents/{id}` every `poll_interval_s`; fires once with every document's end state
    (`{"documents": {id: {filename, status, error}}}`) or with `{"error": message}`, and `carry` as given
    (what the task needs back: defer's own kwargs do not survive `dag.test()`)."""

    def __init__(
        self,
        base_url: str,
        document_ids: list[str],
        api_key: str | None = None,
        poll_interval_s: float = 10.0,
        carry: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.document_ids = list(document_ids)
        self.api_key = api_key
        self.poll_interval_s = poll_interval_s
        self.carry = carry or {}

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            "opticite_airflow.triggers.OpticiteDocumentsTrigger",
            {
                "base_url": self.base_url,
                "document_ids": self.document_ids,
                "api_key": self.api_key,
                "poll_interval_s": self.poll_interval_s,
                "carry": self.carry,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        ended: dict[str, dict[str, Any]] = {}
        failed_polls = 0
        transport = httpx.AsyncHTTPTransport(retries=RETRIES)
        async with httpx.AsyncClient(
            base_url=self.base_url, headers=headers(self.api_key), timeout=TIMEOUT, transport=transport
        ) as http:
            while len(ended) < len(self.document_ids):
                try:
                    for doc_id in (d for d in self.document_ids if d not in ended):
                        doc = await self._document(http, doc_id)
                        if doc["status"] in TERMINAL_STATES:
                            ended[doc_id] = {k: doc.get(k) for k in ("filename", "status", "error")}
                    failed_polls = 0
                except OpticiteApiError as exc:
                    failed_polls += 1
                    if not exc.transient or failed_polls >= MAX_FAILED_POLLS:
                        yield TriggerEvent({"error": exc.message, "carry": self.carry})
                        return
                    self.log.warning("poll %d failed, trying again: %s", failed_polls, exc.message)
                if len(ended) < len(self.document_ids):
                    await asyncio.sleep(self.poll_interval_s * (2 ** min(failed_polls, 4)))
        yield TriggerEvent({"documents": ended, "carry": self.carry})

    async def _document(self, http: httpx.AsyncClient, doc_id: str) -> dict[str, Any]:
        try:
            return dict(checked(await http.get(f"/v1/documents/{doc_id}")))
        except httpx.TransportError as exc:
            raise unreachable(self.base_url, exc) from exc
