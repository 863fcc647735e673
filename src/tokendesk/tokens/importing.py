"""Tokens move in without re-consent: a refresh token brought from another token store is
proven with one refresh at the provider and stored only if the provider accepts it."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import StoredToken, TokenKind
from tokendesk.errors import Conflict, ProviderError, TokenRefused, ValidationError
from tokendesk.oauth.client import OAuthClient
from tokendesk.services.accounts import AccountService
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import TokenRepository
from tokendesk.tokens.handout import TokenService

# A refresh token longer than this is not one (providers' are well under 4 kB).
REFRESH_TOKEN_MAX = 16_000


@dataclass(frozen=True, slots=True)
class TokenImport:
    """One token to bring in: whose, and its refresh token."""

    kind: TokenKind
    refresh_token: Secret
    username: str | None = None


class TokenImporter:
    """Imports refresh tokens: one proving refresh each, no transaction open during it."""

    def __init__(
        self,
        transaction: Transaction,
        connections: ConnectionService,
        accounts: AccountService,
        tokens: TokenService,
        oauth: OAuthClient,
        proxy: ProxyService,
        audit: AuditService,
    ) -> None:
        self.transaction = transaction
        self.connections = connections
        self.accounts = accounts
        self.tokens = tokens
        self.oauth = oauth
        self.proxy = proxy
        self.audit = audit

    def import_token(
        self, actor: Principal, name: str, item: TokenImport, *, replace: bool = False
    ) -> StoredToken:
        """Prove ``item``'s refresh token with one refresh at the provider, then store what
        the provider answered as ``name``'s shared token or the user's token.

        Raises TokenRefused (the provider said no: nothing stored), Conflict (a token is
        already there and not ``replace``), or ValidationError naming the input at fault.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        raw = item.refresh_token.reveal()
        if not raw.strip() or len(raw) > REFRESH_TOKEN_MAX or any(c.isspace() for c in raw):
            raise ValidationError(
                "The refresh token is empty, too long or contains spaces; give it exactly as "
                "the other token store holds it.", field="refresh_token")
        with self.transaction(read_only=True) as tx:
            connection = self.connections.get(tx, actor, name)
            if connection.grant_type is not GrantType.AUTHORIZATION_CODE:
                raise ValidationError(
                    f"'{connection.name}' uses client credentials: its tokens need no consent "
                    "and are fetched by Tokendesk itself, so there is nothing to import.",
                    field="connection")
            user_id = self._owner(tx, item)
            existing = TokenRepository(tx).find(connection.id, item.kind, user_id)
            if existing is not None and not replace:
                raise Conflict(
                    f"'{connection.name}' already has {self._whose(item)}; import with "
                    "replace to put the imported one in its place.")
            spec = self.connections.client_spec(tx, connection)
            route = self.proxy.route_for(tx, connection)
        try:
            tokens = self.oauth.refresh(spec, item.refresh_token, route=route)
        except ProviderError as exc:
            with self.transaction() as tx:
                self._record(tx, actor, connection.name, connection.id, item, "failure",
                             exc.kind)
            raise TokenRefused(
                f"The provider did not accept the refresh token for {self._whose(item)}, so "
                f"nothing was stored: {exc.message}", field="refresh_token") from exc
        with self.transaction() as tx:
            stored = self.tokens.store(tx, connection, item.kind, user_id, tokens)
            self._record(tx, actor, connection.name, connection.id, item, "success", None)
        return stored

    def _owner(self, tx: Tx, item: TokenImport) -> str | None:
        if item.kind is TokenKind.SHARED:
            if item.username is not None:
                raise ValidationError("A shared token belongs to no user: leave the user out.",
                                      field="user")
            return None
        if item.username is None:
            raise ValidationError("A user token needs the user it belongs to.", field="user")
        return self.accounts.get_user(tx, item.username).id

    @staticmethod
    def _whose(item: TokenImport) -> str:
        if item.kind is TokenKind.SHARED:
            return "a shared token"
        return f"a token of '{item.username}'"

    def _record(self, tx: Tx, actor: Principal, name: str, connection_id: str,
                item: TokenImport, outcome: str, cause: str | None) -> None:
        details: dict[str, str] = {"token_type": item.kind.value}
        if item.username is not None:
            details["user"] = item.username
        if cause is not None:
            details["cause"] = cause
        self.audit.record(tx, actor, "token.import", target_type="connection",
                          target=name, connection_id=connection_id, outcome=outcome,
                          details=details)
