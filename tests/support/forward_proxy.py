"""A real forward proxy (the ``proxy.py`` package) on 127.0.0.1, with basic authentication
and an access log the tests read to see which requests really went through it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.tokendesk_server import free_port

STARTUP_TIMEOUT_S = 20.0
POLL_S = 0.02  # between checks while it starts or writes its access log


class ForwardProxy:
    def __init__(self, log_dir: Path, *, username: str, password: str) -> None:
        self.port = free_port()
        self.username = username
        self.password = password
        self.log_path = log_dir / "forward-proxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ForwardProxy:
        executable = shutil.which("proxy") or str(Path(sys.executable).parent / "proxy")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [
                    executable,
                    "--hostname",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--basic-auth",
                    f"{self.username}:{self.password}",
                    "--num-workers",
                    "1",
                    "--num-acceptors",
                    "1",
                    "--log-level",
                    "INFO",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        proxy_url = f"http://{self.username}:{self.password}@127.0.0.1:{self.port}"
        while time.monotonic() < deadline:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/", proxy=proxy_url, timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(POLL_S)
        raise RuntimeError(f"the forward proxy did not start:\n{self.log_path.read_text()}")

    def requests_to(self, host_port: str, *, wait_s: float = 3.0, at_least: int = 1
                    ) -> list[str]:
        """Access-log lines of requests the proxy forwarded to ``host_port`` (it writes them
        when the client's connection closes, so wait a little for ``at_least`` of them)."""
        deadline = time.monotonic() + wait_s
        while True:
            lines = [
                line
                for line in self.log_path.read_text(errors="replace").splitlines()
                if "access_log" in line and f" {host_port}/" in line
            ]
            if len(lines) >= at_least or time.monotonic() > deadline:
                return lines
            time.sleep(POLL_S)

    def authentication_failures(self) -> int:
        return self.log_path.read_text(errors="replace").count("ProxyAuthenticationFailed")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
