"""The installed ``tokendesk`` executable sets up a SQLite installation without prompts:
``init``, ``admin create --password-stdin``, ``keys create --json``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.api import ADMIN_PASSWORD
from tokendesk.config import Settings
from tokendesk.services.wiring import build

RUN_TIMEOUT_S = 60


def executable() -> str:
    beside_python = Path(sys.executable).parent / "tokendesk"
    found = str(beside_python) if beside_python.exists() else shutil.which("tokendesk")
    if found is None:
        pytest.fail("the tokendesk executable is not installed (pip install -e .)")
    return found


def tokendesk(data_dir: Path, *args: str,
              stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOKENDESK_")}
    env["TOKENDESK_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [executable(), *args], input=stdin, stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True, text=True, env=env, timeout=RUN_TIMEOUT_S, check=False,
    )


def test_the_executable_sets_up_sqlite_and_prints_a_working_api_key(tmp_path: Path) -> None:
    data = tmp_path / "data"

    init = tokendesk(data, "init")
    admin = tokendesk(data, "admin", "create", "--username", "admin", "--password-stdin",
                      stdin=ADMIN_PASSWORD + "\n")
    key = tokendesk(data, "keys", "create", "--user", "admin", "--name", "ci", "--json")
    refused = tokendesk(data, "connections", "delete", "anything")

    assert init.returncode == 0, init.stderr
    assert (data / "tokendesk.sqlite3").exists() and (data / "keyring.json").exists()
    assert admin.returncode == 0, admin.stderr
    assert ADMIN_PASSWORD not in admin.stdout + admin.stderr
    assert key.returncode == 0, key.stderr
    td = build(Settings(data_dir=data), create_missing=False)
    try:
        with td.transaction() as tx:
            principal = td.auth.authenticate_api_key(tx, json.loads(key.stdout)["key"])
        assert principal.username == "admin"
    finally:
        td.close()
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines()[-1].startswith("error: Nothing was deleted")


def test_the_executable_refuses_to_work_without_an_installation(tmp_path: Path) -> None:
    result = tokendesk(tmp_path / "nothing-here", "connections", "list")

    assert result.returncode == 78, result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert not (tmp_path / "nothing-here" / "keyring.json").exists()
