"""Counts for the gauges of ``/metrics``, read from the database when it is asked."""

from __future__ import annotations

from sqlalchemy import Connection as Tx
from sqlalchemy import func, select

from tokendesk.domain.connections import ConnectionStatus
from tokendesk.domain.tokens import TokenStatus
from tokendesk.storage.tables import connections, tokens


def token_state(status: str, connection_status: str, failure_count: int) -> str:
    """A token's state as a dashboard shows it: its status unless valid; a valid token of a
    refused client is ``misconfigured``, one whose refreshes fail is ``backing_off``."""
    if status != TokenStatus.VALID.value:
        return status
    if connection_status == ConnectionStatus.MISCONFIGURED.value:
        return TokenStatus.MISCONFIGURED.value
    return "backing_off" if failure_count > 0 else status


def token_states(tx: Tx) -> dict[tuple[str, str], int]:
    """How many tokens each connection (by name) has in each state."""
    failing = tokens.c.failure_count > 0
    found = tx.execute(
        select(connections.c.name, connections.c.status, tokens.c.status, failing, func.count())
        .join(connections, connections.c.id == tokens.c.connection_id)
        .group_by(connections.c.name, connections.c.status, tokens.c.status, failing)
    )
    counts: dict[tuple[str, str], int] = {}
    for name, connection_status, status, is_failing, count in found:
        key = (str(name), token_state(str(status), str(connection_status), int(bool(is_failing))))
        counts[key] = counts.get(key, 0) + int(count)
    return counts
