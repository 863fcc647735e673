"""Handing out access tokens to bots and people, and managing the stored tokens."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection, ConnectionStatus, GrantType
from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import (
    Handout,
    StoredToken,
    TokenKind,
    TokenSet,
    TokenStatus,
    is_usable,
    needs_refresh,
)
from tokendesk.errors import (
    ConnectionMisconfigured,
    ConnectionNotFound,
    DecryptionError,
    InvalidClient,
    NotAuthenticated,
    NotInvited,
    ProviderError,
    ReauthenticationRequired,
    TokenCorrupted,
    TokendeskError,
    TokenUnavailable,
)
from tokendesk.metrics import Metrics
from tokendesk.oauth.client import OAuthClient
from tokendesk.services.audit import AuditService
from tokendesk.services.audit_buffer import AuditBuffer
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.db import Transaction
from tokendesk.storage.ids import new_id
from tokendesk.storage.tokens import (
    TokenChange,
    TokenRecord,
    TokenRepository,
    owner_key,
    to_stored,
)
from tokendesk.tokens.backoff import FirstFetchGate, backing_off
from tokendesk.tokens.refresh import RefreshCoordinator
from tokendesk.tokens.revocations import RevocationQueue
from tokendesk.tokens.vault import TokenVault

log = logging.getLogger(__name__)


class TokenService:
    def __init__(
        self,
        transaction: Transaction,
        connections: ConnectionService,
        refresher: RefreshCoordinator,
        vault: TokenVault,
        oauth: OAuthClient,
        proxy: ProxyService,
        audit: AuditService,
        metrics: Metrics,
        clock: Callable[[], datetime],
        public_url: str,
        revocations: RevocationQueue,
        audit_buffer: AuditBuffer,
    ) -> None:
        self.transaction = transaction
        self.connections = connections
        self.refresher = refresher
        self.vault = vault
        self.oauth = oauth
        self.proxy = proxy
        self.audit = audit
        self.metrics = metrics
        self.clock = clock
        self.public_url = public_url
        self.revocations = revocations
        self.audit_buffer = audit_buffer
        self._first_fetch = FirstFetchGate(clock)

    # --- handing out ------------------------------------------------------------------

    def handout(
        self, actor: Principal, name: str, kind: TokenKind, *, force_refresh: bool = False
    ) -> Handout:
        """A valid access token of connection ``name`` for ``actor``.

        Only users of an invited role get one; a caller who may view connections is told he
        is not invited (NotInvited, naming the invited roles), to anyone else the connection
        is 'not found'. Expired tokens are refreshed first. Raises TokenUnavailable
        subclasses (with the URL to authenticate at), NotInvited, ConnectionNotFound, or
        ProviderError when a refresh failed and the current token is no longer usable.
        """
        usable: list[str] = []  # the connection's id, once the actor may use it
        try:
            return self._handout(actor, name, kind, force_refresh, usable)
        except TokendeskError as exc:
            # Refusals are audited too (batched, like handouts): who asked for what, and why not.
            # A failure for an invited caller belongs to the connection (its timeline shows it).
            outcome = "denied" if isinstance(exc, ConnectionNotFound | NotInvited) else "failure"
            self.audit_buffer.add(
                self.audit.row(
                    actor,
                    "token.handout",
                    target_type="token",
                    target=name[:200],
                    outcome=outcome,
                    connection_id=usable[0] if usable and outcome == "failure" else None,
                    details={"kind": kind.value, "error": exc.code},
                )
            )
            self.metrics.handout(kind.value, outcome)
            raise

    def _handout(
        self, actor: Principal, name: str, kind: TokenKind, force_refresh: bool,
        usable: list[str],
    ) -> Handout:
        with self.transaction(read_only=True) as tx:
            connection = self._usable_connection(tx, actor, name)
            usable.append(connection.id)
            row = self._row(tx, connection, kind, actor)
        if (
            row is None
            and connection.grant_type is GrantType.CLIENT_CREDENTIALS
            and kind is TokenKind.SHARED
        ):
            row = self._first_client_credentials_token(connection)
        if row is None:
            raise self._missing(connection, kind)
        heard = force_refresh and actor.can(Permission.MANAGE_CONNECTIONS)
        row = self._fresh(row, connection, kind, force_refresh, heard=heard)
        try:
            handout = Handout(
                connection=connection.name,
                kind=kind,
                access_token=self.vault.access_token(row),
                token_type=row.token_type,
                expires_at=row.expires_at,
                scope=row.scope,
                extra=self.vault.extra(row),
                connection_id=connection.id,
                issued_at=row.issued_at,
            )
        except DecryptionError:
            self._mark_corrupted(row.id)
            raise TokenCorrupted(
                f"The stored token of '{connection.name}' could not be "
                f"decrypted; {_renew(connection)}.",
                authenticate_url=self.authenticate_url(connection, kind),
            ) from None
        self.record_handout(actor, handout)
        return handout

    def record_handout(self, actor: Principal, handout: Handout) -> dict[str, Any]:
        """Audit one handout (written in batches, never with the token) and count it.
        Returns the audit row written."""
        row = self.audit.row(
            actor,
            "token.handout",
            target_type="token",
            target=handout.connection,
            connection_id=handout.connection_id,
            details={"kind": handout.kind.value},
        )
        self.record_handout_again(row, handout)
        return row

    def record_handout_again(
        self, row: dict[str, Any], handout: Handout, at: datetime | None = None
    ) -> None:
        """Audit and count a handout whose audit ``row`` was built before: the same row,
        restamped ``at`` (the cache hands one handout out many times)."""
        self.audit_buffer.add(row if at is None else row | {"at": at})
        self.metrics.handout(handout.kind.value, "success")

    def _usable_connection(self, tx: Tx, actor: Principal, name: str) -> Connection:
        connection = self.connections.get(tx, actor, name)
        if connection.invites(actor):
            return connection
        if not actor.can(Permission.VIEW_CONNECTIONS):
            # Existence is not revealed to callers who may neither see nor use it.
            raise ConnectionNotFound(f"There is no connection named '{name}'.")
        # He sees it (the console lists it to him): say why he gets no token.
        invited = connection.invited_roles
        raise NotInvited(
            f"None of your roles is invited to connection '{connection.name}'; "
            + (f"it invites: {', '.join(invited)}." if invited else "it invites no role yet.")
            + " Someone who may manage connections can invite one of your roles.",
            invited_roles=invited,
        )

    def _row(
        self, tx: Tx, connection: Connection, kind: TokenKind, actor: Principal
    ) -> TokenRecord | None:
        return TokenRepository(tx).find(connection.id, kind, actor.user_id)

    def _fresh(
        self,
        row: TokenRecord,
        connection: Connection,
        kind: TokenKind,
        force: bool,
        *,
        heard: bool = False,
    ) -> TokenRecord:
        """The token refreshed when due or ``force``d; ``heard``: an administrator asked, so a
        misconfigured connection's provider is called too."""
        self._raise_if_broken(row, connection, kind, heard=heard)
        if not force and not needs_refresh(self.clock(), row.issued_at, row.expires_at)[0]:
            return row  # the common case: no lease, no second read
        if connection.misconfigured and not heard:
            # The provider refused the client itself (invalid_client): every token of the
            # connection would be refused alike, so none asks again until the client
            # credentials change or an administrator asks; meanwhile this one is served
            # while it is valid.
            return row
        try:
            fresh = self.refresher.refresh(
                row.id, seen_version=row.version, force=force, heard=heard
            )
        except ProviderError:
            with self.transaction(read_only=True) as tx:
                after = TokenRepository(tx).get(row.id)
                connection = self.connections.get_by_id(tx, connection.id) or connection
            if after is not None and _newer_and_usable(after, row, self.clock()):
                return after  # another refresh won the race: its token, not our failure
            if after is not None:
                self._raise_if_broken(after, connection, kind)  # invalid_grant, invalid_client
            if not is_usable(self.clock(), row.expires_at) or force:
                raise
            return row  # the current token stays in service while it is valid
        except TokenUnavailable as exc:
            exc.authenticate_url = self.authenticate_url(connection, kind)
            raise
        if fresh is None:
            raise self._missing(connection, kind)
        self._raise_if_broken(fresh, connection, kind)
        if not is_usable(self.clock(), fresh.expires_at):
            raise backing_off(
                f"The token of '{connection.name}' has expired and could not be refreshed: "
                f"{fresh.last_error or 'the last attempt failed'}",
                fresh.next_attempt_at,
                self.clock(),
            )
        return fresh

    def _raise_if_broken(
        self, row: TokenRecord, connection: Connection, kind: TokenKind, *, heard: bool = False
    ) -> None:
        url = self.authenticate_url(connection, kind)
        if row.status is TokenStatus.NEEDS_REAUTHENTICATION:
            diagnosis = Diagnosis.from_json(row.diagnosis)
            raise ReauthenticationRequired(
                f"The token of '{connection.name}' can no longer be refreshed "
                f"({row.last_error or 'refused by the provider'}). "
                + ("Authenticate again at " + url if connection.grant_type
                   is GrantType.AUTHORIZATION_CODE else _renew(connection).capitalize() + "."),
                authenticate_url=url,
                diagnosis=diagnosis,
            )
        if row.status is TokenStatus.CORRUPTED:
            raise TokenCorrupted(
                f"The stored token of '{connection.name}' is damaged; {_renew(connection, url)}",
                authenticate_url=url,
            )
        if connection.misconfigured and not heard and not is_usable(self.clock(), row.expires_at):
            raise self._misconfigured(connection, Diagnosis.from_json(row.diagnosis))

    @staticmethod
    def _misconfigured(
        connection: Connection, diagnosis: Diagnosis | None = None
    ) -> ConnectionMisconfigured:
        return ConnectionMisconfigured(
            f"The provider refused the client credentials of '{connection.name}' "
            f"({connection.last_error or 'invalid_client'}); an administrator must fix them.",
            diagnosis=diagnosis,
        )

    def _missing(self, connection: Connection, kind: TokenKind) -> NotAuthenticated:
        url = self.authenticate_url(connection, kind)
        if kind is TokenKind.SHARED:
            return NotAuthenticated(
                f"'{connection.name}' has no shared token yet: an administrator must test the "
                f"connection with 'Save login credentials' at {url}",
                authenticate_url=url,
            )
        return NotAuthenticated(
            f"You have not authenticated '{connection.name}' yet; do so at {url}",
            authenticate_url=url,
        )

    def authenticate_url(self, connection: Connection, kind: TokenKind) -> str:
        """Where a person (re-)authenticates this connection in the console."""
        path = "connections" if kind is TokenKind.SHARED else "my/connections"
        return f"{self.public_url}/{path}/{quote(connection.name, safe='')}"

    def _first_client_credentials_token(self, connection: Connection) -> TokenRecord | None:
        """The first token of a client-credentials connection (RFC 6749 §4.4), asked for by
        one request at a time; the others use it, or wait out the back-off of its failure."""
        if connection.misconfigured:
            raise self._misconfigured(connection)
        with self._first_fetch.turn(connection.id, connection.version):
            with self.transaction() as tx:
                existing = TokenRepository(tx).find(connection.id, TokenKind.SHARED, None)
                if existing is not None:  # the request before this one fetched it
                    return existing
                spec = self.connections.client_spec(tx, connection)
                route = self.proxy.route_for(tx, connection)
            try:
                tokens = self.oauth.client_credentials(spec, route=route)
            except InvalidClient as exc:
                with self.transaction() as tx:
                    message = exc.message[:500]
                    self.connections.mark_status(
                        tx, connection, ConnectionStatus.MISCONFIGURED, message
                    )
                raise
            with self.transaction() as tx:
                repo = TokenRepository(tx)
                existing = repo.find(connection.id, TokenKind.SHARED, None)
                if existing is not None:  # another process won the race; use its token
                    return existing
                self.store(tx, connection, TokenKind.SHARED, None, tokens)
                return repo.find(connection.id, TokenKind.SHARED, None)

    # --- storing, status, disconnecting -------------------------------------------------

    def store(
        self, tx: Tx, connection: Connection, kind: TokenKind, user_id: str | None, tokens: TokenSet
    ) -> StoredToken:
        """Save a token set as the connection's shared token or ``user_id``'s token."""
        repo, now = TokenRepository(tx), self.clock()
        existing = repo.find(connection.id, kind, user_id)
        token_id = existing.id if existing is not None else new_id()
        # A stored token set is a new grant (a consent, or client credentials): the forecasts
        # count the refresh token's absolute lifetime from here, and what a later refusal is
        # diagnosed from starts afresh.
        values = replace(
            self.vault.seal(token_id, tokens, now=now),
            consented_at=now,
            refresh_issued_at=now if tokens.refresh_token is not None else None,
            refresh_rotations=0,
            refresh_sent_sha256=None,
            diagnosis=None,
        )
        if existing is None:
            repo.insert(
                {
                    "id": token_id,
                    "connection_id": connection.id,
                    "owner_key": owner_key(kind, user_id),
                    "kind": kind.value,
                    "user_id": user_id,
                    "created_at": now,
                    "updated_at": now,
                    **values.columns(),
                }
            )
        else:
            repo.update(
                token_id,
                {**values.columns(), "updated_at": now, "lease_owner": None, "lease_until": None},
            )
            # A new consent (or first token) for a token that was failing: it works again.
            self.connections.events.token_recovered(tx, connection, existing)
        self.connections.mark_status(tx, connection, ConnectionStatus.OK, None)
        return self._stored(repo, token_id)

    def statuses(self, tx: Tx, actor: Principal, name: str) -> list[StoredToken]:
        """The state of a connection's tokens (never the tokens): all of them for managers;
        the shared token for viewers and invited users; and the caller's own."""
        connection = self.connections.get(tx, actor, name)
        found = TokenRepository(tx).list_for_connection(connection.id)
        if connection.misconfigured:  # refused client: an admin must act first
            found = [
                replace(
                    t,
                    status=TokenStatus.MISCONFIGURED,
                    last_error=t.last_error or connection.last_error,
                )
                if t.status is TokenStatus.VALID
                else t
                for t in found
            ]
        if actor.can(Permission.MANAGE_CONNECTIONS):
            return found
        sees_shared = actor.can(Permission.VIEW_CONNECTIONS) or connection.invites(actor)
        return [
            t
            for t in found
            if t.user_id == actor.user_id or (t.kind is TokenKind.SHARED and sees_shared)
        ]

    def refresh_now(self, actor: Principal, name: str, kind: TokenKind) -> StoredToken:
        """Refresh a token on request (console 'Refresh now', CLI); returns its new state."""
        self._require_token_owner(actor, kind)
        with self.transaction() as tx:
            connection = self.connections.get(tx, actor, name)
            row = TokenRepository(tx).find(connection.id, kind, actor.user_id)
        if row is None:
            raise self._missing(connection, kind)
        self._fresh(row, connection, kind, True, heard=actor.can(Permission.MANAGE_CONNECTIONS))
        with self.transaction() as tx:
            return self._stored(TokenRepository(tx), row.id)

    def disconnect(self, actor: Principal, name: str, kind: TokenKind) -> str | None:
        """Forget a token, revoking it at the provider where possible (RFC 7009).

        Returns None when the provider was asked to revoke it; else what a person must do at
        the provider to end it now (the provider has no revocation endpoint).
        """
        self._require_token_owner(actor, kind)
        with self.transaction() as tx:
            connection = self.connections.get(tx, actor, name)
            row = TokenRepository(tx).find(connection.id, kind, actor.user_id)
            if row is None:
                raise self._missing(connection, kind)
            spec = self.connections.client_spec(tx, connection)
            note = None if spec.revocation_url else self.not_revoked_note(connection)
            queued = self.revocations.enqueue_rows(tx, spec, [row], connection)
            TokenRepository(tx).delete(row.id)
            self.audit.record(
                tx,
                actor,
                "token.disconnect",
                target_type="token",
                target=connection.name,
                connection_id=connection.id,
                details={"kind": kind.value}
                | ({"not_revoked_at_provider": note} if note else {}),
            )
        self.revocations.drain(queued)  # after the commit; failures are retried later
        return note

    def not_revoked_note(self, connection: Connection) -> str:
        """What to say of a token the provider cannot be asked to revoke (catalog data)."""
        provider = self.connections.catalog.get(connection.provider)
        return provider.revocation_note or (
            f"The token was not revoked at {provider.name}: the connection has no revocation "
            "URL. It stays valid until it expires."
        )

    @staticmethod
    def _stored(repo: TokenRepository, token_id: str) -> StoredToken:
        row = repo.get(token_id)
        if row is None:
            raise NotAuthenticated("The token was disconnected meanwhile.")
        return to_stored(row)

    def _require_token_owner(self, actor: Principal, kind: TokenKind) -> None:
        if kind is TokenKind.SHARED:
            actor.require(Permission.MANAGE_CONNECTIONS)

    def _mark_corrupted(self, token_id: str) -> None:
        reason = "the stored token could not be decrypted"
        with self.transaction() as tx:
            repo = TokenRepository(tx)
            before = repo.get(token_id)
            repo.update(token_id, TokenChange(status=TokenStatus.CORRUPTED, last_error=reason))
            if before is None or before.status is TokenStatus.CORRUPTED:
                return
            connection = self.connections.get_by_id(tx, before.connection_id)
            if connection is not None:
                self.connections.events.token_needs_reauthentication(
                    tx, connection, before, reason
                )


def _newer_and_usable(after: TokenRecord, before: TokenRecord, now: datetime) -> bool:
    """True when ``after`` is a token set stored since ``before`` was read, valid and usable."""
    return (
        after.version != before.version
        and after.status is TokenStatus.VALID
        and after.issued_at != before.issued_at
        and is_usable(now, after.expires_at)
    )


def _renew(connection: Connection, url: str | None = None) -> str:
    """What renews a damaged token: a consent, or for client credentials (which never asks
    anyone to authenticate) disconnecting it, so the next request fetches a new one."""
    if connection.grant_type is GrantType.CLIENT_CREDENTIALS:
        return "disconnect it: the next request fetches a new one with the client credentials"
    return f"authenticate again at {url}" if url else "authenticate again"
