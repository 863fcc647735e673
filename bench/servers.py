"""The processes a benchmark run starts: ``tokendesk serve``, the ceiling app, PostgreSQL
databases, and what the operating system says about them (RSS)."""

# ruff: noqa: S603 -- starts tokendesk, the ceiling and taskset with fixed arguments
from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import httpx

REPO_ROOT = Path(__file__).resolve().parents[1]
STARTUP_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
CLI_TIMEOUT_S = 120.0
SERVER_CPU = 0  # the core that serves; the load generator gets LOAD_CPU
LOAD_CPU = 1


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def can_pin() -> bool:
    """True when ``taskset`` exists and there are at least two cores to split."""
    return shutil.which("taskset") is not None and len(os.sched_getaffinity(0)) >= 2


def pinned(cpu: int | None, argv: Sequence[str]) -> list[str]:
    """``argv`` run on core ``cpu`` through ``taskset`` (which execs: the pid stays the same)."""
    if cpu is None or not can_pin():
        return list(argv)
    return ["taskset", "-c", str(cpu), *argv]


def tokendesk_executable() -> str:
    """The ``tokendesk`` command of this virtual environment (as installed by pip)."""
    beside = Path(sys.executable).parent / "tokendesk"
    if beside.exists():
        return str(beside)
    found = shutil.which("tokendesk")
    if found is None:
        raise RuntimeError("the `tokendesk` command is not installed; run "
                           "`.venv/bin/pip install -e '.[dev,bench]'`")
    return found


def clean_environment() -> dict[str, str]:
    """This process's environment without any TOKENDESK_ setting of the person running it."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TOKENDESK_")}


def run_cli(args: Sequence[str], env: Mapping[str, str], stdin: str | None = None) -> str:
    """Run ``tokendesk <args>`` as a user would; returns its standard output."""
    done = subprocess.run([tokendesk_executable(), *args], env=dict(env), input=stdin,
                          capture_output=True, text=True, timeout=CLI_TIMEOUT_S, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"`tokendesk {' '.join(args)}` exited {done.returncode}: "
                           f"{done.stderr.strip()}")
    return done.stdout


class ServerProcess:
    """A server subprocess: started, waited for (bounded), stopped; its pid and memory."""

    def __init__(self, name: str, argv: Sequence[str], env: Mapping[str, str], log_path: Path,
                 ready_url: str, ready_headers: Mapping[str, str] | None = None) -> None:
        self.name = name
        self.argv = list(argv)
        self.env = dict(env)
        self.log_path = log_path
        self.ready_url = ready_url
        self.ready_headers = dict(ready_headers or {})
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self) -> ServerProcess:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(self.argv, env=self.env, cwd=REPO_ROOT,
                                            stdin=subprocess.DEVNULL, stdout=log,
                                            stderr=subprocess.STDOUT)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited (status {self.process.returncode}):\n"
                                   + self.logs()[-3000:])
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.ready_url, headers=self.ready_headers, timeout=1,
                             trust_env=False).status_code == 200:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer within {STARTUP_TIMEOUT_S:.0f} s:\n"
                           + self.logs()[-3000:])

    def stop(self) -> None:
        """SIGTERM (a clean shutdown), then SIGKILL if it does not exit in time. Idempotent."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def memory_mb(self) -> dict[str, float]:
        """Resident set size now (``VmRSS``) and its peak (``VmHWM``), in MB (10^6 bytes)."""
        found: dict[str, float] = {}
        status = Path(f"/proc/{self.pid}/status").read_text()
        for line in status.splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):  # the kernel counts in KiB
                found[key] = round(int(value.split()[0]) * 1024 / 1e6, 1)
        return {"rss_mb": found.get("VmRSS", 0.0), "peak_rss_mb": found.get("VmHWM", 0.0)}

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_process(name: str, env: Mapping[str, str], port: int, log_path: Path,
                  cpu: int | None) -> ServerProcess:
    """``tokendesk serve`` exactly as a user starts it, settings from the environment."""
    full_env = {**env, "TOKENDESK_PORT": str(port), "TOKENDESK_HOST": "127.0.0.1"}
    return ServerProcess(name, pinned(cpu, [tokendesk_executable(), "serve"]), full_env, log_path,
                         f"http://127.0.0.1:{port}/api/v1/health")


def ceiling_process(port: int, body_bytes: int, log_path: Path,
                    cpu: int | None) -> ServerProcess:
    """The bare Starlette app of :mod:`bench.ceiling`, served like ``tokendesk serve``."""
    argv = [sys.executable, "-m", "bench.ceiling", "--port", str(port),
            "--body-bytes", str(body_bytes)]
    return ServerProcess("ceiling", pinned(cpu, argv), clean_environment(), log_path,
                         f"http://127.0.0.1:{port}/api/v1/connections/ready/token")


# --- PostgreSQL -----------------------------------------------------------------------------


def postgres_unavailable(admin_url: str) -> str | None:
    """Why PostgreSQL at ``admin_url`` cannot be used, or None when it can."""
    import psycopg

    try:
        with psycopg.connect(_libpq(admin_url), connect_timeout=5) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return f"cannot connect to PostgreSQL ({str(exc).strip().splitlines()[0]})"
    return None


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str, label: str) -> Iterator[str]:
    """Create an empty database for this run, yield its SQLAlchemy URL, drop it afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    name = f"tokendesk_bench_{label}_{secrets.token_hex(4)}"
    with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(_libpq(admin_url), autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def postgres_version(admin_url: str) -> str:
    import psycopg

    with psycopg.connect(_libpq(admin_url), connect_timeout=5) as conn:
        row = conn.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "?"


def _libpq(url: str) -> str:
    """A SQLAlchemy-style URL as libpq understands it (no ``+psycopg`` driver suffix)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url).set(drivername="postgresql")
    return parsed.render_as_string(hide_password=False)
