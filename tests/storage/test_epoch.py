"""The cache epoch read by the hot path: shared by concurrent requests, never older than one."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, datetime

import pytest
from sqlalchemy import Connection, Engine, delete, insert, update

from support.event_loop import run as run_coroutine
from tokendesk.errors import DatabaseUnavailable
from tokendesk.storage.db import create_db_engine
from tokendesk.storage.epoch import EpochReader, SharedEpochReads, read_epoch
from tokendesk.storage.tables import cache_epoch, roles

WAIT_S = 10


class GatedReader(EpochReader):
    """A real epoch reader whose answers, read from the database, are held back until the
    test lets them go; reads are counted."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self.started = threading.Semaphore(0)
        self.go = threading.Semaphore(0)
        self.reads = 0
        self.fail_next = False

    def read(self) -> int:
        self.reads += 1
        value = super().read()
        self.started.release()
        assert self.go.acquire(timeout=WAIT_S), "the test never let the read answer"
        if self.fail_next:
            self.fail_next = False
            raise DatabaseUnavailable("The database is not reachable right now.")
        return value


@pytest.fixture
def reader(engine: Engine) -> Iterator[GatedReader]:
    yield GatedReader(engine)


def bump(engine: Engine) -> int:
    with engine.begin() as tx:
        tx.execute(update(cache_epoch).where(cache_epoch.c.id == 1)
                   .values(value=cache_epoch.c.value + 1))  # one shard, as a trigger does
        return read_epoch(tx)


async def started(reader: GatedReader) -> None:
    assert await asyncio.to_thread(reader.started.acquire, timeout=WAIT_S)


def test_a_request_arriving_during_a_read_waits_for_the_next_read_and_sees_a_change_made_before_it(
    engine: Engine, reader: GatedReader
) -> None:
    reads = SharedEpochReads(reader, offload=True)

    async def scenario() -> tuple[int, int]:
        early = asyncio.ensure_future(reads.read())
        await started(reader)  # the early read has its (old) answer ...
        changed = bump(engine)  # ... when a change commits, then a request arrives
        late = asyncio.ensure_future(reads.read())
        await asyncio.sleep(0)
        reader.go.release()
        assert await early == changed - 1
        await started(reader)  # the late request gets a read of its own
        reader.go.release()
        assert await late == changed
        return reader.reads, changed

    try:
        count, _ = run_coroutine(scenario())
    finally:
        reads.close()
    assert count == 2


def test_requests_arriving_during_one_read_share_the_next_one(
    engine: Engine, reader: GatedReader
) -> None:
    reads = SharedEpochReads(reader, offload=True)

    async def scenario() -> list[int]:
        first = asyncio.ensure_future(reads.read())
        await started(reader)
        waiting = [asyncio.ensure_future(reads.read()) for _ in range(50)]
        await asyncio.sleep(0)
        reader.go.release()
        await first
        await started(reader)
        reader.go.release()
        return list(await asyncio.gather(*waiting))

    try:
        answers = run_coroutine(scenario())
    finally:
        reads.close()
    assert reader.reads == 2  # 51 requests, two database reads
    assert len(set(answers)) == 1


def test_a_failed_read_fails_every_request_sharing_it_and_the_next_read_recovers(
    engine: Engine, reader: GatedReader
) -> None:
    reads = SharedEpochReads(reader, offload=True)

    async def scenario() -> int:
        first = asyncio.ensure_future(reads.read())
        await started(reader)
        waiting = [asyncio.ensure_future(reads.read()) for _ in range(3)]
        await asyncio.sleep(0)
        reader.go.release()
        await first
        reader.fail_next = True
        await started(reader)
        reader.go.release()
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        assert all(isinstance(outcome, DatabaseUnavailable) for outcome in outcomes)
        again = asyncio.ensure_future(reads.read())
        await started(reader)
        reader.go.release()
        return await again

    try:
        assert run_coroutine(scenario()) == bump(engine) - 1
    finally:
        reads.close()


def test_a_request_that_gives_up_does_not_cancel_the_read_others_wait_for(
    engine: Engine, reader: GatedReader
) -> None:
    reads = SharedEpochReads(reader, offload=True)

    async def scenario() -> int:
        # Both arrive in one turn of the event loop: they share the read that starts after it.
        impatient = asyncio.ensure_future(reads.read())
        patient = asyncio.ensure_future(reads.read())
        await started(reader)
        impatient.cancel()
        await asyncio.sleep(0)
        reader.go.release()
        answer = await patient
        assert impatient.cancelled()
        return answer

    try:
        assert run_coroutine(scenario()) == bump(engine) - 1
    finally:
        reads.close()
    assert reader.reads == 1


def test_without_offloading_every_request_reads_on_the_spot(engine: Engine) -> None:
    reads = SharedEpochReads(EpochReader(engine), offload=False)
    before = run_coroutine(reads.read())
    changed = bump(engine)
    assert run_coroutine(reads.read()) == changed == before + 1


def test_concurrent_changes_on_postgresql_do_not_wait_for_each_other_and_each_moves_the_epoch(
    postgres_session_database: Engine,
) -> None:
    """Each connection bumps a shard of its own: a second transaction changing other rows
    does not queue behind the first one's epoch bump (it did, on one epoch row)."""
    engine = create_db_engine(postgres_session_database.url.render_as_string(False))
    try:
        with ExitStack() as open_connections:
            first_conn, second_conn = _on_two_shards(engine, open_connections)
            before = read_epoch(first_conn)
            first_conn.commit()
            now = datetime.now(UTC)
            role = {"created_at": now, "updated_at": now}
            first = first_conn.begin()
            first_conn.execute(insert(roles).values(id="r1", name="r1", name_key="r1", **role))
            second = second_conn.begin()
            second_conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
            second_conn.execute(insert(roles).values(id="r2", name="r2", name_key="r2", **role))
            second.commit()  # while the first transaction is still open
            first.commit()
            after = read_epoch(second_conn)
            second_conn.commit()
        with engine.begin() as tx:
            tx.execute(delete(roles).where(roles.c.id.in_(["r1", "r2"])))
    finally:
        engine.dispose()

    assert after == before + 2


def _on_two_shards(engine: Engine, stack: ExitStack) -> tuple[Connection, Connection]:
    """Two connections whose database sessions bump different shards."""
    opened: dict[int, Connection] = {}
    while len(opened) < 2:
        conn = stack.enter_context(engine.connect())
        shard = conn.exec_driver_sql("SELECT pg_backend_pid() %% 64").scalar_one()
        conn.commit()
        opened.setdefault(shard, conn)
    first, second = opened.values()
    return first, second
