"""The cache epoch: one number that changes whenever cached security state changes."""

from __future__ import annotations

from sqlalchemy import Connection as Tx
from sqlalchemy import select

from tokendesk.storage.tables import cache_epoch

_READ = select(cache_epoch.c.value).where(cache_epoch.c.id == 1)


def read_epoch(tx: Tx) -> int:
    return int(tx.execute(_READ).scalar_one())
