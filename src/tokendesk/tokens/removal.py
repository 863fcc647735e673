"""Deleting a connection, a workflow of the token lifecycle: the connection service deletes
it in one transaction, in which the revocation of its tokens at the provider is queued
(RFC 7009); the queued revocations are attempted right after the commit."""

from __future__ import annotations

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import DecryptionError
from tokendesk.services.connections import ConnectionService
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import TokenRepository
from tokendesk.tokens.revocations import RevocationQueue


class ConnectionRemoval:
    """Deletes connections with their tokens and revokes those tokens at the provider."""

    def __init__(
        self,
        transaction: Transaction,
        connections: ConnectionService,
        revocations: RevocationQueue,
    ) -> None:
        self.transaction = transaction
        self.connections = connections
        self.revocations = revocations

    def remove(self, actor: Principal, name: str) -> Connection:
        """Delete the connection ``name``, its invitations and its tokens; returns it as it was.

        A revocation the provider fails is retried in the background and never blocks the
        deletion. Raises PermissionDenied or ConnectionNotFound, deleting nothing.
        """
        with self.transaction() as tx:
            actor.require(Permission.MANAGE_CONNECTIONS)
            queued = self.queue_revocations(tx, self.connections.get(tx, actor, name))
            deleted = self.connections.delete(tx, actor, name)
        if queued:
            self.revocations.drain(queued)  # after the commit; failures are retried later
        return deleted

    def queue_revocations(self, tx: Tx, connection: Connection) -> list[str]:
        """Queue, in ``tx``, the revocation of every token of ``connection`` (about to be
        deleted in ``tx``); returns the queued ids, to drain after the commit."""
        try:
            spec = self.connections.client_spec(tx, connection)
        except DecryptionError:
            return []  # a secret that cannot be opened cannot authenticate a revocation either
        rows = TokenRepository(tx).rows_for_connection(connection.id)
        return self.revocations.enqueue_rows(tx, spec, rows, connection)
