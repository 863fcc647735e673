"""The refresh protocol (RFC 6749 §6): take the lease, re-read, decide, call, persist, release.

Exactly one refresh request per token at a time: threads of one process queue on a local
lock, processes sharing the database on a lease row-update taken in a short transaction.
No transaction is open while the provider is called, and the HTTP deadline is shorter
than the lease, so a lease never expires under a live call.

A refresh costs two writing transactions: one takes the lease (a conditional UPDATE ...
RETURNING the row), decides and reads the connection, its client secret and the proxy
route; one stores the answer, releases the lease and writes the audit record. A handout
reads the row first (read-only, so a storm of waiting callers never queues for the write
lock) and re-reads it after storing; the background refresher, which already knows the
version it found due, does neither.

An answer the database does not take (busy, away) is kept sealed in memory and stored by a
retrying thread (:mod:`tokendesk.tokens.pending`); no refresh of that token starts in this
process meanwhile. A forced refresh within FORCED_REFRESH_INTERVAL_S of the token set's issue
is answered with that set, and nothing calls the provider of a misconfigured connection
unless a person asked (``heard``).

This module takes the lease, decides and calls; how a refresh ends (the answer stored, or
the failure recorded) is :mod:`tokendesk.tokens.refresh_outcome`.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import Enum

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import (
    TokenSet,
    TokenStatus,
    is_usable,
    needs_refresh,
)
from tokendesk.errors import (
    DecryptionError,
    ProviderError,
    ProviderTimeout,
    ReauthenticationRequired,
)
from tokendesk.metrics import Metrics
from tokendesk.oauth.client import ClientSpec, OAuthClient
from tokendesk.oauth.outbound import TOTAL_DEADLINE_S, ProxyRoute
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import NO_CHANGE, TokenChange, TokenRecord, TokenRepository
from tokendesk.tokens.pending import PendingTokenSets
from tokendesk.tokens.refresh_outcome import NO_REFRESH_TOKEN, RefreshRecorder
from tokendesk.tokens.refusals import fingerprint
from tokendesk.tokens.vault import TokenVault

# The lease outlives the provider call's total deadline by this much, so it never expires
# under a live call.
LEASE_MARGIN_S = 10.0
LEASE_S = TOTAL_DEADLINE_S + LEASE_MARGIN_S
LEASE_POLL_S = 0.05
# A forced refresh of a token refreshed (or consented) less than this long ago is not sent:
# the caller gets that fresh token. 30 bots forcing at once, or one bot in a loop, make one
# provider call per window.
FORCED_REFRESH_INTERVAL_S = 10.0
class Declined(Enum):
    """The lease's answer when the token's connection may not call its provider now."""

    DECLINED = "declined"


DECLINED = Declined.DECLINED


@dataclass(frozen=True, slots=True)
class _Call:
    """What one refresh call needs, read while taking the lease."""

    row: TokenRecord
    connection: Connection
    spec: ClientSpec
    refresh_token: Secret | None
    route: ProxyRoute
    # The refresh token had been sent before, in a request whose answer was never stored.
    resent: bool = False


class RefreshCoordinator(RefreshRecorder):
    """Refreshes one token at a time per token, across threads and processes."""

    def __init__(
        self,
        transaction: Transaction,
        keyring: KeyRing,
        oauth: OAuthClient,
        connections: ConnectionService,
        proxy: ProxyService,
        audit: AuditService,
        metrics: Metrics,
        clock: Callable[[], datetime],
        *,
        lease_s: float = LEASE_S,
    ) -> None:
        self.transaction = transaction
        self.lease_s = lease_s
        self.vault = TokenVault(keyring)
        self.oauth = oauth
        self.connections = connections
        self.proxy = proxy
        self.audit = audit
        self.metrics = metrics
        self.clock = clock
        self.owner = "p" + secrets.token_hex(8)
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self.pending = PendingTokenSets()

    def refresh(
        self,
        token_id: str,
        *,
        seen_version: int,
        force: bool = False,
        heard: bool = False,
    ) -> TokenRecord | None:
        """Bring the token to a fresh state and return its record (None once deleted).

        Returns at once when someone else refreshed it since ``seen_version``, and without a
        call when ``force`` comes within FORCED_REFRESH_INTERVAL_S of the last refresh or the
        connection is misconfigured (unless ``heard``: a person asked). Raises ProviderError
        when the provider call fails (the failure is recorded first).
        """
        with self._local_lock(token_id):
            self._await_pending(token_id)  # never send a refresh token already rotated
            deadline = time.monotonic() + self.lease_s + 5
            while True:
                with self.transaction(read_only=True) as tx:
                    row = TokenRepository(tx).get(token_id)
                if row is None or row.version != seen_version or not self._due(row, force):
                    return row
                call = self._lease(
                    token_id, seen_version, early_s=0.0, force=force, heard=heard
                )
                if call is DECLINED:
                    return row  # its connection is misconfigured: nobody calls the provider
                if call is not None:
                    break
                if time.monotonic() > deadline:
                    raise ProviderTimeout(
                        "Another Tokendesk process is refreshing this token and "
                        "has not finished; try again."
                    )
                time.sleep(LEASE_POLL_S)
            return self._call(call, reread=True)

    def refresh_scheduled(
        self,
        token_id: str,
        version: int,
        *,
        early_s: float = 0.0,
        slot: AbstractContextManager[None] | None = None,
    ) -> bool:
        """Refresh a token the background refresher found due ``early_s`` seconds ahead of
        its refresh moment, unless that is no longer so; nothing waits for another holder.

        Takes the lease, re-reads and decides in one transaction; holds ``slot`` (the
        per-host cap) only while calling the provider. Returns True when the provider was
        called and the answer stored, False when there was nothing to do (the token changed
        since ``version``, another holder has it, it is backing off, or not due). Raises
        ProviderError when the call failed (recorded first).
        """
        if self.pending.has(token_id):
            return False  # its new token set is on its way to the database
        call = self._lease(token_id, version, early_s=early_s, force=False)
        if call is None or call is DECLINED:
            return False
        self._call(call, reread=False, slot=slot)
        return True

    def _due(self, row: TokenRecord, force: bool) -> bool:
        if row.status is not TokenStatus.VALID:
            return False
        if row.next_attempt_at is not None and self.clock() < row.next_attempt_at:
            return False  # backing off after a failure: no retry storm
        force = force and not self._just_refreshed(row)
        return force or needs_refresh(self.clock(), row.issued_at, row.expires_at)[0]

    def _just_refreshed(self, row: TokenRecord) -> bool:
        """True within FORCED_REFRESH_INTERVAL_S of the token set's issue."""
        window = timedelta(seconds=FORCED_REFRESH_INTERVAL_S)
        return row.issued_at is not None and self.clock() < row.issued_at + window

    def _lease(
        self, token_id: str, version: int, *, early_s: float, force: bool, heard: bool = False
    ) -> _Call | Declined | None:
        """In one transaction: take the lease of the token at ``version`` (still valid, not
        backing off), decide, and read what the call needs. None when the lease is not to be
        had, the token is not due ``early_s`` seconds from now (a forced refresh right after
        another is not); DECLINED when its connection is misconfigured and nobody ``heard``
        asked; raises DecryptionError (recorded on the token) when a stored secret cannot be
        opened."""
        now = self.clock()
        with self.transaction() as tx:
            repo = TokenRepository(tx)
            row = repo.take_lease(
                token_id, version, self.owner, now, now + timedelta(seconds=self.lease_s)
            )
            if row is None:
                return None
            ahead = now + timedelta(seconds=early_s)
            force = force and not self._just_refreshed(row)
            if not force and not needs_refresh(ahead, row.issued_at, row.expires_at)[0]:
                repo.finish_lease(token_id, self.owner, NO_CHANGE)
                return None
            try:
                call = self._prepare(tx, row)
                if call.connection.misconfigured and not heard:
                    # invalid_client: every call would be refused alike until an administrator
                    # changes the client, or asks himself (test, refresh now).
                    repo.finish_lease(token_id, self.owner, NO_CHANGE)
                    return DECLINED
                sent = fingerprint(call.refresh_token)
                repo.note_refresh_sent(token_id, self.owner, sent)
                return replace(call, resent=sent is not None and sent == row.refresh_sent_sha256)
            except DecryptionError as exc:
                repo.finish_lease(
                    token_id,
                    self.owner,
                    TokenChange(status=TokenStatus.CORRUPTED, last_error=exc.message),
                )
                self._tell_reauthentication(tx, row, exc.message)
                failure = exc
        raise failure  # once the token's corrupted state is committed

    def _prepare(self, tx: Tx, row: TokenRecord) -> _Call:
        connection = ConnectionRepository(tx).get_without_invitations(row.connection_id)
        assert connection is not None  # tokens are deleted with their connection
        return _Call(
            row,
            connection,
            self.connections.client_spec(tx, connection),
            self.vault.refresh_token(row),
            self.proxy.route_for(tx, connection),
        )

    def _call(
        self, call: _Call, *, reread: bool, slot: AbstractContextManager[None] | None = None
    ) -> TokenRecord | None:
        """Call the provider holding the lease (no transaction open) and ``slot``, then store
        the answer; returns the fresh record when ``reread``."""
        row, connection = call.row, call.connection
        if connection.grant_type is not GrantType.CLIENT_CREDENTIALS and call.refresh_token is None:
            if is_usable(self.clock(), row.expires_at):
                # Nothing to refresh with: serve it until it expires.
                self._finish(row.id, NO_CHANGE)
                return row
            reauthenticate = TokenStatus.NEEDS_REAUTHENTICATION
            with self.transaction() as tx:
                change = TokenChange(status=reauthenticate, last_error=NO_REFRESH_TOKEN)
                if TokenRepository(tx).finish_lease(row.id, self.owner, change):
                    events = self.connections.events
                    events.token_needs_reauthentication(tx, connection, row, NO_REFRESH_TOKEN)
            raise ReauthenticationRequired(NO_REFRESH_TOKEN)
        try:
            with slot or nullcontext():
                tokens = self._request(call)
        except ProviderError as exc:
            self._record_failure(row, connection, exc, resent=call.resent)
            raise
        return self._persist(row, connection, tokens, reread=reread, sent=call.refresh_token)

    def _request(self, call: _Call) -> TokenSet:
        """The token request: client credentials again, or the refresh token (RFC 6749 §6)."""
        if call.connection.grant_type is GrantType.CLIENT_CREDENTIALS:
            return self.oauth.client_credentials(call.spec, route=call.route)
        assert call.refresh_token is not None
        return self.oauth.refresh(call.spec, call.refresh_token, route=call.route)

    @contextmanager
    def _local_lock(self, token_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(token_id, threading.Lock())
        with lock:
            yield
