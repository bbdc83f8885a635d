"""Where a running `opticite serve` announces itself: `data_dir/server.json` with its URL and pid.

The embedded vector store (a Qdrant folder) opens in one process only, so CLI commands on the
same data directory look here first and, while a live server is announced, go through its HTTP API.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pydantic import BaseModel, ValidationError

SERVER_FILE = "server.json"


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
