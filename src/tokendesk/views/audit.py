"""An audit event as the API and the CLI show it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from tokendesk.domain.audit import AuditEvent


class AuditEventOut(BaseModel):
    id: int
    at: datetime
    actor: str
    via: str
    action: str
    target_type: str
    target: str
    outcome: str
    details: dict[str, Any]

    @classmethod
    def of(cls, e: AuditEvent) -> AuditEventOut:
        return cls(
            id=e.id,
            at=e.at,
            actor=e.actor,
            via=e.via,
            action=e.action,
            target_type=e.target_type,
            target=e.target,
            outcome=e.outcome,
            details=e.details,
        )
