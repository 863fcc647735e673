"""The cache epoch: one number that changes whenever cached security state changes."""

from __future__ import annotations

import contextlib
import threading
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Engine, select

from tokendesk.errors import DatabaseUnavailable
from tokendesk.storage.tables import cache_epoch

_READ = select(cache_epoch.c.value).where(cache_epoch.c.id == 1)
_READ_SQL = "SELECT value FROM cache_epoch WHERE id = 1"


def read_epoch(tx: Tx) -> int:
    return int(tx.execute(_READ).scalar_one())


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
        """The current epoch; raises DatabaseUnavailable (and reconnects next time)."""
        held = getattr(self._local, "connection", None)
        try:
            if held is None:
                held = self._connect()
            cursor = held.cursor()
            cursor.execute(_READ_SQL)
            row = cursor.fetchone()
            cursor.close()
        except Exception as exc:
            self._forget(held)
            raise DatabaseUnavailable("The database is not reachable right now; try again "
                                      "shortly.") from exc
        if row is None:  # fail closed: without the epoch no cache can be trusted
            raise DatabaseUnavailable("The cache epoch row is missing; run the migrations.")
        return int(row[0])

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
