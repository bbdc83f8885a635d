"""A running `opticite serve`: its announcement (`data_dir/server.json`: URL and pid) and a client for it.

The embedded vector store opens in one process only, so CLI commands on the same data directory
look for an announced live server first and then go through its HTTP API (`ServerClient`).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import time
from collections.abc import AsyncGenerator, Callable, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from pydantic import BaseModel, ValidationError

from api.cli_files import CliError
from api.schemas import (
    AskRequest,
    CalibrationPublic,
    DocumentDetail,
    DocumentPublic,
    ExtractJobPublic,
    JobPublic,
    SearchRequest,
    SubmissionPublic,
)
from ingest.calibration import CalibrationReport
from ingest.errors import OpticiteError
from ingest.ocr.engine import OcrOptions, PageKind, ResolutionMode

SERVER_FILE = "server.json"
# uvicorn's default keep-alive (5 s) equals httpx's pool expiry, so a client could reuse a connection
# just as the server closed it (a ReadError on a POST); the server now keeps idle connections well
# past common client defaults (nginx/ALB use 60 s) and our own client drops them well before that
SERVER_KEEP_ALIVE_S = 75
CLIENT_KEEP_ALIVE_S = 30.0


class ServerInfo(BaseModel):
    url: str  # base URL, e.g. http://127.0.0.1:8000 (routes live under /v1)
    pid: int
    started_at: float


def server_file(data_dir: Path) -> Path:
    return data_dir / SERVER_FILE


def write_server_info(data_dir: Path, url: str, pid: int | None = None) -> Path:
    """Announce a server; written atomically so a reader never sees half a file."""
    data_dir.mkdir(parents=True, exist_ok=True)
    info = ServerInfo(url=url.rstrip("/"), pid=pid or os.getpid(), started_at=time.time())
    path = server_file(data_dir)
    tmp = path.with_suffix(f".{info.pid}.tmp")
    tmp.write_text(info.model_dump_json(), encoding="utf-8")
    tmp.replace(path)
    return path


def remove_server_info(data_dir: Path, pid: int | None = None) -> None:
    """Withdraw the announcement, but only our own: a newer server may have replaced it."""
    path = server_file(data_dir)
    info = _load(path)
    if info is not None and info.pid != (pid or os.getpid()):
        return
    path.unlink(missing_ok=True)


def read_server_info(data_dir: Path) -> ServerInfo | None:
    """The announced server, or None when there is none or its process is gone (a stale file)."""
    info = _load(server_file(data_dir))
    if info is None or not pid_alive(info.pid):
        return None
    return info


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _load(path: Path) -> ServerInfo | None:
    try:
        return ServerInfo.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, ValidationError):
        return None


class ServerError(OpticiteError):
    """The announced server refused a request or cannot be reached; `message` is for the user, `code` and
    `status` are the server's (status 0: no reply)."""

    def __init__(self, message: str, code: str = "server_error", status: int = 0) -> None:
        super().__init__(message)
        self.code, self.status = code, status


class AnnouncingServer(uvicorn.Server):
    """uvicorn that writes server.json once it listens (after the app's start-up) and removes it at exit."""

    def __init__(
        self, config: uvicorn.Config, data_dir: Path, on_ready: Callable[[str], None] | None = None
    ) -> None:
        super().__init__(config)
        self.data_dir = data_dir
        self.on_ready = on_ready
        self.url: str | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.servers:
            port = self.servers[0].sockets[0].getsockname()[1]
            host = self.config.host if self.config.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
            self.url = f"http://{host}:{port}"
            write_server_info(self.data_dir, self.url)
            if self.on_ready is not None:
                self.on_ready(f"http://{self.config.host}:{port}")

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        remove_server_info(self.data_dir)
        await super().shutdown(sockets)


class ServerClient:
    """The CLI's way through a running server: the same operations as `Services`, over `/v1`."""

    def __init__(self, url: str, api_key: str | None = None, timeout_s: float = 300.0) -> None:
        headers = {"X-API-Key": api_key} if api_key else {}
        self.url = url
        self.http = httpx.AsyncClient(
            base_url=url,
            headers=headers,
            timeout=httpx.Timeout(timeout_s, connect=5.0),
            limits=httpx.Limits(
                max_connections=100, max_keepalive_connections=20, keepalive_expiry=CLIENT_KEEP_ALIVE_S
            ),
        )

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            reply = await self.http.request(method, path, **kwargs)
        except httpx.TransportError as exc:
            raise ServerError(
                f"the opticite server at {self.url} does not answer ({type(exc).__name__}); "
                "wait until it has started, or stop it so this command can open the data directory itself"
            ) from exc
        if reply.status_code >= 400:
            raise _error_of(reply)
        return reply

    async def find(self, kb: str, sha256: str) -> DocumentDetail | None:
        """The kb's document with this content hash, or None."""
        params = {"kb": kb, "sha256": sha256, "limit": 1}
        found = (await self.request("GET", "/v1/documents", params=params)).json()["documents"]
        if not found:
            return None
        reply = await self.request("GET", f"/v1/documents/{found[0]['id']}")
        return DocumentDetail.model_validate(reply.json())

    async def submit(self, path: Path, kb: str, options: OcrOptions, tags: list[str]) -> SubmissionPublic:
        # no mode: the server applies the kb's saved default modes (an upload naming a mode overrides them)
        form = {"kb": kb, "engine": options.engine, "prompt": options.prompt}
        if tags:
            form["tags"] = ",".join(tags)
        with path.open("rb") as fh:
            reply = await self.request("POST", "/v1/documents", data=form, files={"file": (path.name, fh)})
        return SubmissionPublic.model_validate(reply.json())

    async def wait_job(
        self, job_id: str, on_progress: Callable[[JobPublic], None], poll_s: float = 0.25
    ) -> JobPublic:
        while True:
            job = JobPublic.model_validate((await self.request("GET", f"/v1/jobs/{job_id}")).json())
            on_progress(job)
            if job.terminal:
                return job
            await asyncio.sleep(poll_s)

    async def search(self, request: SearchRequest) -> list[dict[str, Any]]:
        reply = await self.request("POST", "/v1/search", json=request.model_dump(exclude_none=True))
        return list(reply.json()["results"])

    async def ask(self, request: AskRequest) -> dict[str, Any]:
        reply = await self.request("POST", "/v1/ask", json=request.model_dump(exclude_none=True))
        return dict(reply.json())

    async def extract(
        self,
        kb: str,
        doc_ids: list[str] | None,
        schema: str | dict[str, Any],
        on_step: Callable[[int, int], None] = lambda n, total: None,
        poll_s: float = 0.25,
    ) -> dict[str, Any]:
        """The job's table once done: `on_step(done, total)` as its documents are done."""
        body = {"kb": kb, "schema": schema} | ({"doc_ids": doc_ids} if doc_ids else {})
        job = ExtractJobPublic.model_validate((await self.request("POST", "/v1/extract", json=body)).json())
        while not job.terminal:
            await asyncio.sleep(poll_s)
            reply = await self.request("GET", f"/v1/extract/jobs/{job.id}")
            job = ExtractJobPublic.model_validate(reply.json())
            on_step(job.documents_done, job.documents_total)
        return finished(job)

    async def calibrate_kb(
        self,
        kb: str,
        sample: int,
        tolerance: float,
        save: bool,
        on_step: Callable[[int, int], None] = lambda done, total: None,
    ) -> CalibrationPublic:
        """The calibration, from the server's event stream: `on_step(done, total)` after each page."""
        body = {"sample": sample, "tolerance": tolerance, "save": save, "stream": True}
        async with aclosing(self.events(f"/v1/kbs/{kb}/calibration", body)) as events:
            async for event, data in events:
                if event == "page":
                    on_step(data["done"], data["total"])
                elif event == "done":
                    return CalibrationPublic.model_validate(data)
        raise ServerError(f"the opticite server at {self.url} ended the calibration without its report")

    async def save_calibration(
        self, kb: str, modes: Mapping[PageKind, ResolutionMode], report: CalibrationReport | None
    ) -> CalibrationPublic:
        body = {"modes": dict(modes), "report": report.model_dump(mode="json") if report else None}
        reply = await self.request("PUT", f"/v1/kbs/{kb}/calibration", json=body)
        return CalibrationPublic.model_validate(reply.json())

    async def events(self, path: str, body: dict[str, Any]) -> AsyncGenerator[tuple[str, Any]]:
        """(event, data) of a POST's server-sent events; an `error` event raises ServerError. Use it in
        `contextlib.aclosing`, so leaving early closes the stream at once."""
        event = ""
        try:
            async with self.http.stream("POST", path, json=body, timeout=None) as reply:
                if reply.status_code >= 400:
                    await reply.aread()
                    raise _error_of(reply)
                async for line in reply.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: "):
                        data = json.loads(line[6:])
                        if event == "error":
                            raise ServerError(data["error"]["message"], data["error"]["code"])
                        yield event, data
        except httpx.TransportError as exc:
            raise ServerError(
                f"the opticite server at {self.url} stopped answering ({type(exc).__name__})"
            ) from exc

    async def documents(self, kb: str | None, limit: int) -> list[DocumentPublic]:
        params: dict[str, Any] = {"limit": limit} | ({"kb": kb} if kb else {})
        reply = await self.request("GET", "/v1/documents", params=params)
        return [DocumentPublic.model_validate(d) for d in reply.json()["documents"]]

    async def delete(self, doc_id: str) -> None:
        await self.request("DELETE", f"/v1/documents/{doc_id}")

    async def reindex_kb(self, kb: str) -> list[str]:
        reply = await self.request("POST", f"/v1/kbs/{kb}/reindex")
        return [str(job) for job in reply.json()["jobs"]]

    async def review(
        self, kb: str, action: str, doc_id: str = "", page: int = 0, body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        if action == "next":
            reply = await self.request("GET", f"/v1/kbs/{kb}/review/next")
        else:
            reply = await self.request(
                "POST", f"/v1/kbs/{kb}/review/{doc_id}/{page}/{action}", json=body or {}
            )
        return dict(reply.json())


def finished(job: ExtractJobPublic) -> dict[str, Any]:
    """A finished extraction job as the CLI prints it (`--json`); a failed one is the command's error."""
    if job.state != "done":
        raise CliError(f"the extraction failed: {job.error}")
    return job.model_dump(mode="json")


def _error_of(reply: httpx.Response) -> ServerError:
    try:
        error = reply.json()["error"]
        return ServerError(str(error["message"]), str(error["code"]), reply.status_code)
    except (ValueError, KeyError, TypeError):
        return ServerError(
            f"the server answered HTTP {reply.status_code}: {reply.text[:200]}", status=reply.status_code
        )
