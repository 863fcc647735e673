"""An administrator's view of one user's token of a connection, and its revocation
(RFC 7009): for a person who left, or a token that must end now."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection as Tx

from tokendesk.domain.accounts import User
from tokendesk.domain.connections import Connection
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import StoredToken, TokenKind
from tokendesk.errors import NotFound, UserNotFound
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.storage.accounts import UserRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import TokenRecord, TokenRepository, to_stored
from tokendesk.tokens.handout import TokenService
from tokendesk.tokens.revocations import RevocationQueue


class UserTokenNotFound(NotFound):
    code = "token_not_found"


@dataclass(frozen=True, slots=True)
class UserToken:
    """One user's token of a connection, as a manager sees it (never the token itself)."""

    username: str
    token: StoredToken


class UserTokens:
    """Opens its own short transactions; revokes at the provider after the commit."""

    def __init__(self, transaction: Transaction, connections: ConnectionService,
                 tokens: TokenService, revocations: RevocationQueue,
                 audit: AuditService) -> None:
        self.transaction = transaction
        self.connections = connections
        self.tokens = tokens
        self.revocations = revocations
        self.audit = audit

    def get(self, actor: Principal, name: str, username: str) -> UserToken:
        """The user-specific token ``username`` holds for connection ``name``.

        Raises PermissionDenied without Manage connections, ConnectionNotFound,
        UserNotFound, UserTokenNotFound.
        """
        with self.transaction(read_only=True) as tx:
            _connection, user, row = self._find(tx, actor, name, username)
            return UserToken(user.username, to_stored(row))

    def revoke(self, actor: Principal, name: str, username: str) -> str | None:
        """Forget ``username``'s token of ``name`` and revoke it at the provider where it
        can (RFC 7009); the user must consent again to use the connection.

        Returns None when the provider was asked to revoke it, else what to do at the
        provider. Raises as :meth:`get`.
        """
        with self.transaction() as tx:
            connection, user, row = self._find(tx, actor, name, username)
            spec = self.connections.client_spec(tx, connection)
            note = None if spec.revocation_url else self.tokens.not_revoked_note(connection)
            queued = self.revocations.enqueue_rows(tx, spec, [row], connection)
            TokenRepository(tx).delete(row.id)
            self.audit.record(tx, actor, "token.revoke_user", target_type="token",
                              target=connection.name, connection_id=connection.id,
                              details={"kind": TokenKind.USER.value, "user": user.username}
                              | ({"not_revoked_at_provider": note} if note else {}))
        self.revocations.drain(queued)  # after the commit; failures are retried later
        return note

    def _find(self, tx: Tx, actor: Principal, name: str,
              username: str) -> tuple[Connection, User, TokenRecord]:
        actor.require(Permission.MANAGE_CONNECTIONS)
        connection = self.connections.get(tx, actor, name)
        user = UserRepository(tx).get_by_username(username)
        if user is None:
            raise UserNotFound(f"There is no user named '{username}'.")
        row = TokenRepository(tx).find(connection.id, TokenKind.USER, user.id)
        if row is None:
            raise UserTokenNotFound(f"'{user.username}' has no user-specific token for "
                                    f"'{connection.name}'.")
        return connection, user, row
