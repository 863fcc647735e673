"""Every column that holds ciphertext, for key rotation: count by key, re-seal in batches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Column, Table, func, select, update
from sqlalchemy import Connection as Tx

from tokendesk.crypto import FORMAT_VERSION, RowRef
from tokendesk.storage.tables import (
    authorization_requests,
    connections,
    forward_proxy,
    pending_revocations,
    tokens,
)


@dataclass(frozen=True)
class EncryptedColumn:
    table: Table
    name: str

    @property
    def column(self) -> Column[str]:
        return self.table.c[self.name]


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(connections, "client_secret_ct"),
    EncryptedColumn(connections, "client_key_ct"),
    EncryptedColumn(tokens, "access_token_ct"),
    EncryptedColumn(tokens, "refresh_token_ct"),
    EncryptedColumn(tokens, "extra_ct"),
    EncryptedColumn(authorization_requests, "code_verifier_ct"),
    EncryptedColumn(forward_proxy, "password_ct"),
    EncryptedColumn(pending_revocations, "payload_ct"),
)


def prefix(key_id: str) -> str:
    return f"{FORMAT_VERSION}:{key_id}:"


def count_by_key(tx: Tx, key_id: str) -> int:
    """How many stored values are sealed with ``key_id``."""
    total = 0
    for enc in ENCRYPTED_COLUMNS:
        query = (
            select(func.count()).select_from(enc.table).where(enc.column.like(prefix(key_id) + "%"))
        )
        total += int(tx.execute(query).scalar_one())
    return total


def reseal_batch(
    tx: Tx, active_key_id: str, limit: int, reseal: Callable[[str, RowRef], str]
) -> int:
    """Re-seal up to ``limit`` values not sealed with the active key; returns how many.

    Each update is conditional on the value being unchanged, so a concurrent write wins.
    """
    done = 0
    for enc in ENCRYPTED_COLUMNS:
        if done >= limit:
            break
        id_column = enc.table.c.id
        rows = tx.execute(
            select(id_column, enc.column)
            .where(enc.column.is_not(None), ~enc.column.like(prefix(active_key_id) + "%"))
            .limit(limit - done)
        ).all()
        for row_id, stored in rows:
            ref = RowRef(enc.table.name, enc.name, str(row_id))
            tx.execute(
                update(enc.table)
                .where(id_column == row_id, enc.column == stored)
                .values({enc.name: reseal(stored, ref)})
            )
            done += 1
    return done
