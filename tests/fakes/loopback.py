"""A uvicorn server in a background thread on a loopback port: how every test server here starts."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn


class LoopbackServer:
    """Serves `app` on 127.0.0.1 (`port` 0 picks a free one); `start` returns once it accepts requests."""

    def __init__(self, app: Any, port: int = 0, **config: Any) -> None:
        self.app = app
        self.port = port
        self.config = {"log_level": "warning", "lifespan": "off"} | config
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 30.0) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        self._server = uvicorn.Server(uvicorn.Config(self.app, **self.config))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:  # set once the lifespan ran and the socket listens
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the test server did not start on port {self.port}")
            time.sleep(0.02)

    def stop(self, timeout_s: float = 10.0) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)
