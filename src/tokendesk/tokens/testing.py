"""Test connection (seed step 15): a real token request, or a real consent round trip."""

from __future__ import annotations

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import GrantType, Verdict
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import DecryptionError, ProviderError
from tokendesk.oauth.client import OAuthClient
from tokendesk.services.audit import AuditService
from tokendesk.services.connection_proxy import unsaved_proxy
from tokendesk.services.connections import ConnectionService
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.services.proxy import ProxyService, way_to
from tokendesk.storage.db import Transaction
from tokendesk.tokens.consent import ConsentService
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.tokens.handout import TokenService


class ConnectionTester:
    def __init__(
        self,
        transaction: Transaction,
        connections: ConnectionService,
        consent: ConsentService,
        tokens: TokenService,
        oauth: OAuthClient,
        proxy: ProxyService,
        audit: AuditService,
    ) -> None:
        self.transaction = transaction
        self.connections = connections
        self.consent = consent
        self.tokens = tokens
        self.oauth = oauth
        self.proxy = proxy
        self.audit = audit

    def test(self, actor: Principal, name: str, *, save_credentials: bool) -> Verdict:
        """Try the connection for real; with ``save_credentials`` the result is the shared token.

        For the authorization code flow the verdict arrives at the callback; this returns
        the one-time link that starts the consent.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        with self.transaction() as tx:
            connection = self.connections.get(tx, actor, name)
            if connection.grant_type is GrantType.AUTHORIZATION_CODE:
                purpose = Purpose.SHARED if save_credentials else Purpose.TEST
                link = self.consent.create_link(tx, actor, name, purpose)
                return Verdict(
                    None,
                    "Open the link to consent at the provider; the verdict "
                    "appears when you come back.",
                    authorize_url=link.url,
                )
            try:
                spec = self.connections.client_spec(tx, connection)
            except DecryptionError as exc:
                return self._record(
                    tx,
                    actor,
                    connection.name,
                    connection.id,
                    Verdict(False, exc.message, "decryption_failed"),
                )
            route = self.proxy.route_for(tx, connection)
        way = way_to(route, spec.token_url)
        try:
            tokens = self.oauth.client_credentials(spec, route=route)
        except ProviderError as exc:
            with self.transaction() as tx:
                return self._record(tx, actor, connection.name, connection.id,
                                    Verdict(False, _tried(exc.message, way), exc.kind))
        with self.transaction() as tx:
            if save_credentials:
                self.tokens.store(tx, connection, TokenKind.SHARED, None, tokens)
            saved = " The shared token is saved." if save_credentials else ""
            return self._record(
                tx,
                actor,
                connection.name,
                connection.id,
                Verdict(True, "The connection works: reached " + way
                        + f", the provider issued a token.{saved}"),
            )

    def test_unsaved(self, actor: Principal, data: ConnectionCreate) -> Verdict:
        """Ask the provider for a token (client credentials, RFC 6749 §4.4) with what the
        wizard holds, storing no connection and no token: the administrator has not chosen to
        save yet. The token issued is only proof and is dropped.

        Raises what ConnectionChecks.check_details raises (PermissionDenied,
        ValidationError, ClientSecretRequired) for details that could not be saved.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        with self.transaction() as tx:
            spec = self.connections.checks.unsaved_spec(tx, actor, data)
            route = self.proxy.route_of(tx, *unsaved_proxy(data))
        way = way_to(route, spec.token_url)
        try:
            self.oauth.client_credentials(spec, route=route)
        except ProviderError as exc:
            verdict = Verdict(False, _tried(exc.message, way), exc.kind)
        else:
            verdict = Verdict(True, f"The connection works: reached {way}, the provider issued "
                                    "a token. Nothing is saved until you create the connection.")
        with self.transaction() as tx:
            return self._record(tx, actor, data.name, None, verdict)

    def _record(
        self, tx: Tx, actor: Principal, name: str, connection_id: str | None, verdict: Verdict
    ) -> Verdict:
        self.audit.record(
            tx,
            actor,
            "connection.test",
            target_type="connection",
            target=name,
            connection_id=connection_id,
            outcome="success" if verdict.ok else "failure",
            details={"cause": verdict.cause} if verdict.cause else {},
        )
        return verdict


def _tried(message: str, way: str) -> str:
    """A failure's message, saying which way the call went (through which proxy, or not)."""
    return f"{message} (Tokendesk tried {way}.)"
