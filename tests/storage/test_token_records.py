"""Token rows come out of the repository as typed records, and changes go in typed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, insert

from tokendesk.domain.tokens import TokenKind, TokenStatus
from tokendesk.storage.db import create_db_engine
from tokendesk.storage.tables import connections
from tokendesk.storage.tokens import KEEP, NO_CHANGE, TokenChange, TokenRecord, TokenRepository

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
LATER = datetime(2026, 12, 5, 13, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def a_token(engine: Engine) -> None:
    with engine.begin() as tx:
        tx.execute(insert(connections).values(
            id="c1", name="Graph", name_key="graph", provider="custom",
            grant_type="authorization_code", client_id="desk", token_url="https://t.example.test",
            scopes=[], pkce=True, placeholders={}, created_at=NOW, updated_at=NOW,
        ))
        TokenRepository(tx).insert({
            "id": "t1", "connection_id": "c1", "owner_key": "", "kind": "shared",
            "access_token_ct": "k1:sealed-access", "refresh_token_ct": "k1:sealed-refresh",
            "status": "valid", "expires_at": LATER, "created_at": NOW, "updated_at": NOW,
        })


def test_the_repository_returns_a_typed_record_whose_repr_shows_no_ciphertext(
    engine: Engine,
) -> None:
    a_token(engine)
    with engine.connect() as tx:
        record = TokenRepository(tx).get("t1")

    assert isinstance(record, TokenRecord)
    assert record.kind is TokenKind.SHARED and record.status is TokenStatus.VALID
    assert record.expires_at == LATER and record.version == 1
    assert "sealed" not in repr(record)


def test_a_token_change_writes_only_the_fields_it_sets(engine: Engine) -> None:
    a_token(engine)
    change = TokenChange(status=TokenStatus.NEEDS_REAUTHENTICATION, last_error=None)
    with engine.begin() as tx:
        TokenRepository(tx).update("t1", change)
        record = TokenRepository(tx).get("t1")

    assert change.columns() == {"status": "needs_reauthentication", "last_error": None}
    assert record is not None and record.status is TokenStatus.NEEDS_REAUTHENTICATION
    assert record.refresh_token_ct == "k1:sealed-refresh"  # kept
    assert NO_CHANGE.columns() == {} and TokenChange().scope is KEEP
