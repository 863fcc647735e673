"""The end of the authorization code flow (RFC 6749 §4.1.2, RFC 9207 iss): the provider's
redirect checked (state single-use, unexpired, bound to the user and browser that started
it; the redirect URI it came to; the issuer), the code exchanged exactly once with no
transaction open, the token stored, and the outcome recorded for the browser that ran it.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind
from tokendesk.errors import AuthorizationRejected, ProviderError
from tokendesk.logs import scrub_text
from tokendesk.oauth.client import OAuthClient
from tokendesk.oauth.discovery import MetadataCache
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService, way_to
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import AuthorizationRequestRepository
from tokendesk.tokens.consent_flow import (
    OK_PREFIX,
    CallbackOutcome,
    Purpose,
    digest,
    username,
    verifier_ref,
)
from tokendesk.tokens.handout import TokenService


class ConsentCallback:
    """The callback half of the consent flow; ConsentService adds the start and links."""

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
        self.callback_url = callback_url
        self.metadata = MetadataCache(oauth.outbound)

    def outcome(self, tx: Tx, request_id: str, browser_binding: str | None) -> CallbackOutcome:
        """The recorded outcome of a finished flow, for the browser that ran it only."""
        row = AuthorizationRequestRepository(tx).get(request_id)
        if (
            row is None
            or row.outcome is None
            or not browser_binding
            or not hmac.compare_digest(digest(browser_binding), row.browser_binding_hash or "")
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
                Secret(self.keyring.decrypt(row.code_verifier_ct, verifier_ref(row.id)))
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
        row = repo.find_by_state(digest(state))
        if row is None or row.stage != "sent":
            raise AuthorizationRejected("This sign-in is unknown to Tokendesk; start again.")
        if row.consumed_at is not None:
            raise AuthorizationRejected(
                "This sign-in was already completed; it cannot be used twice."
            )
        if row.expires_at <= self.clock():
            raise AuthorizationRejected("This sign-in took longer than ten minutes; start again.")
        if not browser_binding or not hmac.compare_digest(
            digest(browser_binding), row.browser_binding_hash or ""
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
                row.user_id, username(tx, row.user_id), Via.SESSION, frozenset(), frozenset()
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
