"""Serving a fake's WSGI app on localhost from a daemon thread (shared by both vendor fakes)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

WSGIApp = Callable[..., Iterable[bytes]]


def serve_in_thread(
    app: WSGIApp | Any, name: str, host: str = "127.0.0.1", port: int = 0
) -> tuple[BaseWSGIServer, str]:
    """Start a threaded werkzeug server for ``app``; returns the server and its base URL."""
    server = make_server(host, port, app, threaded=True)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=name, daemon=True
    )
    thread.start()
    return server, f"http://{host}:{server.server_port}"


def stop_server(server: BaseWSGIServer | None) -> None:
    if server is not None:
        server.shutdown()
        server.server_close()
