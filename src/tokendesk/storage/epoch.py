"""The cache epoch: one number that changes whenever cached security state changes."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Engine, func, select

from tokendesk.errors import DatabaseUnavailable
from tokendesk.storage.faults import UNREACHABLE, database_error
from tokendesk.storage.tables import cache_epoch

# The sum of the shards (migration 0006): any committed change raises it.
_READ = select(func.sum(cache_epoch.c.value))
_READ_SQL = "SELECT sum(value) FROM cache_epoch"


def read_epoch(tx: Tx) -> int:
    return _epoch(tx.execute(_READ).scalar_one())


class EpochReader:
    """Reads the epoch on a driver connection kept by the calling thread, in autocommit.

    The hot path reads the epoch on every request; a pooled connection, a transaction and
    SQLAlchemy's statement machinery would cost more than the rest of the request. Meant for
    one long-lived thread (the event loop), which then keeps one connection of the pool.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.local()

    def read(self) -> int:
        """The current epoch; raises DatabaseUnavailable (and reconnects next time).

        A held connection found broken (the database restarted since its last use) is
        replaced and the read tried once more, so an unnoticed restart costs no request.
        """
        held = getattr(self._local, "connection", None)
        if held is not None:
            try:
                return self._read(held)
            except DatabaseUnavailable:
                raise
            except Exception:  # broken since its last use: once more on a fresh connection
                self._forget(held)
        try:
            return self._read(self._connect())
        except DatabaseUnavailable:
            raise
        except Exception as exc:
            self._forget(getattr(self._local, "connection", None))
            raise database_error(exc) from exc

    @staticmethod
    def _read(held: Any) -> int:
        cursor = held.cursor()
        cursor.execute(_READ_SQL)
        row = cursor.fetchone()
        cursor.close()
        return _epoch(row[0] if row is not None else None)

    def _connect(self) -> Any:
        held = self.engine.raw_connection()
        driver = held.driver_connection
        if driver is not None and hasattr(driver, "autocommit"):  # psycopg: no open transaction
            driver.autocommit = True
        self._local.connection = held
        return held

    def _forget(self, held: Any) -> None:
        self._local.connection = None
        if held is not None:
            with contextlib.suppress(Exception):  # it is broken already
                held.invalidate()


class SharedEpochReads:
    """Epoch reads shared by concurrent requests, never older than the request asking.

    A request waits for a read that *starts after it arrived*: the next one to start, which
    starts once the event loop has taken in the requests of its current turn, or when the
    read in flight ends (that one may have begun before a change the request must see). So
    every answer reflects every change committed before the request arrived -- the "very
    next request" guarantee -- while N concurrent requests cost about one database round
    trip instead of N, and the event loop never waits on the network: the reads run on one
    thread of their own.

    With ``offload=False`` (an embedded SQLite file: no network, microseconds a read) each
    request reads on the event loop itself.
    """

    def __init__(self, reader: EpochReader, *, offload: bool) -> None:
        self.reader = reader
        self._executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-epoch") if offload else None
        )
        self._batches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Batches] = (
            weakref.WeakKeyDictionary()
        )

    async def read(self) -> int:
        """The epoch as of some moment after this call; raises DatabaseUnavailable."""
        if self._executor is None:
            return self.reader.read()
        loop = asyncio.get_running_loop()
        batches = self._batches.get(loop)
        if batches is None:
            batches = self._batches[loop] = _Batches()
        if batches.next is None:  # a read that has not started yet: every caller may join
            batches.next = loop.create_future()
            if batches.running is None:  # the callers of this loop turn first, then the read
                loop.call_soon(self._launch_next, loop, batches)
        # shield: one waiter given up (a client gone) must not cancel the others' read
        return await asyncio.shield(batches.next)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)

    def _launch_next(self, loop: asyncio.AbstractEventLoop, batches: _Batches) -> None:
        """Start the read the waiting callers share; from now on newcomers wait for another."""
        assert self._executor is not None
        if batches.running is not None or batches.next is None:
            return
        answer, batches.next = batches.next, None
        batches.running = answer
        answer.add_done_callback(_retrieve)
        read = loop.run_in_executor(self._executor, self.reader.read)
        read.add_done_callback(lambda done: self._finished(loop, batches, answer, done))

    def _finished(self, loop: asyncio.AbstractEventLoop, batches: _Batches,
                  answer: asyncio.Future[int], done: asyncio.Future[int]) -> None:
        batches.running = None
        if done.cancelled():
            answer.set_exception(_unavailable())
        elif (error := done.exception()) is not None:
            answer.set_exception(error)
        else:
            answer.set_result(done.result())
        if batches.next is not None:  # callers that came while it ran: their own read
            loop.call_soon(self._launch_next, loop, batches)


def _epoch(value: int | None) -> int:
    if value is None:  # fail closed: without the epoch no cache can be trusted
        raise DatabaseUnavailable("The cache epoch rows are missing; run the migrations.")
    return int(value)


def _unavailable() -> DatabaseUnavailable:
    return DatabaseUnavailable(UNREACHABLE)


@dataclass(slots=True)
class _Batches:
    running: asyncio.Future[int] | None = None  # the read in flight
    next: asyncio.Future[int] | None = None  # the read that starts next (not started yet)


def _retrieve(answer: asyncio.Future[int]) -> None:
    """Mark an error as seen: every waiter may have given up before it arrived."""
    if not answer.cancelled():
        answer.exception()
