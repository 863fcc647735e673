"""Revoking tokens at the provider (RFC 7009) without ever blocking a local deletion.

Revocations are queued in the same transaction that deletes the tokens, attempted right
after it commits, and retried with back-off by the background refresher when the provider
fails (5xx, timeout). The queue row carries everything needed, sealed, because the
connection itself may already be gone.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.connection_proxy import ConnectionProxy, ProxyMode
from tokendesk.domain.connections import Connection
from tokendesk.domain.schedule import backoff_s
from tokendesk.domain.secret import Secret
from tokendesk.errors import DecryptionError, ProviderError
from tokendesk.oauth.assertion import ClientKey
from tokendesk.oauth.client import ClientSpec, OAuthClient
from tokendesk.oauth.outbound import ProxyRoute
from tokendesk.services.proxy import ProxyService, own_route
from tokendesk.storage.db import Transaction
from tokendesk.storage.ids import new_id
from tokendesk.storage.revocations import RevocationRepository
from tokendesk.storage.tokens import TokenRecord
from tokendesk.tokens.vault import TokenVault

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12
ATTEMPT_LEASE_S = 60
BATCH_SIZE = 100


class RevocationQueue:
    def __init__(
        self,
        transaction: Transaction,
        keyring: KeyRing,
        oauth: OAuthClient,
        proxy: ProxyService,
        clock: Callable[[], datetime],
    ) -> None:
        self.transaction = transaction
        self.keyring = keyring
        self.oauth = oauth
        self.proxy = proxy
        self.clock = clock
        self.vault = TokenVault(keyring)

    def enqueue(self, tx: Tx, spec: ClientSpec, tokens: Sequence[tuple[Secret, str]],
                connection: Connection | None = None) -> list[str]:
        """Queue revocations of ``tokens`` (value, type hint); returns their ids. The way to
        ``connection``'s provider (its own proxy with its password, or directly) is sealed
        with them: the connection may be gone when they are sent."""
        if not spec.revocation_url:
            return []
        proxy = _proxy_doc(connection, self.proxy.connection_password(tx, connection)
                           if connection is not None else None)
        ids = []
        for token, hint in tokens:
            revocation_id = new_id()
            payload = _seal(spec, token, hint, proxy)
            RevocationRepository(tx).insert(
                {
                    "id": revocation_id,
                    "created_at": self.clock(),
                    "next_attempt_at": self.clock(),
                    "payload_ct": self.keyring.encrypt(payload, _ref(revocation_id)),
                }
            )
            ids.append(revocation_id)
        return ids

    def enqueue_rows(self, tx: Tx, spec: ClientSpec, rows: Sequence[TokenRecord],
                     connection: Connection | None = None) -> list[str]:
        """Queue the revocation of the refresh and access token of each token row."""
        queued: list[str] = []
        for row in rows:
            queued += self.enqueue(tx, spec, self.vault.revocable(row), connection)
        return queued

    def drain(self, ids: Sequence[str] | None = None) -> int:
        """Attempt due revocations (only ``ids`` when given); returns how many succeeded."""
        now = self.clock()
        with self.transaction() as tx:
            due = RevocationRepository(tx).due(now, BATCH_SIZE, ids)
            route = self.proxy.route(tx)
        done = 0
        for row in due:
            with self.transaction() as tx:
                if not RevocationRepository(tx).claim(
                    row.id, row.attempts, now + timedelta(seconds=ATTEMPT_LEASE_S)
                ):
                    continue
            done += self._attempt(row, route)
        return done

    def _attempt(self, row: Row[Any], global_route: ProxyRoute) -> int:
        attempts = row.attempts + 1
        try:
            spec, token, hint, proxy = _unseal(self.keyring.decrypt(row.payload_ct, _ref(row.id)))
            route = global_route if proxy is None else own_route(*proxy, global_route.egress)
            self.oauth.revoke(spec, token, hint, route=route)
        except DecryptionError:
            return self._forget(row.id, "the queued revocation could not be decrypted")
        except ProviderError as exc:
            if not exc.transient or attempts >= MAX_ATTEMPTS:
                return self._forget(row.id, f"gave up: {exc.message}")
            retry_at = self.clock() + timedelta(seconds=backoff_s(attempts, exc.retry_after_s))
            with self.transaction() as tx:
                RevocationRepository(tx).failed(row.id, retry_at, exc.message)
            return 0
        with self.transaction() as tx:
            RevocationRepository(tx).delete(row.id)
        return 1

    def _forget(self, revocation_id: str, reason: str) -> int:
        log.warning("revocation %s dropped: %s", revocation_id, reason)
        with self.transaction() as tx:
            RevocationRepository(tx).delete(revocation_id)
        return 0


def _proxy_doc(connection: Connection | None, password: Secret | None) -> dict[str, Any] | None:
    """The connection's way to its provider, for a sealed payload; None: the global route."""
    if connection is None or connection.proxy.mode is ProxyMode.GLOBAL:
        return None
    proxy = connection.proxy
    return {"mode": proxy.mode.value, "url": proxy.url, "username": proxy.username,
            "password": password.reveal() if password else None, "bypass": list(proxy.bypass)}


def _proxy_of(doc: dict[str, Any] | None) -> tuple[ConnectionProxy, Secret | None] | None:
    if not doc:
        return None  # the global route, as for every payload queued before
    password = doc.get("password")
    return (ConnectionProxy(ProxyMode(doc["mode"]), doc.get("url"), str(doc.get("username", "")),
                            bool(password), tuple(doc.get("bypass", ()))),
            Secret(password) if password else None)


def _seal(spec: ClientSpec, token: Secret, hint: str,
          proxy: dict[str, Any] | None = None) -> str:
    """The payload of a queued revocation: what revoking needs of the connection's
    ``ClientSpec`` -- where to send it, how to authenticate, how to read a refusal -- named
    field by field (scopes, the provider's answers to token requests and the step after
    consent play no part), sealed with the token by the caller."""
    key = spec.client_key
    return json.dumps({
        "spec": {
            "client_id": spec.client_id,
            "client_secret": spec.client_secret.reveal() if spec.client_secret else None,
            "token_url": spec.token_url,  # a client assertion's audience
            "revocation_url": spec.revocation_url,
            "client_auth_method": spec.client_auth_method,
            # The client key travels sealed like the secret: a queued revocation authenticates.
            "client_key": {"private_key": key.private_key.reveal(),
                           "certificate": key.certificate,
                           "certificate_header": key.certificate_header} if key else None,
            "transient_error_codes": list(spec.transient_error_codes),
            "error_verdicts": [[code, words] for code, words in spec.error_verdicts],
        },
        "token": token.reveal(),
        "hint": hint,
        # The connection's own proxy (password included) or "none"; absent: the global one.
        "proxy": proxy,
    })


def _unseal(
    payload: str,
) -> tuple[ClientSpec, Secret, str, tuple[ConnectionProxy, Secret | None] | None]:
    """A payload of :func:`_seal`, or of an older version (which held more of the spec:
    what revoking does not need is ignored)."""
    doc = json.loads(payload)
    spec = doc["spec"]
    return (
        ClientSpec(
            client_id=str(spec["client_id"]),
            client_secret=Secret(spec["client_secret"]) if spec.get("client_secret") else None,
            token_url=str(spec["token_url"]),
            revocation_url=spec.get("revocation_url"),
            client_auth_method=str(spec.get("client_auth_method") or "client_secret_basic"),
            client_key=_client_key(spec.get("client_key")),
            transient_error_codes=tuple(int(c) for c in spec.get("transient_error_codes", ())),
            error_verdicts=tuple((int(c), str(w)) for c, w in spec.get("error_verdicts", ())),
        ),
        Secret(doc["token"]),
        str(doc["hint"]),
        _proxy_of(doc.get("proxy")),
    )


def _client_key(doc: dict[str, str | None] | None) -> ClientKey | None:
    """The client key of a sealed payload; None for a secret client (or an older payload)."""
    if not doc or not doc.get("private_key"):
        return None
    header = doc.get("certificate_header")
    return ClientKey(
        Secret(str(doc["private_key"])),
        doc.get("certificate"),
        "x5t" if header == "x5t" else "x5t#S256" if header == "x5t#S256" else None,
    )


def _ref(revocation_id: str) -> RowRef:
    return RowRef("pending_revocations", "payload_ct", revocation_id)
