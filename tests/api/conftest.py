"""A Tokendesk built on a real, migrated database, served in-process, with an administrator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from support.api import ADMIN_PASSWORD, Api, key_for, keyring_spec
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        public_url="https://tokendesk.example.test",
        encryption_keys=keyring_spec(KeyRing.generate()),  # type: ignore[arg-type]
    )


@pytest.fixture
def td(settings: Settings) -> Iterator[Tokendesk]:
    app = build(settings, passwords=CHEAP_PASSWORDS)
    with app.transaction() as tx:
        app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
    yield app
    app.close()


@pytest.fixture
def http(td: Tokendesk) -> Iterator[TestClient]:
    with TestClient(create_app(td), base_url="https://tokendesk.example.test") as client:
        yield client


@pytest.fixture
def admin(td: Tokendesk, http: TestClient) -> Api:
    return Api(http, key_for(td, "admin"))
