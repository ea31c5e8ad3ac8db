"""Starting and stopping moto's server in its own process (``local.moto_server`` is what it runs)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import httpx


class MotoServerProcess:
    """moto's server in its own process: AWS calls then run on the second core, not under our GIL."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0, attempts: int = 3) -> str:
        # local/moto_server.py: moto's server with HTTP/1.1 keep-alive and stream appends serialized
        # (unique stream sequence numbers). A free port can be taken by another process (parallel
        # test workers) before moto binds it: then moto exits at once and another port is tried.
        repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        deadline = time.monotonic() + timeout
        for _ in range(attempts):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter running moto
                [sys.executable, "-m", "local.moto_server", "-H", "127.0.0.1", "-p", str(port)],
                cwd=repo_root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            url = f"http://127.0.0.1:{port}"
            while time.monotonic() < deadline and self._proc.poll() is None:
                try:
                    httpx.get(f"{url}/moto-api/", timeout=1)
                    return url
                except httpx.TransportError:
                    time.sleep(0.1)
            if self._proc.poll() is None:
                self.stop()
                raise TimeoutError("moto server did not start")
            self._proc = None
        raise RuntimeError("moto server exited during start-up")

    def stop(self) -> None:
        if self._proc is not None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
            self._proc = None
