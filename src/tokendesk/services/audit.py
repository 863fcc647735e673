"""Recording and reading the audit log. Details carry field names and outcomes, never values
of secrets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.storage.audit import AuditRepository

AUDIT_PAGE_MAX = 1000


class AuditService:
    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

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
            {
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
        )

    def search(self, tx: Tx, actor: Principal, where: AuditFilter) -> list[AuditEvent]:
        """Events matching ``where``, newest first. Needs *View audit log*."""
        actor.require(Permission.VIEW_AUDIT)
        limit = max(1, min(where.limit, AUDIT_PAGE_MAX))
        return AuditRepository(tx).search(replace(where, limit=limit))
