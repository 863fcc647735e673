"""Use cases for the egress allowlist: which non-public addresses Tokendesk may call.

The allowlist in force is ``TOKENDESK_EGRESS_ALLOWLIST`` (read at startup, shown read-only)
united with the entries administrators store through the console, API or CLI. The stored part
is read in the transaction of every outbound call and every save-time check, never cached:
a change takes effect at once, in this process and on every replica.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection as Tx

from tokendesk.domain.egress import (
    EgressAllowlist,
    EgressPolicy,
    allowlist_entries,
    environment_entries,
)
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import ValidationError
from tokendesk.services.audit import AuditService
from tokendesk.services.inputs import EgressAllowlistInput
from tokendesk.storage.settings import EgressAllowlistRepository


class EgressService:
    def __init__(self, environment: str, audit: AuditService,
                 clock: Callable[[], datetime]) -> None:
        """``environment`` is ``TOKENDESK_EGRESS_ALLOWLIST``; raises ValidationError if bad."""
        self.base = EgressPolicy.parse(environment)
        self.environment = environment_entries(environment)
        self.audit = audit
        self.clock = clock

    def get(self, tx: Tx, actor: Principal | None = None) -> EgressAllowlist:
        """Both parts of the allowlist; raises PermissionDenied without *Network settings*."""
        if actor is not None:
            actor.require(Permission.MANAGE_SETTINGS)
        row = EgressAllowlistRepository(tx).get()
        if row is None:
            return EgressAllowlist(self.environment, (), None, "")
        return EgressAllowlist(self.environment, tuple(row.entries), row.updated_at,
                               row.updated_by)

    def policy(self, tx: Tx) -> EgressPolicy:
        """The policy in force now: the environment's allowlist plus the stored one."""
        row = EgressAllowlistRepository(tx).get()
        if row is None or not row.entries:
            return self.base
        return self.base.union(EgressPolicy.parse(row.entries))

    def save(self, tx: Tx, actor: Principal, data: EgressAllowlistInput) -> EgressAllowlist:
        """Replace the stored allowlist, and audit the change (old and new entries).

        Raises PermissionDenied without *Network settings*; ValidationError naming the first
        bad value (``allowlist``), in which case nothing is stored.
        """
        actor.require(Permission.MANAGE_SETTINGS)
        try:
            entries = allowlist_entries(data.allowlist, field="allowlist")
        except ValidationError as exc:
            self.audit.record_refusal(actor, "settings.egress_allowlist.update",
                                      target_type="settings", target="egress_allowlist",
                                      details={"field": exc.field, "reason": exc.message})
            raise
        repo = EgressAllowlistRepository(tx)
        row = repo.get(for_update=True)  # the "old" of the audit event is what we replace
        old = tuple(row.entries) if row is not None else ()
        if entries == old:
            return self.get(tx)
        repo.save(list(entries), self.clock(), actor.username)
        self.audit.record(tx, actor, "settings.egress_allowlist.update", target_type="settings",
                          target="egress_allowlist",
                          details={"old": list(old), "new": list(entries),
                                   "added": [e for e in entries if e not in old],
                                   "removed": [e for e in old if e not in entries]})
        return self.get(tx)
