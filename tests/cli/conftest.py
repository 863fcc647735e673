"""The ``tokendesk`` command run in-process on a real, migrated database (SQLite and
PostgreSQL), with a Tokendesk on the same database to check what the command cannot show."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from support.api import ADMIN_PASSWORD, keyring_spec
from support.cli import PUBLIC_URL, Cli
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk, build


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


def _tokendesk(env: dict[str, str]) -> Tokendesk:
    """Tokendesk on the command line's database and key ring (the given keys, or else the
    data folder's key ring file, as the command would use), with the tests' cheap hasher."""
    keys = env.get("TOKENDESK_ENCRYPTION_KEYS")
    return build(Settings(
        database_url=env["TOKENDESK_DATABASE_URL"],
        data_dir=Path(env["TOKENDESK_DATA_DIR"]),
        encryption_keys=keys,  # type: ignore[arg-type]  # pydantic turns it into a SecretStr
        public_url=PUBLIC_URL,
    ), passwords=CHEAP_PASSWORDS)


@pytest.fixture
def admin_cli(cli: Cli) -> Cli:
    """The command line on an installation with the administrator ``admin``.

    Set up as ``tokendesk admin create`` does (tests/cli/test_setup_cli.py runs the command
    itself), but with the cheap hasher: the command would pay production argon2 per test.
    """
    app = _tokendesk(cli.env)
    try:
        with app.transaction() as tx:
            app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
    finally:
        app.close()
    return cli


@pytest.fixture
def td(env: dict[str, str]) -> Iterator[Tokendesk]:
    """Tokendesk on the command line's database and key ring."""
    app = _tokendesk(env)
    yield app
    app.close()
