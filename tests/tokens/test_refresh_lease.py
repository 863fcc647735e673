"""The refresh lease: one provider call per token at a time, across threads of one replica
and across replicas sharing the database -- on SQLite and on PostgreSQL.

A second replica is a second Tokendesk built on the same database (its own engine, its own
lease owner), as ``tokendesk serve`` runs behind a load balancer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from lifecycle_support import (
    CONNECTION,
    FakeProvider,
    Gate,
    ManualClock,
    lease_attempts,
    open_desk,
    refreshed,
    secrets_of,
    store_token,
    token_row,
    wait_until,
)

from tokendesk.config import Settings
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.storage.tokens import TokenRecord, TokenRepository
from tokendesk.wiring import Tokendesk

LIFETIME_S = 3600
THREADS = 8


@pytest.fixture
def replica(
    settings: Settings, clock: ManualClock, provider: FakeProvider, td: Tokendesk
) -> Iterator[Tokendesk]:
    """A second Tokendesk process on the same database, provider and clock."""
    other = open_desk(settings, clock, provider)
    yield other
    other.close()


@pytest.fixture
def expired(td: Tokendesk, connection: Connection, clock: ManualClock) -> TokenRecord:
    stored = store_token(td, connection, lifetime_s=LIFETIME_S)
    clock.advance(LIFETIME_S)
    return stored


def in_thread(work: Callable[[], TokenRecord | None]) -> tuple[threading.Thread, list[object]]:
    result: list[object] = []

    def run() -> None:
        try:
            result.append(work())
        except Exception as exc:
            result.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, result


def test_a_second_refresher_waits_for_the_lease_and_gets_the_winners_token(
    td: Tokendesk, replica: Tokendesk, provider: FakeProvider, expired: TokenRecord
) -> None:
    gate = Gate(refreshed("rt-2", access_token="at-winner"))
    provider.token.answer(gate)
    winner, _ = in_thread(lambda: td.refresher.refresh(expired.id, seen_version=expired.version))
    wait_until(lambda: len(provider.token.requests) == 1)  # the winner holds the lease, calling

    with lease_attempts(replica.engine) as tried:
        second, result = in_thread(
            lambda: replica.refresher.refresh(expired.id, seen_version=expired.version)
        )
        wait_until(lambda: len(tried) >= 2)  # refused the live lease, and polling
        assert second.is_alive()
        gate.open()
        winner.join(10)
        second.join(10)

    [row] = result
    assert isinstance(row, TokenRecord)
    assert secrets_of(replica, row) == ("at-winner", "rt-2")
    assert len(provider.token.requests) == 1


def test_a_live_lease_of_another_replica_is_left_alone(
    td: Tokendesk, replica: Tokendesk, provider: FakeProvider, expired: TokenRecord
) -> None:
    leased = take_lease_as(td, expired, "crashed-replica", lease_s=td.refresher.lease_s)

    assert replica.refresher.refresh_scheduled(expired.id, leased.version) is False
    assert provider.token.requests == []
    assert token_row(td, expired.id).lease_owner == "crashed-replica"


def test_an_expired_lease_is_taken_over(
    td: Tokendesk, replica: Tokendesk, provider: FakeProvider, expired: TokenRecord,
    clock: ManualClock,
) -> None:
    leased = take_lease_as(td, expired, "crashed-replica", lease_s=td.refresher.lease_s)
    provider.token.answer(refreshed(access_token="at-2"))
    clock.advance(td.refresher.lease_s + 1)  # the holder died: its lease ran out

    row = replica.refresher.refresh(expired.id, seen_version=leased.version)

    assert len(provider.token.requests) == 1
    assert row is not None and secrets_of(replica, row)[0] == "at-2"
    assert (row.lease_owner, row.lease_until) == (None, None)


def take_lease_as(td: Tokendesk, row: TokenRecord, owner: str, *, lease_s: float) -> TokenRecord:
    """Take the lease the way a replica does, for a replica that then never ends it."""
    now = td.clock()
    with td.transaction() as tx:
        taken = TokenRepository(tx).take_lease(
            row.id, row.version, owner, now, now + timedelta(seconds=lease_s)
        )
    assert taken is not None
    return taken


@pytest.mark.parametrize("replicas", [1, 2], ids=["one-replica", "two-replicas"])
def test_concurrent_handouts_of_an_expired_token_make_exactly_one_provider_call(
    td: Tokendesk, replica: Tokendesk, provider: FakeProvider, expired: TokenRecord,
    bot: Principal, replicas: int,
) -> None:
    gate = Gate(refreshed("rt-2", access_token="at-2"))
    provider.token.answer(gate)
    desks = [td, replica][:replicas]

    def handout(n: int) -> str:
        desk = desks[n % replicas]
        return desk.tokens.handout(bot, CONNECTION, TokenKind.SHARED).access_token.reveal()

    with (lease_attempts(td.engine) as here, lease_attempts(replica.engine) as there,
          ThreadPoolExecutor(THREADS) as pool):
        answers = [pool.submit(handout, n) for n in range(THREADS)]
        wait_until(lambda: len(provider.token.requests) == 1)
        if replicas == 2:  # the replica without the lease polls it meanwhile
            wait_until(lambda: len(here) + len(there) >= 3)
        gate.open()
        got = [answer.result(timeout=10) for answer in answers]

    assert got == ["at-2"] * THREADS
    assert len(provider.token.requests) == 1
