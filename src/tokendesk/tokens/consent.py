"""The authorization code flow (RFC 6749 §4.1, RFC 7636 PKCE, RFC 9207 iss): start, the
one-time link for API and CLI, and the callback.

``state`` is random, stored only as a hash, single-use, expires after ten minutes, and is
bound to the user and to the browser (a cookie) that started the flow. The code is sent
only to the token endpoint of the connection whose flow started it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import (
    AuthorizationRejected,
    ConnectionNotFound,
    ProviderError,
    ValidationError,
)
from tokendesk.logs import scrub_text
from tokendesk.oauth.client import OAuthClient, authorization_url
from tokendesk.oauth.discovery import MetadataCache
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService, way_to
from tokendesk.storage.accounts import UserRepository
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.ids import new_id
from tokendesk.storage.tokens import AuthorizationRequestRepository
from tokendesk.tokens.handout import TokenService

STATE_LIFETIME_S = 600
OK_PREFIX = "The connection works"


class Purpose(StrEnum):
    SHARED = "shared"  # "Save login credentials": the consent becomes the shared token
    USER = "user"  # a user-specific token
    TEST = "test"  # "Test connection" without saving


@dataclass(frozen=True, slots=True)
class StartedFlow:
    """Where to send the browser, and the cookie value that binds the flow to it."""

    request_id: str
    provider_url: str
    browser_binding: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class FlowLink:
    url: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class LinkFor:
    """Whom and what a one-time link's consent is for, shown before it goes to the provider."""

    connection: str
    purpose: Purpose
    user_id: str
    username: str

    @property
    def bound_to_user(self) -> bool:
        """A user-specific token must be consented by its own user (in his session)."""
        return self.purpose is Purpose.USER


@dataclass(frozen=True, slots=True)
class CallbackOutcome:
    request_id: str
    connection: str
    purpose: Purpose
    ok: bool
    message: str


class ConsentService:
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
        self.transaction = transaction
        self.keyring = keyring
        self.connections = connections
        self.tokens = tokens
        self.oauth = oauth
        self.proxy = proxy
        self.audit = audit
        self.clock = clock
        self.public_url = public_url
        self.callback_url = callback_url
        self.metadata = MetadataCache(oauth.outbound)

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
            state_hash=_digest(secrets.token_urlsafe(8)),
        )
        return self._send(tx, request_id, connection, browser_binding)

    def create_link(self, tx: Tx, actor: Principal, name: str, purpose: Purpose) -> FlowLink:
        """A one-time link to Tokendesk that starts the flow in whatever browser opens it."""
        connection = self._startable(tx, actor, name, purpose)
        link = secrets.token_urlsafe(32)
        expires = self._insert(
            tx, new_id(), connection, actor, purpose, stage="link", state_hash=_digest(link)
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
                       _username(tx, row.user_id))

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
                f"This link is for the Tokendesk user '{_username(tx, row.user_id)}'; sign in "
                "as that user to continue."
            )
        if not AuthorizationRequestRepository(tx).open_link(row.id):
            raise AuthorizationRejected("This sign-in link was already used; ask for a new one.")
        return self._send(tx, row.id, connection, browser_binding)

    def _link(self, tx: Tx, link: str) -> tuple[Any, Connection]:
        row = AuthorizationRequestRepository(tx).find_by_state(_digest(link))
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
                "state_hash": _digest(state),
                "browser_binding_hash": _digest(binding),
                "expires_at": expires,
                "code_verifier_ct": self.keyring.encrypt(verifier, _verifier_ref(request_id))
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

    def outcome(self, tx: Tx, request_id: str, browser_binding: str | None) -> CallbackOutcome:
        """The recorded outcome of a finished flow, for the browser that ran it only."""
        row = AuthorizationRequestRepository(tx).get(request_id)
        if (
            row is None
            or row.outcome is None
            or not browser_binding
            or not hmac.compare_digest(_digest(browser_binding), row.browser_binding_hash or "")
        ):
            raise AuthorizationRejected("There is no finished sign-in to show here.")
        connection = ConnectionRepository(tx).get(row.connection_id)
        return CallbackOutcome(
            row.id,
            connection.name if connection else "(deleted)",
            Purpose(row.purpose),
            row.outcome.startswith(OK_PREFIX),
            row.outcome,
        )

    # --- the callback -------------------------------------------------------------------

    def complete(
        self,
        params: Mapping[str, str],
        *,
        browser_binding: str | None,
        session_user_id: str | None,
        connection_id: str | None = None,
    ) -> CallbackOutcome:
        """Accept the provider's redirect: check state, then exchange the code exactly once.

        ``connection_id`` is the one in the callback URL the answer came to (None for the
        shared ``/oauth/callback``). Raises AuthorizationRejected, before any call to a token
        endpoint, for a missing, unknown, expired, replayed or foreign state, or a state of a
        flow whose redirect URI is not the one the answer came to (RFC 9700 §4.4.2).
        """
        arrived_at = self.callback_url + (f"/{connection_id}" if connection_id else "")
        with self.transaction() as tx:
            row, connection = self._claim(
                tx, params.get("state", ""), browser_binding, session_user_id
            )
            if row.redirect_uri != arrived_at:  # not a secret: a plain comparison
                # Fail closed: a mix-up attack brings one server's answer to another
                # connection's flow; its own redirect URI is what tells them apart.
                raise AuthorizationRejected(
                    "This answer came to the callback URL of another connection; the code was "
                    "not used. Check the callback URL registered at the provider."
                )
            spec = self.connections.client_spec(tx, connection)
            route = self.proxy.route_for(tx, connection)
            verifier = (
                Secret(self.keyring.decrypt(row.code_verifier_ct, _verifier_ref(row.id)))
                if row.code_verifier_ct
                else None
            )
        purpose = Purpose(row.purpose)
        way = way_to(route, spec.token_url)
        # What the server says about itself (RFC 8414), fetched with no transaction open.
        metadata = self.metadata.for_url(connection.authorization_url, route=route)
        try:
            self._check_response(params, connection, row, metadata)
            tokens = self.oauth.exchange_code(
                spec,
                code=Secret(params["code"]),
                redirect_uri=row.redirect_uri,
                code_verifier=verifier,
                route=route,
            )
        except ProviderError as exc:
            return self._finish(row, connection, purpose, ok=False,
                                message=f"{exc.message} (Tokendesk tried {way}.)")
        except AuthorizationRejected as exc:
            return self._finish(row, connection, purpose, ok=False, message=exc.message)
        with self.transaction() as tx:
            if purpose is not Purpose.TEST:
                kind = TokenKind.USER if purpose is Purpose.USER else TokenKind.SHARED
                self.tokens.store(
                    tx, connection, kind, row.user_id if kind is TokenKind.USER else None, tokens
                )
        saved = {
            Purpose.SHARED: " The shared token is saved.",
            Purpose.USER: " Your token is saved.",
            Purpose.TEST: "",
        }[purpose]
        return self._finish(
            row,
            connection,
            purpose,
            ok=True,
            message=f"{OK_PREFIX}: reached {way}, the provider issued a token.{saved}",
        )

    def _claim(
        self, tx: Tx, state: str, browser_binding: str | None, session_user_id: str | None
    ) -> tuple[Any, Connection]:
        if not state:
            raise AuthorizationRejected("The provider's answer has no state; start again.")
        repo = AuthorizationRequestRepository(tx)
        row = repo.find_by_state(_digest(state))
        if row is None or row.stage != "sent":
            raise AuthorizationRejected("This sign-in is unknown to Tokendesk; start again.")
        if row.consumed_at is not None:
            raise AuthorizationRejected(
                "This sign-in was already completed; it cannot be used twice."
            )
        if row.expires_at <= self.clock():
            raise AuthorizationRejected("This sign-in took longer than ten minutes; start again.")
        if not browser_binding or not hmac.compare_digest(
            _digest(browser_binding), row.browser_binding_hash or ""
        ):
            raise AuthorizationRejected(
                "This sign-in was started in another browser; start it again here."
            )
        if session_user_id is not None and session_user_id != row.user_id:
            raise AuthorizationRejected("This sign-in was started by another user.")
        if Purpose(row.purpose) is Purpose.USER and session_user_id is None:
            # Fail closed: a user-specific token is saved only in its own user's session.
            raise AuthorizationRejected(
                "Sign in to Tokendesk as the user this token is for, then start again."
            )
        if not repo.consume(row.id, self.clock(), "sent"):
            raise AuthorizationRejected(
                "This sign-in was already completed; it cannot be used twice."
            )
        connection = ConnectionRepository(tx).get(row.connection_id)
        assert connection is not None
        return row, connection

    def _check_response(
        self,
        params: Mapping[str, str],
        connection: Connection,
        row: Any,
        metadata: Mapping[str, Any],
    ) -> None:
        if params.get("error"):
            error = scrub_text(params["error"])[:64]
            description = scrub_text(params.get("error_description", ""))[:200]
            raise AuthorizationRejected(
                f"The provider answered {error}" + (f": {description}" if description else ".")
            )
        if not params.get("code"):
            raise AuthorizationRejected("The provider's answer has no authorization code.")
        if connection.token_url != row.token_url:
            raise AuthorizationRejected(
                "The connection's token URL changed during the sign-in; start again."
            )
        _check_issuer(params.get("iss"), connection.authorization_url, metadata)

    def _finish(
        self, row: Any, connection: Connection, purpose: Purpose, *, ok: bool, message: str
    ) -> CallbackOutcome:
        with self.transaction() as tx:
            AuthorizationRequestRepository(tx).update(row.id, {"outcome": message[:500]})
            actor = Principal(
                row.user_id, _username(tx, row.user_id), Via.SESSION, frozenset(), frozenset()
            )
            self.audit.record(
                tx,
                actor,
                "consent.complete",
                target_type="connection",
                target=connection.name,
                connection_id=connection.id,
                outcome="success" if ok else "failure",
                details={"purpose": purpose.value},
            )
        return CallbackOutcome(row.id, connection.name, purpose, ok, message)


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _verifier_ref(request_id: str) -> RowRef:
    return RowRef("authorization_requests", "code_verifier_ct", request_id)


def _check_issuer(issuer: str | None, authorization_url: str, metadata: Mapping[str, Any]) -> None:
    """RFC 9207 mix-up defence: the answer must name this connection's server -- exactly the
    issuer of its metadata when it publishes one, else the authorization URL's origin -- and
    may omit ``iss`` only when the server does not announce that it sends it."""
    expected = metadata.get("issuer") if isinstance(metadata.get("issuer"), str) else None
    if issuer is None:
        if metadata.get("authorization_response_iss_parameter_supported") is True:
            raise AuthorizationRejected(
                "The authorization server says it names itself in its answers (RFC 9207), but "
                "this answer does not; the code was not used."
            )
        return
    if issuer != expected if expected is not None else not _same_origin(issuer, authorization_url):
        raise AuthorizationRejected(
            "The answer came from another authorization server (iss does not match); the code "
            "was not used."
        )


def _same_origin(issuer: str, url: str) -> bool:
    a, b = urlsplit(issuer), urlsplit(url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


def _username(tx: Tx, user_id: str) -> str:
    user = UserRepository(tx).get(user_id)
    return user.username if user else "unknown"
