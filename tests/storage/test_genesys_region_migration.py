"""Migration 0011: Genesys connections stored under the old ``<yourinstance>`` placeholder
(``login.<yourinstance>.pure.cloud``) keep working under the ``<region>`` choice."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic import command
from sqlalchemy import Engine, select, text

from tokendesk.catalog import load_catalog
from tokendesk.domain.connections import GrantType
from tokendesk.domain.egress import EgressPolicy
from tokendesk.services.connection_rules import ConnectionRules
from tokendesk.storage import tables
from tokendesk.storage.db import alembic_config, create_db_engine, migrate

GENESYS = load_catalog().get("genesys")
ROW = ("INSERT INTO connections (id, name, name_key, provider, grant_type, client_id, "
       "authorization_url, token_url, scopes, pkce, placeholders, created_at, updated_at) "
       "VALUES (:id, :id, :id, :provider, 'client_credentials', 'c', '', :token_url, '[]', "
       "true, :placeholders, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)")
STORED = {
    # made from the old template: login.<yourinstance>.pure.cloud
    "usw2": ("genesys", "https://login.usw2.pure.cloud/oauth/token", '{"yourinstance": "usw2"}'),
    # a region the old template could not express, its token URL typed by hand
    "frankfurt": ("genesys", "https://login.mypurecloud.de/oauth/token",
                  '{"yourinstance": "usw2"}'),
    # a token URL that names no login host: the old value says the region
    "proxied": ("genesys", "https://genesys-gateway.example/oauth/token",
                '{"yourinstance": "EUW2"}'),
    # made under the choice already, and another provider's placeholder of the same name
    "tokyo": ("genesys", "https://login.mypurecloud.jp/oauth/token",
              '{"region": "mypurecloud.jp"}'),
    "servicenow": ("servicenow", "https://usw2.service-now.com/oauth_token.do",
                   '{"yourinstance": "usw2"}'),
}


@pytest.fixture
def engine_at_0010(empty_database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(empty_database_url)
    try:
        command.upgrade(alembic_config(engine), "0010")
        with engine.begin() as conn:
            for key, (provider, token_url, placeholders) in STORED.items():
                conn.execute(text(ROW), {"id": key, "provider": provider,
                                         "token_url": token_url, "placeholders": placeholders})
        yield engine
    finally:
        engine.dispose()


def placeholders_of(engine: Engine) -> dict[str, dict[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(select(tables.connections.c.id, tables.connections.c.placeholders))
        return {row.id: dict(row.placeholders) for row in rows}


def test_old_genesys_placeholders_become_the_region_their_token_url_signs_in_at(
    engine_at_0010: Engine,
) -> None:
    migrate(engine_at_0010)

    assert placeholders_of(engine_at_0010) == {
        "usw2": {"region": "usw2.pure.cloud"},
        "frankfurt": {"region": "mypurecloud.de"},
        "proxied": {"region": "euw2.pure.cloud"},
        "tokyo": {"region": "mypurecloud.jp"},
        "servicenow": {"yourinstance": "usw2"},
    }


def test_a_migrated_genesys_connection_is_accepted_as_it_is_by_an_edit(
    engine_at_0010: Engine,
) -> None:
    migrate(engine_at_0010)
    rules = ConnectionRules(allow_http_loopback=False, egress=EgressPolicy.parse(""))
    migrated = placeholders_of(engine_at_0010)

    for key in ("usw2", "frankfurt"):
        # An edit that changes nothing but the placeholders fills the same token URL.
        fields = rules.validate(GENESYS, GrantType.CLIENT_CREDENTIALS, "c", None, None, None,
                                None, migrated[key])
        assert fields.token_url == STORED[key][1]
    for key in ("usw2", "frankfurt", "proxied", "tokyo"):
        assert GENESYS.placeholders[0].accept(migrated[key]["region"], field="token_url")


def test_the_downgrade_gives_the_old_placeholder_back_where_it_could_say_the_region(
    engine_at_0010: Engine,
) -> None:
    migrate(engine_at_0010)
    command.downgrade(alembic_config(engine_at_0010), "0010")

    found = placeholders_of(engine_at_0010)

    assert found["usw2"] == {"yourinstance": "usw2"}
    assert found["frankfurt"] == {"region": "mypurecloud.de"}  # no old form for it
