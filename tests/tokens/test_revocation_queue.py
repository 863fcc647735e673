"""Revoking tokens at the provider (RFC 7009): deleting a token or its connection queues the
revocations in the same transaction, the queue calls the revocation endpoint after the
commit, retries with back-off while the provider fails, and gives up after MAX_ATTEMPTS."""

from __future__ import annotations

from datetime import timedelta

import httpx
from lifecycle_support import (
    CONNECTION,
    FakeProvider,
    ManualClock,
    create_connection,
    sqlite_only,
    store_token,
)
from sqlalchemy import select

from oauth.oauth_fakes import oauth_error
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal, command_line_principal
from tokendesk.domain.schedule import BACKOFF_BASE_S, backoff_s
from tokendesk.domain.tokens import TokenKind
from tokendesk.storage.revocations import RevocationRepository
from tokendesk.storage.tables import pending_revocations
from tokendesk.storage.tokens import TokenRepository
from tokendesk.tokens.revocations import MAX_ATTEMPTS
from tokendesk.wiring import Tokendesk

pytestmark = sqlite_only

BOTH_TOKENS = [("rt-1", "refresh_token"), ("at-1", "access_token")]


def queued(td: Tokendesk) -> int:
    with td.transaction(read_only=True) as tx:
        return RevocationRepository(tx).count()


def next_attempts(td: Tokendesk) -> list[object]:
    with td.transaction(read_only=True) as tx:
        return list(tx.execute(select(pending_revocations.c.next_attempt_at)).scalars())


def test_disconnecting_a_token_revokes_its_refresh_and_access_token(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    store_token(td, connection, kind=TokenKind.USER, user_id=bot.user_id)

    td.tokens.disconnect(bot, CONNECTION, TokenKind.USER)

    assert sorted(provider.revoked()) == sorted(BOTH_TOKENS)  # queued together, any order
    assert provider.revocation.last.headers["Authorization"].startswith("Basic ")
    assert queued(td) == 0
    with td.transaction(read_only=True) as tx:
        assert TokenRepository(tx).list_for_connection(connection.id) == []


def test_deleting_a_connection_revokes_every_token_it_held(
    td: Tokendesk, connection: Connection, bot: Principal, provider: FakeProvider
) -> None:
    store_token(td, connection, access_token="at-shared", refresh_token="rt-shared")
    store_token(td, connection, kind=TokenKind.USER, user_id=bot.user_id)

    td.removal.remove(command_line_principal(), CONNECTION)

    assert sorted(provider.revoked()) == sorted(
        [("rt-shared", "refresh_token"), ("at-shared", "access_token"), *BOTH_TOKENS])
    assert queued(td) == 0


def test_a_connection_without_a_revocation_endpoint_queues_nothing(
    td: Tokendesk, provider: FakeProvider
) -> None:
    connection = create_connection(td, revocation_url=None)
    store_token(td, connection)

    td.removal.remove(command_line_principal(), CONNECTION)

    assert provider.revocation.requests == []
    assert queued(td) == 0


def test_a_failing_revocation_is_retried_with_back_off_and_never_blocks_the_deletion(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection, refresh_token=None)  # one revocation: the access token
    provider.revocation.answer(httpx.Response(503), httpx.Response(200))

    td.removal.remove(command_line_principal(), CONNECTION)  # the provider fails

    assert queued(td) == 1
    assert next_attempts(td) == [clock() + timedelta(seconds=BACKOFF_BASE_S)]
    assert td.revocations.drain() == 0  # not due yet: no call
    assert len(provider.revocation.requests) == 1

    clock.advance(BACKOFF_BASE_S)
    assert td.revocations.drain() == 1
    assert provider.revoked() == [("at-1", "access_token")] * 2
    assert queued(td) == 0


def test_a_revocation_is_given_up_after_the_documented_number_of_attempts(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection, refresh_token=None)
    provider.revocation.answer(httpx.Response(503))
    td.removal.remove(command_line_principal(), CONNECTION)
    waits_s = []

    for _ in range(MAX_ATTEMPTS - 1):
        [next_at] = next_attempts(td)
        assert isinstance(next_at, type(clock()))
        waits_s.append((next_at - clock()).total_seconds())
        clock.move_to(next_at)
        td.revocations.drain()

    assert len(provider.revocation.requests) == MAX_ATTEMPTS
    assert waits_s == [backoff_s(n, None) for n in range(1, MAX_ATTEMPTS)]
    assert queued(td) == 0  # dropped after the last attempt


def test_a_revocation_the_provider_rejects_is_not_retried(
    td: Tokendesk, connection: Connection, provider: FakeProvider, clock: ManualClock
) -> None:
    store_token(td, connection, refresh_token=None)
    provider.revocation.answer(oauth_error(400, "unsupported_token_type"))

    td.removal.remove(command_line_principal(), CONNECTION)

    assert len(provider.revocation.requests) == 1
    assert queued(td) == 0
