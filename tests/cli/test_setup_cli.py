"""Setting up without prompts: ``init``, ``admin create --password-stdin`` and
``keys create --json``, through the installed ``tokendesk`` executable on SQLite."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from support.api import ADMIN_PASSWORD
from support.cli import Cli, one_error_line
from tokendesk.config import Settings
from tokendesk.wiring import build

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


def test_commands_refuse_to_work_on_a_folder_without_an_installation(tmp_path: Path) -> None:
    env = {"TOKENDESK_DATA_DIR": str(tmp_path / "nothing-here"), "TOKENDESK_DATABASE_URL": "",
           "TOKENDESK_ENCRYPTION_KEYS": ""}

    result = Cli(env)("connections", "list")

    assert result.exit_code == 78
    assert "no Tokendesk database" in one_error_line(result)
    assert "tokendesk init" in one_error_line(result)
    assert not (tmp_path / "nothing-here").exists()  # refusing created nothing


def test_admin_create_refuses_a_duplicate_and_a_short_password(cli: Cli) -> None:
    cli.ok("init")
    cli.ok("admin", "create", "--username", "root", "--password-stdin",
           input=ADMIN_PASSWORD + "\n")

    again = cli("admin", "create", "--username", "root", "--password-stdin",
                input=ADMIN_PASSWORD + "\n")
    short = cli("admin", "create", "--username", "other", "--password-stdin", input="short\n")

    assert again.exit_code == 4
    one_error_line(again)
    assert short.exit_code == 2
    assert "short" not in one_error_line(short).split(":", 1)[1].split()
