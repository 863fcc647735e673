"""``tokendesk serve`` run exactly as a user runs it, in a subprocess, for replica tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import httpx

from support.tokendesk_server import free_port
from tokendesk.config import Settings

STARTUP_TIMEOUT_S = 30.0
POLL_S = 0.02  # between health checks while it starts


def tokendesk_executable() -> str:
    found = shutil.which("tokendesk") or str(Path(sys.executable).parent / "tokendesk")
    return found


class ServeProcess:
    """One replica: ``tokendesk serve`` on its own port, sharing the given database."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            **env,
            "TOKENDESK_PORT": str(self.port),
            "TOKENDESK_HOST": "127.0.0.1",
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServeProcess:
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [tokendesk_executable(), "serve"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"tokendesk serve exited:\n{self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(POLL_S)
        self.stop()
        raise RuntimeError(f"tokendesk serve did not start:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


def replica_env(settings: Settings, data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of another ``tokendesk serve`` on the same database and key ring as
    ``settings`` (a TokendeskServer's), allowed to call the test servers on 127.0.0.1."""
    assert settings.encryption_keys is not None
    return {
        "TOKENDESK_DATABASE_URL": settings.effective_database_url,
        "TOKENDESK_DATA_DIR": str(data_dir),
        "TOKENDESK_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),
        "TOKENDESK_ALLOW_HTTP_LOOPBACK": "true",
        "TOKENDESK_EGRESS_ALLOWLIST": "127.0.0.1",
        "TOKENDESK_BACKGROUND_REFRESH": "false",
        **extra,
    }
