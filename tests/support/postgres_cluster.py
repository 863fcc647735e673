"""A private, throw-away PostgreSQL cluster, for tests that stop and start the server.

Stopping the shared server (``TOKENDESK_TEST_POSTGRES_URL``) would break every other test
running against it in parallel, so such a test starts its own cluster with ``initdb`` and
``pg_ctl`` (Debian's ``postgresql`` package puts them in ``/usr/lib/postgresql/<major>/bin``)
in a temporary directory, on a free port of 127.0.0.1, with trust authentication. PostgreSQL
refuses to run as root: under root the cluster belongs to, and runs as, the ``postgres`` user
(``nobody`` when there is none).

Without the binaries the calling test is skipped -- under ``CI=true`` it fails instead.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest

from support.tokendesk_server import free_port

POSTGRES_LIB_DIR = Path("/usr/lib/postgresql")
PG_CTL_TIMEOUT_S = 60
DATABASE = "tokendesk"


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def postgres_bin_dir() -> Path | None:
    """The directory of the newest installed ``initdb`` and ``pg_ctl``, or None."""
    candidates = sorted(
        (p for p in POSTGRES_LIB_DIR.glob("*/bin") if p.name == "bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(Path(on_path).parent)
    for directory in candidates:
        if (directory / "initdb").is_file() and (directory / "pg_ctl").is_file():
            return directory
    return None


def require_postgres_binaries() -> Path:
    """The binaries' directory; skips the calling test without them (fails it under CI)."""
    found = postgres_bin_dir()
    if found is not None:
        return found
    reason = (f"initdb/pg_ctl not found (in {POSTGRES_LIB_DIR}/*/bin or on PATH); "
              "install the postgresql package")
    if in_ci():
        pytest.fail(reason + " -- the database restart test must run in CI", pytrace=False)
    pytest.skip(reason)


def _cluster_user() -> str | None:
    """The user the cluster runs as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    pytest.fail("running as root and neither 'postgres' nor 'nobody' exists to run PostgreSQL")


class PrivateCluster:
    """One PostgreSQL cluster of our own: ``start()``, ``stop()``, ``url``, ``destroy()``."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.user = _cluster_user()
        self.port = free_port()
        # Not under pytest's tmp_path: that one is private to root, and the cluster's user
        # must reach its own directory.
        self.root = Path(tempfile.mkdtemp(prefix="tokendesk-pg-"))
        self.data_dir = self.root / "data"
        self.log_path = self.root / "server.log"
        if self.user is not None:
            account = pwd.getpwnam(self.user)
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self._run("initdb", "--pgdata", str(self.data_dir), "--username", "postgres",
                  "--auth", "trust", "--encoding", "UTF8", "--no-sync")
        self.running = False

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the test database (created by :meth:`create_database`)."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> PrivateCluster:
        """Start the server and wait until it accepts connections."""
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "start", "--pgdata", str(self.data_dir), "--log",
                  str(self.log_path), "--wait", "--timeout", str(PG_CTL_TIMEOUT_S),
                  "--options", options)
        self.running = True
        return self

    def stop(self, mode: str = "fast") -> None:
        """Stop the server: ``fast`` ends open sessions, as a restart by an operator does."""
        self._run("pg_ctl", "stop", "--pgdata", str(self.data_dir), "--mode", mode,
                  "--wait", "--timeout", str(PG_CTL_TIMEOUT_S))
        self.running = False

    def create_database(self) -> str:
        """Create the test database; returns its URL."""
        with psycopg.connect(host="127.0.0.1", port=self.port, user="postgres",
                             dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        return self.url

    def destroy(self) -> None:
        """Stop the server if it runs and remove every file of the cluster."""
        try:
            if self.running:
                self.stop(mode="immediate")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def logs(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return "(no server log)"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin_dir / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True,
                              timeout=PG_CTL_TIMEOUT_S + 30, check=False, cwd=self.root)
        if done.returncode != 0:
            raise RuntimeError(f"{program} failed ({done.returncode}):\n{done.stdout}"
                               f"{done.stderr}\n{self.logs()}")
