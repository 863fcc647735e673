"""Many stored tokens, written straight into the database of an installation.

Rows are sealed by Tokendesk's own :class:`~tokendesk.tokens.vault.TokenVault` with the
installation's key ring, so they are exactly what Tokendesk itself would have stored: user
tokens of people (``users`` rows, members of the bots' role) on the benchmark's connections.
Creating 100,000 of them through the API would take longer than the rest of the run.
"""

from __future__ import annotations

import math
import secrets
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, insert, select

from tokendesk.crypto import KeyRing
from tokendesk.domain.names import name_key
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.storage.db import sqlite_path
from tokendesk.storage.ids import new_id
from tokendesk.storage.tables import connections, roles, tokens, user_roles, users
from tokendesk.tokens.vault import TokenVault

BATCH_ROWS = 2000


@dataclass(frozen=True)
class StoredUserToken:
    token_id: str
    user_id: str
    username: str
    connection_id: str
    connection_name: str
    expires_at: datetime


def keyring_from_spec(spec: str) -> KeyRing:
    """The key ring of a ``TOKENDESK_ENCRYPTION_KEYS`` value (the last key is active)."""
    import base64

    keys: dict[str, bytes] = {}
    for part in spec.split(","):
        kid, _, material = part.strip().partition(":")
        keys[kid] = base64.urlsafe_b64decode(material + "=" * (-len(material) % 4))
    return KeyRing(keys, list(keys)[-1])


def connection_ids(engine: Engine, names: Sequence[str]) -> dict[str, str]:
    """Connection id by name."""
    with engine.connect() as conn:
        rows = conn.execute(select(connections.c.id, connections.c.name)
                            .where(connections.c.name.in_(list(names))))
        return {row.name: row.id for row in rows}


def role_id(engine: Engine, name: str) -> str:
    with engine.connect() as conn:
        found = conn.execute(select(roles.c.id).where(roles.c.name_key == name_key(name))).first()
    if found is None:
        raise RuntimeError(f"there is no role {name!r}")
    return str(found.id)


def insert_user_tokens(engine: Engine, keyring: KeyRing, *, total: int,
                       connections_by_name: dict[str, str], role: str, user_prefix: str,
                       lifetime_s: Callable[[int], float]) -> list[StoredUserToken]:
    """``total`` user tokens spread over the given connections: ``ceil(total / len)`` users,
    each a member of ``role``, each with a token on every connection until ``total`` is
    reached. Token ``i`` is issued now and expires ``lifetime_s(i)`` seconds later."""
    vault = TokenVault(keyring)
    now = datetime.now(UTC)
    names = sorted(connections_by_name)
    user_count = math.ceil(total / len(names))
    people = [(new_id(), f"{user_prefix}-{i:06d}") for i in range(user_count)]
    with engine.begin() as tx:
        for batch in _batches([{"id": uid, "username": name, "username_key": name_key(name),
                                "display_name": "", "password_hash": None, "disabled": False,
                                "created_at": now, "updated_at": now}
                               for uid, name in people]):
            tx.execute(insert(users), batch)
        for batch in _batches([{"user_id": uid, "role_id": role} for uid, _ in people]):
            tx.execute(insert(user_roles), batch)
    made: list[StoredUserToken] = []
    rows: list[dict[str, Any]] = []
    for index in range(total):
        uid, username = people[index // len(names)]
        connection_name = names[index % len(names)]
        token_id = new_id()
        expires_at = now + timedelta(seconds=lifetime_s(index))
        values = vault.seal(token_id, TokenSet(
            access_token=Secret("bench-" + secrets.token_urlsafe(32)), token_type="Bearer",
            expires_at=expires_at, scope="api:read"), now=now)
        rows.append({**values.columns(), "id": token_id,
                     "connection_id": connections_by_name[connection_name], "owner_key": uid,
                     "user_id": uid, "kind": TokenKind.USER.value,
                     "created_at": now, "updated_at": now})
        made.append(StoredUserToken(token_id, uid, username, connections_by_name[connection_name],
                                    connection_name, expires_at))
        if len(rows) >= BATCH_ROWS:
            _insert_tokens(engine, rows)
            rows = []
    if rows:
        _insert_tokens(engine, rows)
    return made


def _insert_tokens(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.begin() as tx:
        tx.execute(insert(tokens), rows)


def _batches(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    return [rows[i:i + BATCH_ROWS] for i in range(0, len(rows), BATCH_ROWS)]


def settle(engine: Engine) -> None:
    """What an operator does after a bulk load, so that the measurement after it does not
    share the machine with the database's own catching up (PostgreSQL's autovacuum would
    otherwise analyse the new rows during the load run): VACUUM ANALYZE, or on SQLite a WAL
    checkpoint and ANALYZE."""
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE)")
        return
    # A plain driver connection: Tokendesk's engine begins every transaction explicitly, and
    # neither statement may run inside one.
    raw = sqlite3.connect(str(sqlite_path(engine.url.render_as_string())), isolation_level=None)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        raw.execute("ANALYZE")
    finally:
        raw.close()


def count_tokens(engine: Engine) -> int:
    from sqlalchemy import func

    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tokens)).scalar_one())


def timed(action: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = action()
    return result, round(time.perf_counter() - started, 1)
