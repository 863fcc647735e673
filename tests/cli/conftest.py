"""The ``tokendesk`` command run in-process on a real, migrated database (SQLite and
PostgreSQL), with a Tokendesk on the same database to check what the command cannot show."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from support.api import ADMIN_PASSWORD, keyring_spec
from tokendesk.cli.main import app
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.services.wiring import Tokendesk, build

PUBLIC_URL = "https://tokendesk.example.test"


@dataclass
class Cli:
    """Runs ``tokendesk ARGS`` and keeps a transcript of everything it printed."""

    env: dict[str, str]
    runner: CliRunner = field(default_factory=CliRunner)
    transcript: list[str] = field(default_factory=list)

    def __call__(self, *args: str, input: str | None = None) -> Result:
        result = self.runner.invoke(app, list(args), input=input, env=self.env)
        self.transcript += [result.stdout, result.stderr]
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result

    def ok(self, *args: str, input: str | None = None) -> Result:
        result = self(*args, input=input)
        assert result.exit_code == 0, result.stderr
        return result

    def json(self, *args: str, input: str | None = None) -> Any:
        return json.loads(self.ok(*args, "--json", input=input).stdout)

    @property
    def everything_printed(self) -> str:
        return "\n".join(self.transcript)


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        "TOKENDESK_DATABASE_URL": database_url,
        "TOKENDESK_DATA_DIR": str(tmp_path / "data"),
        "TOKENDESK_ENCRYPTION_KEYS": keyring_spec(KeyRing.generate()),
        "TOKENDESK_PUBLIC_URL": PUBLIC_URL,
    }


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    return Cli(env)


@pytest.fixture
def admin_cli(cli: Cli) -> Cli:
    """The command line on an installation with the administrator ``admin``."""
    cli.ok("admin", "create", "--username", "admin", "--password-stdin",
           input=ADMIN_PASSWORD + "\n")
    return cli


@pytest.fixture
def td(env: dict[str, str]) -> Iterator[Tokendesk]:
    """Tokendesk on the command line's database and key ring."""
    app = build(Settings(
        database_url=env["TOKENDESK_DATABASE_URL"],
        data_dir=Path(env["TOKENDESK_DATA_DIR"]),
        encryption_keys=env["TOKENDESK_ENCRYPTION_KEYS"],
        public_url=PUBLIC_URL,
    ))
    yield app
    app.close()


def one_error_line(result: Result) -> str:
    """The single ``error: ...`` line a failed command printed on stderr."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error"), lines[0]
    return lines[0]
