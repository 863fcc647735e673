"""A real nginx (Debian's package) in front of Tokendesk replicas: a plain round-robin
upstream, no session affinity, run as a foreground process on 127.0.0.1 for one test.

Every answer carries ``X-Tokendesk-Replica`` (the upstream address that served it), so a
test can see that both replicas took part.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from support.tokendesk_server import free_port

NGINX = Path("/usr/sbin/nginx")
REPLICA_HEADER = "X-Tokendesk-Replica"
STARTUP_TIMEOUT_S = 15.0
POLL_S = 0.05

CONFIG = """\
{user}worker_processes 1;
daemon off;
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    # Round robin, the default: no ip_hash, no sticky cookie -- any replica, any request.
    upstream tokendesk {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://tokendesk;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $scheme;
            add_header {header} $upstream_addr always;
        }}
    }}
}}
"""


def nginx_available() -> bool:
    return NGINX.is_file() and os.access(NGINX, os.X_OK)


class LoadBalancer:
    """``nginx`` on its own port, balancing round robin over ``upstreams`` (host:port)."""

    def __init__(self, root: Path, upstreams: Sequence[str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = root
        self.upstreams = list(upstreams)
        self.process: subprocess.Popen[bytes] | None = None

    def write_config(self) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        # As root, nginx's workers would run as 'nobody' and could not use the temp folders.
        user = "user root;\n" if os.geteuid() == 0 else ""
        servers = "\n".join(f"        server {u};" for u in self.upstreams)
        config = self.root / "nginx.conf"
        config.write_text(CONFIG.format(user=user, root=self.root, servers=servers,
                                        port=self.port, header=REPLICA_HEADER))
        return config

    def start(self) -> LoadBalancer:
        config = self.write_config()
        with open(self.root / "stdout.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(NGINX), "-p", str(self.root), "-c", str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nginx exited:\n{self.logs()}")
            try:
                httpx.get(self.url + "/api/v1/health", timeout=1, trust_env=False)
                return self
            except httpx.HTTPError:
                time.sleep(POLL_S)
        self.stop()
        raise RuntimeError(f"nginx did not start:\n{self.logs()}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def logs(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.root / "error.log",
                                                         self.root / "stdout.log") if p.exists()]
        return "\n".join(parts)

