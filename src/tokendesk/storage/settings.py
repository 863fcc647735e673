"""Global settings rows: the forward proxy, the egress allowlist, and the key check values of
the key ring."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, delete, insert, select, update

from tokendesk.storage.tables import egress_allowlist, encryption_keys, forward_proxy

PROXY_ROW_ID = 1
ALLOWLIST_ROW_ID = 1


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


class EgressAllowlistRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self, *, for_update: bool = False) -> Row[Any] | None:
        """The stored allowlist row; ``for_update`` locks it until the transaction ends."""
        query = select(egress_allowlist).where(egress_allowlist.c.id == ALLOWLIST_ROW_ID)
        return self.tx.execute(query.with_for_update() if for_update else query).first()

    def save(self, entries: list[str], at: datetime, by: str) -> None:
        values = {"entries": entries, "updated_at": at, "updated_by": by}
        if self.get() is None:
            self.tx.execute(insert(egress_allowlist).values(id=ALLOWLIST_ROW_ID, **values))
        else:
            self.tx.execute(update(egress_allowlist)
                            .where(egress_allowlist.c.id == ALLOWLIST_ROW_ID).values(**values))


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
