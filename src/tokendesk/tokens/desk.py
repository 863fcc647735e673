"""Applying a desk file, a workflow of the token lifecycle: the whole file in ONE
transaction (the desk service makes every entry so through the existing services), the
revocation of the tokens of deleted connections queued in it and attempted after the
commit (RFC 7009), as deleting one connection does. A dry run does the same work and rolls
the transaction back: nothing changes, and the plan is exactly what applying would do."""

from __future__ import annotations

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.services.desk.apply import DeskService
from tokendesk.services.desk.file import DeskFile
from tokendesk.services.desk.plan import Plan
from tokendesk.services.desk.references import SecretReader
from tokendesk.storage.db import Transaction
from tokendesk.tokens.removal import ConnectionRemoval


class _RolledBack(Exception):
    """Raised inside the transaction of a dry run so that it rolls back; carries the plan."""

    def __init__(self, plan: Plan) -> None:
        super().__init__("dry run")
        self.plan = plan


class DeskApplier:
    """Plans (dry run) and applies desk files."""

    def __init__(self, transaction: Transaction, desk: DeskService,
                 removal: ConnectionRemoval) -> None:
        self.transaction = transaction
        self.desk = desk
        self.removal = removal

    def export(self, actor: Principal) -> DeskFile:
        """The desk as a desk file (secrets as references); administrators only."""
        with self.transaction(read_only=True) as tx:
            return self.desk.export(tx, actor)

    def apply(self, actor: Principal, desk: DeskFile, reader: SecretReader, *,
              dry_run: bool, prune: bool) -> Plan:
        """Apply ``desk`` (or with ``dry_run`` only plan it); returns the plan.

        Raises what DeskService.apply raises, having changed nothing.
        """
        queued: list[str] = []

        def before_delete(tx: Tx, connection: Connection) -> None:
            queued.extend(self.removal.queue_revocations(tx, connection))

        try:
            with self.transaction() as tx:
                plan = self.desk.apply(tx, actor, desk, reader, prune=prune,
                                       before_delete=before_delete)
                if dry_run:
                    raise _RolledBack(plan)
        except _RolledBack as done:
            return done.plan
        if queued:
            self.removal.revocations.drain(queued)  # after the commit; failures retried later
        return plan
