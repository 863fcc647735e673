"""Global settings rows: the forward proxy, and the key check values of the key ring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, delete, insert, select, update

from tokendesk.storage.tables import encryption_keys, forward_proxy

PROXY_ROW_ID = 1


class ProxyRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self) -> Row[Any] | None:
        return self.tx.execute(
            select(forward_proxy).where(forward_proxy.c.id == PROXY_ROW_ID)
        ).first()

    def save(self, values: dict[str, Any]) -> None:
        if self.get() is None:
            self.tx.execute(insert(forward_proxy).values(id=PROXY_ROW_ID, **values))
        else:
            self.tx.execute(
                update(forward_proxy).where(forward_proxy.c.id == PROXY_ROW_ID).values(**values)
            )


class KeyCheckRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def all(self) -> dict[str, str]:
        return {row.key_id: row.check_value for row in self.tx.execute(select(encryption_keys))}

    def remove(self, key_id: str) -> None:
        self.tx.execute(delete(encryption_keys).where(encryption_keys.c.key_id == key_id))

    def add(self, key_id: str, check_value: str, at: datetime) -> None:
        self.tx.execute(
            insert(encryption_keys).values(key_id=key_id, check_value=check_value, created_at=at)
        )
