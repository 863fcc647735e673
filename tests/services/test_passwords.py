"""Passwords are hashed with production argon2id unless code passes another hasher.

Every other test runs with the cheap hasher of ``support.passwords``; these tests prove that
what production wires (``build`` without a hasher, as ``tokendesk serve`` and the command
line call it) stores hashes with the full RFC 9106 low-memory parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import argon2
import pytest
from pydantic import SecretStr

from support.api import ADMIN_PASSWORD, keyring_spec
from support.cli import PUBLIC_URL, Cli
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import UserUpdate
from tokendesk.services.passwords import PRODUCTION_PASSWORDS, Passwords
from tokendesk.storage.accounts import UserRepository
from tokendesk.wiring import Tokendesk, build

# Written out, not imported: changing the production cost must fail this test.
PRODUCTION_TIME_COST = 3
PRODUCTION_MEMORY_COST_KIB = 64 * 1024
PRODUCTION_PARALLELISM = 4


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path / "data",
                    public_url=PUBLIC_URL,
                    encryption_keys=keyring_spec(KeyRing.generate()))  # type: ignore[arg-type]


@contextmanager
def _open(settings: Settings, **kwargs: Passwords) -> Iterator[Tokendesk]:
    app = build(settings, **kwargs)
    try:
        yield app
    finally:
        app.close()


def stored_parameters(td: Tokendesk, username: str) -> argon2.Parameters:
    with td.transaction(read_only=True) as tx:
        user = UserRepository(tx).get_by_username(username)
        assert user is not None
        stored = UserRepository(tx).password_hash(user.id)
    assert stored is not None
    return argon2.extract_parameters(stored)


def test_the_command_line_stores_passwords_with_the_production_argon2id_cost(
    settings: Settings,
) -> None:
    cli = Cli({
        "TOKENDESK_DATABASE_URL": settings.effective_database_url,
        "TOKENDESK_DATA_DIR": str(settings.data_dir),
        "TOKENDESK_ENCRYPTION_KEYS": settings.encryption_keys.get_secret_value(),  # type: ignore[union-attr]
        "TOKENDESK_PUBLIC_URL": PUBLIC_URL,
    })
    cli.ok("admin", "create", "--username", "admin", "--password-stdin",
           input=ADMIN_PASSWORD + "\n")

    with _open(settings, passwords=CHEAP_PASSWORDS) as td:
        parameters = stored_parameters(td, "admin")

    assert parameters.type is argon2.Type.ID
    assert parameters.time_cost == PRODUCTION_TIME_COST
    assert parameters.memory_cost == PRODUCTION_MEMORY_COST_KIB
    assert parameters.parallelism == PRODUCTION_PARALLELISM


def test_an_application_built_without_a_hasher_uses_the_production_one(
    settings: Settings,
) -> None:
    with _open(settings) as td:
        assert td.accounts.passwords is PRODUCTION_PASSWORDS
    hasher = PRODUCTION_PASSWORDS.hasher
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        PRODUCTION_TIME_COST, PRODUCTION_MEMORY_COST_KIB, PRODUCTION_PARALLELISM)


def test_a_hasher_passed_to_build_hashes_new_and_changed_passwords_and_checks_sign_ins(
    settings: Settings,
) -> None:
    with _open(settings, passwords=CHEAP_PASSWORDS) as td:
        actor = command_line_principal()
        with td.transaction() as tx:
            td.accounts.bootstrap_admin(tx, actor, "admin", ADMIN_PASSWORD)
        assert stored_parameters(td, "admin").memory_cost == CHEAP_PASSWORDS.hasher.memory_cost

        with td.transaction() as tx:
            td.accounts.update_user(tx, actor, "admin",
                                    UserUpdate(password=SecretStr("a new long passphrase")))
        assert stored_parameters(td, "admin").time_cost == CHEAP_PASSWORDS.hasher.time_cost
        with td.transaction() as tx:
            assert td.auth.sign_in(tx, "admin", "a new long passphrase")


def test_a_hash_verifies_whatever_the_cost_of_the_hasher_that_checks_it() -> None:
    cheap_hash = CHEAP_PASSWORDS.hash(ADMIN_PASSWORD)
    assert PRODUCTION_PASSWORDS.verify(cheap_hash, ADMIN_PASSWORD)
    assert not PRODUCTION_PASSWORDS.verify(cheap_hash, "not the password at all")
    assert not CHEAP_PASSWORDS.verify(None, ADMIN_PASSWORD)
