"""Key rotation finishes when a stored value is damaged: ``keys encryption --reseal`` ends
and names the damaged value by kind and id, ``keys retire`` refuses until the operator
accepts that it stays unreadable (``--accept-unreadable``), and every other value is
re-sealed and still decrypts after the old key is gone.

The key ring lives in the data folder (the file ``keys rotate`` rewrites); the re-sealing
runs as a real process, so a command that never ends fails the test instead of hanging it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from support.api import connection_body
from support.cli import PUBLIC_URL, Cli
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tables import tokens
from tokendesk.wiring import Tokendesk, build

RESEAL_BOUND_S = 120  # a bound for a command that should take a second, not a promise


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    """No TOKENDESK_ENCRYPTION_KEYS: the key ring is the data folder's file."""
    return {
        "TOKENDESK_DATABASE_URL": database_url,
        "TOKENDESK_DATA_DIR": str(tmp_path / "data"),
        "TOKENDESK_PUBLIC_URL": PUBLIC_URL,
    }


@pytest.fixture
def td(env: dict[str, str], admin_cli: Cli) -> Iterator[Tokendesk]:
    app = build(Settings(
        database_url=env["TOKENDESK_DATABASE_URL"],
        data_dir=Path(env["TOKENDESK_DATA_DIR"]),
        public_url=PUBLIC_URL,
    ))
    yield app
    app.close()


def keyring_file(env: dict[str, str]) -> KeyRing:
    return KeyRing.from_json((Path(env["TOKENDESK_DATA_DIR"]) / "keyring.json").read_text())


def store_a_token(td: Tokendesk) -> str:
    actor = command_line_principal()
    with td.transaction() as tx:
        connection = td.connections.create(
            tx, actor, ConnectionCreate.model_validate(connection_body()))
        stored = td.tokens.store(tx, connection, TokenKind.SHARED, None, TokenSet(
            access_token=Secret("at-0"), token_type="Bearer",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            refresh_token=Secret("rt-0"), scope="api", extra={}))
    return stored.id


def damage_refresh_token(td: Tokendesk, token_id: str) -> None:
    """Flip one character of the stored refresh token's ciphertext (its key id kept)."""
    with td.transaction() as tx:
        stored = tx.execute(
            tokens.select().where(tokens.c.id == token_id)).one().refresh_token_ct
        flipped = stored[:-6] + ("A" if stored[-6] != "A" else "B") + stored[-5:]
        tx.execute(update(tokens).where(tokens.c.id == token_id)
                   .values(refresh_token_ct=flipped))


def reseal_in_a_process(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from tokendesk.cli.main import main; main()",
               "keys", "encryption", "--reseal"]
    try:
        return subprocess.run(command, env={**os.environ, **env}, capture_output=True,
                              text=True, timeout=RESEAL_BOUND_S, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`keys encryption --reseal` did not end within {RESEAL_BOUND_S} s")


def test_a_damaged_value_is_reported_and_the_old_key_retires_once_accepted(
    env: dict[str, str], admin_cli: Cli, td: Tokendesk
) -> None:
    old_key = keyring_file(env).active_key_id
    token_id = store_a_token(td)
    damage_refresh_token(td, token_id)
    admin_cli.ok("keys", "rotate")

    resealed = reseal_in_a_process(env)

    assert resealed.returncode == 0, resealed.stderr
    assert f"damaged (cannot be decrypted): tokens.refresh_token_ct {token_id}" \
        in resealed.stdout
    assert f"{old_key}: 1 stored values" in resealed.stdout  # only the damaged one is left

    refused = admin_cli("keys", "retire", old_key)
    assert refused.exit_code != 0
    assert f"tokens.refresh_token_ct {token_id}" in refused.output
    assert "--accept-unreadable" in refused.output
    assert old_key in keyring_file(env).key_ids

    retired = admin_cli.ok("keys", "retire", old_key, "--accept-unreadable")
    assert f"unreadable: tokens.refresh_token_ct {token_id}" in retired.output
    assert old_key not in keyring_file(env).key_ids

    after = build(Settings(database_url=env["TOKENDESK_DATABASE_URL"],
                           data_dir=Path(env["TOKENDESK_DATA_DIR"]), public_url=PUBLIC_URL))
    try:
        with after.transaction() as tx:
            connection = after.connections.get(tx, command_line_principal(), "Salesforce prod")
            spec = after.connections.client_spec(tx, connection)  # re-sealed: still opens
        assert spec.client_secret is not None
    finally:
        after.close()


def test_a_key_with_only_readable_values_left_is_still_refused(
    env: dict[str, str], admin_cli: Cli, td: Tokendesk
) -> None:
    old_key = keyring_file(env).active_key_id
    store_a_token(td)
    admin_cli.ok("keys", "rotate")

    refused = admin_cli("keys", "retire", old_key, "--accept-unreadable")

    assert refused.exit_code != 0
    assert "still use" in refused.output
    assert old_key in keyring_file(env).key_ids


