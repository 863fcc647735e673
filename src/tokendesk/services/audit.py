"""Recording and reading the audit log. Details carry field names and outcomes, never values
of secrets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.domain.connections import Connection
from tokendesk.domain.names import has_control_characters
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.timeline import (
    DEFAULT_TIMELINE_DAYS,
    Timeline,
    build_timeline,
    timeline_window,
)
from tokendesk.errors import ConnectionNotFound, ValidationError
from tokendesk.storage.audit import AuditRepository
from tokendesk.storage.connections import ConnectionRepository

AUDIT_PAGE_MAX = 1000


class AuditService:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        # Where refusals go: the batched writer (set by the wiring), since the refused
        # transaction rolls back and would take its audit row with it.
        self.deferred: Callable[[dict[str, Any]], None] | None = None

    def record_refusal(self, actor: Principal, action: str, *, target_type: str, target: str,
                       details: dict[str, Any]) -> None:
        """Append a ``denied`` event outside the caller's transaction (which rolls back)."""
        row = self.row(actor, action, target_type=target_type, target=target,
                       outcome="denied", details=details)
        if self.deferred is not None:
            self.deferred(row)

    def record(
        self,
        tx: Tx,
        actor: Principal,
        action: str,
        *,
        target_type: str,
        target: str,
        outcome: str = "success",
        connection_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event, in the caller's transaction."""
        AuditRepository(tx).append(
            self.row(
                actor,
                action,
                target_type=target_type,
                target=target,
                outcome=outcome,
                connection_id=connection_id,
                details=details,
            )
        )

    def row(
        self,
        actor: Principal,
        action: str,
        *,
        target_type: str,
        target: str,
        outcome: str = "success",
        connection_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The column values of one audit event."""
        return {
            "at": self.clock(),
            "actor": actor.username,
            "actor_id": actor.user_id,
            "via": actor.via.value,
            "action": action,
            "target_type": target_type,
            "target": target[:200],
            "connection_id": connection_id,
            "outcome": outcome,
            "details": details or {},
        }

    def search(self, tx: Tx, actor: Principal, where: AuditFilter) -> list[AuditEvent]:
        """Events matching ``where``, newest first, at most AUDIT_PAGE_MAX.

        Times without a zone are read as UTC. Raises PermissionDenied without *View audit
        log*, ValidationError for a filter no event could match (control characters).
        """
        actor.require(Permission.VIEW_AUDIT)
        for field, value in (("actor", where.actor), ("action", where.action)):
            if value and has_control_characters(value):
                raise ValidationError(
                    f"The {field} filter contains control characters.", field=field
                )
        limit = max(1, min(where.limit, AUDIT_PAGE_MAX))
        return AuditRepository(tx).search(
            replace(where, limit=limit, since=_as_utc(where.since), until=_as_utc(where.until))
        )

    def recent_for_connection(
        self, tx: Tx, actor: Principal, connection: Connection, limit: int = 10
    ) -> list[AuditEvent]:
        """The latest events of ``connection``, newest first, for its connection page.

        The caller got ``connection`` through ConnectionService.get (which checks that the
        actor may see it); here *View connections* is required. Raises PermissionDenied.
        """
        actor.require(Permission.VIEW_CONNECTIONS)
        limit = max(1, min(limit, AUDIT_PAGE_MAX))
        return AuditRepository(tx).search(AuditFilter(connection_id=connection.id, limit=limit))

    def timeline(
        self, tx: Tx, actor: Principal, connection: Connection, days: int = DEFAULT_TIMELINE_DAYS
    ) -> Timeline:
        """What happened to ``connection`` in each hour of the last ``days`` days, up to now:
        handouts, refreshes, failures and consents, counted from the audit log.

        As recent_for_connection, *View connections* is required. Raises PermissionDenied, or
        ValidationError for days outside 1..TIMELINE_DAYS_MAX.
        """
        actor.require(Permission.VIEW_CONNECTIONS)
        now = self.clock()
        start, end = timeline_window(now, days)
        counted = AuditRepository(tx).hourly_activity(connection.id, start, end)
        return build_timeline(counted, now, days)

    def connection_id(self, tx: Tx, actor: Principal, name: str) -> str:
        """The id of the connection named ``name``, to filter the log by connection.

        Reading the log needs *View audit log* only: the events already name every
        connection, so no permission on the connection itself is asked. Raises
        PermissionDenied or ConnectionNotFound.
        """
        actor.require(Permission.VIEW_AUDIT)
        found = None if has_control_characters(name) else ConnectionRepository(tx).get_by_name(name)
        if found is None:
            raise ConnectionNotFound(f"There is no connection named '{name}'.")
        return found.id


def _as_utc(moment: datetime | None) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)
