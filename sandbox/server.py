"""Run a sandbox in a background thread of the current process (for tests)."""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server

from .app import create_app
from .context import Sandbox


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class SandboxServer:
    """A threaded werkzeug server around one sandbox app; `.url`, `.stop()`, usable as `with`."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0, quiet: bool = True):
        self.app = app
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server = make_server(host, port, app, threaded=True, request_handler=handler)
        self.host = host
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread: threading.Thread | None = None

    @property
    def sandbox(self) -> Sandbox:
        """Direct access to settings and state, for assertions in-process tests may want."""
        return self.app.extensions["sandbox"]

    def start(self) -> SandboxServer:
        # a short poll interval keeps stop() fast: tests start and stop many sandboxes
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        self._server.serve_forever()

    def stop(self) -> None:
        self.sandbox.state.stop()  # wake and end retry/refund workers
        if self._thread is not None:  # shutdown() would wait forever on a server never started
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sandbox(
    settings: dict[str, Any] | None = None, port: int = 0, host: str = "127.0.0.1"
) -> SandboxServer:
    """Start a sandbox on `port` (0 = any free port) and return once it accepts connections."""
    return SandboxServer(create_app(settings), host=host, port=port).start()
