"""The authorization code flow (RFC 6749 §4.1, RFC 7636 PKCE, RFC 9207 iss): start and
the one-time link for API and CLI here; the callback in ``consent_callback.py``.

``state`` is random, stored only as a hash, single-use, expires after ten minutes, and is
bound to the user and to the browser (a cookie) that started the flow. The code is sent
only to the token endpoint of the connection whose flow started it.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import (
    AuthorizationRejected,
    ConnectionNotFound,
    ValidationError,
)
from tokendesk.oauth.client import OAuthClient, authorization_url
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.ids import new_id
from tokendesk.storage.tokens import AuthorizationRequestRepository
from tokendesk.tokens.consent_callback import ConsentCallback
from tokendesk.tokens.consent_flow import (
    STATE_LIFETIME_S,
    FlowLink,
    LinkFor,
    Purpose,
    StartedFlow,
    digest,
    username,
    verifier_ref,
)
from tokendesk.tokens.handout import TokenService


class ConsentService(ConsentCallback):
    def __init__(
        self,
        transaction: Transaction,
        keyring: KeyRing,
        connections: ConnectionService,
        tokens: TokenService,
        oauth: OAuthClient,
        proxy: ProxyService,
        audit: AuditService,
        clock: Callable[[], datetime],
        public_url: str,
        callback_url: str,
    ) -> None:
        super().__init__(
            transaction, keyring, connections, tokens, oauth, proxy, audit, clock, callback_url
        )
        self.public_url = public_url

    # --- starting -----------------------------------------------------------------------

    def start(
        self,
        tx: Tx,
        actor: Principal,
        name: str,
        purpose: Purpose,
        browser_binding: str | None = None,
    ) -> StartedFlow:
        """Begin a flow in this browser; returns the provider URL and the binding cookie
        (``browser_binding`` is reused when the browser already has one)."""
        connection = self._startable(tx, actor, name, purpose)
        request_id = new_id()
        self._insert(
            tx,
            request_id,
            connection,
            actor,
            purpose,
            stage="sent",
            state_hash=digest(secrets.token_urlsafe(8)),
        )
        return self._send(tx, request_id, connection, browser_binding)

    def create_link(self, tx: Tx, actor: Principal, name: str, purpose: Purpose) -> FlowLink:
        """A one-time link to Tokendesk that starts the flow in whatever browser opens it."""
        connection = self._startable(tx, actor, name, purpose)
        link = secrets.token_urlsafe(32)
        expires = self._insert(
            tx, new_id(), connection, actor, purpose, stage="link", state_hash=digest(link)
        )
        self.audit.record(
            tx,
            actor,
            "consent.link",
            target_type="connection",
            target=connection.name,
            connection_id=connection.id,
            details={"purpose": purpose.value},
        )
        return FlowLink(f"{self.public_url}/oauth/start/{link}", expires)

    def link_for(self, tx: Tx, link: str) -> LinkFor:
        """Whom and what the one-time ``link`` is for; raises AuthorizationRejected when it is
        unknown, used or expired."""
        row, connection = self._link(tx, link)
        return LinkFor(connection.name, Purpose(row.purpose), row.user_id,
                       username(tx, row.user_id))

    def open_link(
        self,
        tx: Tx,
        link: str,
        browser_binding: str | None = None,
        session_user_id: str | None = None,
    ) -> StartedFlow:
        """Bind a one-time link to this browser and send it on to the provider.

        A link for a user-specific token opens only in a session of its own user
        (``session_user_id``): anyone else's provider account would become his token.
        Raises AuthorizationRejected."""
        row, connection = self._link(tx, link)
        if Purpose(row.purpose) is Purpose.USER and session_user_id != row.user_id:
            raise AuthorizationRejected(
                f"This link is for the Tokendesk user '{username(tx, row.user_id)}'; sign in "
                "as that user to continue."
            )
        if not AuthorizationRequestRepository(tx).open_link(row.id):
            raise AuthorizationRejected("This sign-in link was already used; ask for a new one.")
        return self._send(tx, row.id, connection, browser_binding)

    def _link(self, tx: Tx, link: str) -> tuple[Any, Connection]:
        row = AuthorizationRequestRepository(tx).find_by_state(digest(link))
        if row is None or row.stage != "link" or row.expires_at <= self.clock():
            raise AuthorizationRejected(
                "This sign-in link is unknown, used or expired; ask for a new one."
            )
        connection = ConnectionRepository(tx).get(row.connection_id)
        assert connection is not None  # requests are deleted with their connection
        return row, connection

    def _startable(self, tx: Tx, actor: Principal, name: str, purpose: Purpose) -> Connection:
        connection = self.connections.get(tx, actor, name)
        if purpose is Purpose.USER:
            if not connection.invites(actor):
                raise ConnectionNotFound(f"There is no connection named '{name}'.")
        else:
            actor.require(Permission.MANAGE_CONNECTIONS)
        if connection.grant_type is not GrantType.AUTHORIZATION_CODE:
            raise ValidationError(
                f"'{connection.name}' uses the Client Credentials Flow; there "
                "is no consent to give.",
                field="grant_type",
            )
        if actor.user_id is None:
            raise ValidationError("A consent must be started by a user.", field="user")
        return connection

    def _insert(
        self,
        tx: Tx,
        request_id: str,
        connection: Connection,
        actor: Principal,
        purpose: Purpose,
        *,
        stage: str,
        state_hash: str,
    ) -> datetime:
        now = self.clock()
        expires = now + timedelta(seconds=STATE_LIFETIME_S)
        AuthorizationRequestRepository(tx).insert(
            {
                "id": request_id,
                "state_hash": state_hash,
                "connection_id": connection.id,
                "user_id": actor.user_id,
                "purpose": purpose.value,
                "stage": stage,
                "redirect_uri": connection.callback_url(self.callback_url),
                "token_url": connection.token_url,
                "created_at": now,
                "expires_at": expires,
            }
        )
        return expires

    def _send(
        self, tx: Tx, request_id: str, connection: Connection, browser_binding: str | None
    ) -> StartedFlow:
        state = secrets.token_urlsafe(32)
        binding = (
            browser_binding
            if browser_binding and len(browser_binding) >= 32
            else secrets.token_urlsafe(32)
        )
        verifier = secrets.token_urlsafe(48) if connection.pkce else None
        expires = self.clock() + timedelta(seconds=STATE_LIFETIME_S)
        AuthorizationRequestRepository(tx).update(
            request_id,
            {
                "stage": "sent",
                "state_hash": digest(state),
                "browser_binding_hash": digest(binding),
                "expires_at": expires,
                "code_verifier_ct": self.keyring.encrypt(verifier, verifier_ref(request_id))
                if verifier
                else None,
            },
        )
        spec = self.connections.client_spec(tx, connection)
        url = authorization_url(
            spec,
            redirect_uri=connection.callback_url(self.callback_url),
            state=state,
            code_verifier=verifier,
        )
        return StartedFlow(request_id, url, binding, expires)
