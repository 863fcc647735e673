"""Every column that holds ciphertext, for key rotation: count by key, re-seal in batches."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field

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
    EncryptedColumn(connections, "proxy_password_ct"),
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


@dataclass
class ResealBatch:
    """What one batch did: values re-sealed, and values that could not be decrypted (left
    as they are, under their old key)."""

    resealed: int = 0
    damaged: list[RowRef] = field(default_factory=list)


def reseal_batch(
    tx: Tx,
    active_key_id: str,
    limit: int,
    reseal: Callable[[str, RowRef], str | None],
    skip: Collection[RowRef] = (),
) -> ResealBatch:
    """Re-seal up to ``limit`` values not sealed with the active key and not in ``skip``.

    ``reseal`` returns None for a value it cannot decrypt: reported in ``damaged``, left
    unchanged. Each update is conditional on the value being unchanged, so a concurrent
    write wins.
    """
    batch = ResealBatch()
    for enc in ENCRYPTED_COLUMNS:
        done = batch.resealed + len(batch.damaged)
        if done >= limit:
            break
        id_column = enc.table.c.id
        id_type = id_column.type.python_type  # row ids are text, or a number (one-row tables)
        where = (enc.table.name, enc.name)
        skipped = [id_type(ref.row_id) for ref in skip if (ref.table, ref.column) == where]
        rows = tx.execute(
            select(id_column, enc.column)
            .where(enc.column.is_not(None), ~enc.column.like(prefix(active_key_id) + "%"))
            .where(id_column.not_in(skipped))
            .limit(limit - done)
        ).all()
        for row_id, stored in rows:
            ref = RowRef(enc.table.name, enc.name, str(row_id))
            resealed = reseal(stored, ref)
            if resealed is None:
                batch.damaged.append(ref)
                continue
            tx.execute(
                update(enc.table)
                .where(id_column == row_id, enc.column == stored)
                .values({enc.name: resealed})
            )
            batch.resealed += 1
    return batch


def sealed_with(tx: Tx, key_id: str) -> Iterator[tuple[RowRef, str]]:
    """Every stored value sealed with ``key_id``, with where it is."""
    for enc in ENCRYPTED_COLUMNS:
        rows = tx.execute(
            select(enc.table.c.id, enc.column).where(enc.column.like(prefix(key_id) + "%"))
        )
        for row_id, stored in rows:
            yield RowRef(enc.table.name, enc.name, str(row_id)), stored
