"""The refresh protocol (RFC 6749 §6): take the lease, re-read, decide, call, persist, release.

Exactly one refresh request per token at a time: threads of one process queue on a local
lock, processes sharing the database on a lease row-update taken in a short transaction.
No transaction is open while the provider is called, and the HTTP deadline is shorter
than the lease, so a lease never expires under a live call.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import GrantType
from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.tokens import TokenSet, TokenStatus, is_usable, needs_refresh
from tokendesk.errors import (
    DecryptionError,
    InvalidClient,
    InvalidGrant,
    ProviderError,
    ProviderTimeout,
    ReauthenticationRequired,
)
from tokendesk.metrics import Metrics
from tokendesk.oauth.client import OAuthClient
from tokendesk.oauth.outbound import TOTAL_DEADLINE_S
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService
from tokendesk.services.vault import TokenVault
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.tokens import TokenRepository

log = logging.getLogger(__name__)

# The lease outlives the provider call's total deadline by this much, so it never expires
# under a live call.
LEASE_MARGIN_S = 10.0
LEASE_S = TOTAL_DEADLINE_S + LEASE_MARGIN_S
# Test-only fault point: the process kills itself after the provider answered a refresh and
# before the answer is stored (the crash window the refresh protocol must survive).
CRASH_AFTER_REFRESH_RESPONSE = "after_refresh_response"
LEASE_POLL_S = 0.05
BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 900.0
SYSTEM = Principal(None, "refresher", Via.SYSTEM, frozenset(), frozenset())

class Transaction(Protocol):
    """Opens one database transaction; ``read_only`` ones never wait for writers."""

    def __call__(self, *, read_only: bool = False) -> AbstractContextManager[Tx]: ...


class RefreshCoordinator:
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
        fault_point: str | None = None,
    ) -> None:
        self.transaction = transaction
        self.lease_s = lease_s
        self.fault_point = fault_point
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

    def refresh(self, token_id: str, *, seen_version: int, force: bool = False) -> Any:
        """Bring the token to a fresh state and return its row.

        Returns at once when someone else refreshed it since ``seen_version``. Raises
        ProviderError when the provider call fails (the failure is recorded first).
        """
        with self._local_lock(token_id):
            deadline = time.monotonic() + self.lease_s + 5
            while True:
                with self.transaction(read_only=True) as tx:
                    row = TokenRepository(tx).get(token_id)
                if row is None or row.version != seen_version or not self._due(row, force):
                    return row
                now = self.clock()
                with self.transaction() as tx:
                    if TokenRepository(tx).take_lease(
                        token_id,
                        seen_version,
                        self.owner,
                        now,
                        now + timedelta(seconds=self.lease_s),
                    ):
                        break
                if time.monotonic() > deadline:
                    raise ProviderTimeout(
                        "Another Tokendesk process is refreshing this token and "
                        "has not finished; try again."
                    )
                time.sleep(LEASE_POLL_S)
            return self._refresh_holding_lease(token_id, seen_version)

    def _due(self, row: Any, force: bool) -> bool:
        if row.status != TokenStatus.VALID.value:
            return False
        if row.next_attempt_at is not None and self.clock() < row.next_attempt_at:
            return False  # backing off after a failure: no retry storm
        return force or needs_refresh(self.clock(), row.issued_at, row.expires_at)[0]

    def _refresh_holding_lease(self, token_id: str, seen_version: int) -> Any:
        with self.transaction() as tx:
            row = TokenRepository(tx).get(token_id)
            if row is None or row.version != seen_version:
                TokenRepository(tx).finish_lease(token_id, self.owner, {})
                return row
            connection = ConnectionRepository(tx).get(row.connection_id)
            assert connection is not None  # tokens are deleted with their connection
            try:
                spec = self.connections.client_spec(tx, connection)
                refresh_token = self.vault.refresh_token(row)
            except DecryptionError as exc:
                self._finish(
                    token_id, {"status": TokenStatus.CORRUPTED.value, "last_error": exc.message}
                )
                raise
            route = self.proxy.route(tx)
        try:
            if connection.grant_type is GrantType.CLIENT_CREDENTIALS:
                tokens = self.oauth.client_credentials(spec, route=route)
            elif refresh_token is not None:
                tokens = self.oauth.refresh(spec, refresh_token, route=route)
            elif is_usable(self.clock(), row.expires_at):
                self._finish(token_id, {})  # nothing to refresh with; serve it until it expires
                return row
            else:
                self._finish(
                    token_id,
                    {
                        "status": TokenStatus.NEEDS_REAUTHENTICATION.value,
                        "last_error": NO_REFRESH_TOKEN,
                    },
                )
                raise ReauthenticationRequired(NO_REFRESH_TOKEN)
        except ProviderError as exc:
            self._record_failure(row, connection, exc)
            raise
        if self.fault_point == CRASH_AFTER_REFRESH_RESPONSE:
            os.kill(os.getpid(), signal.SIGKILL)
        return self._persist(row, connection, tokens)

    def _persist(self, row: Any, connection: Any, tokens: TokenSet) -> Any:
        now = self.clock()
        values = self.vault.seal(row.id, tokens, now=now, keep_refresh_ct=row.refresh_token_ct)
        with self.transaction() as tx:
            repo = TokenRepository(tx)
            if not repo.finish_lease(row.id, self.owner, values, new_version=True):
                log.error("refresh lease of token %s was lost during the call", row.id)
                repo.update(row.id, values)
            self.connections.mark_status(tx, connection, "ok", None)
            self.audit.record(
                tx,
                SYSTEM,
                "token.refresh",
                target_type="token",
                target=connection.name,
                connection_id=connection.id,
                details={"kind": row.kind, "rotated": tokens.refresh_token is not None},
            )
            fresh = repo.get(row.id)
        self.metrics.refresh("success")
        return fresh

    def _record_failure(self, row: Any, connection: Any, exc: ProviderError) -> None:
        self.metrics.refresh("failure")
        self.metrics.provider_failure(exc.kind)
        values: dict[str, Any] = {"last_error": exc.message[:500]}
        if isinstance(exc, InvalidGrant):
            values["status"] = TokenStatus.NEEDS_REAUTHENTICATION.value
        else:
            failures = row.failure_count + 1
            values["failure_count"] = failures
            values["next_attempt_at"] = self.clock() + timedelta(
                seconds=backoff_s(failures, exc.retry_after_s)
            )
        with self.transaction() as tx:
            TokenRepository(tx).finish_lease(row.id, self.owner, values)
            if isinstance(exc, InvalidClient):
                self.connections.mark_status(tx, connection, "misconfigured", exc.message[:500])
            self.audit.record(
                tx,
                SYSTEM,
                "token.refresh",
                target_type="token",
                target=connection.name,
                connection_id=connection.id,
                outcome="failure",
                details={"kind": row.kind, "cause": exc.kind},
            )

    def _finish(self, token_id: str, values: dict[str, Any]) -> None:
        with self.transaction() as tx:
            TokenRepository(tx).finish_lease(token_id, self.owner, values)

    @contextmanager
    def _local_lock(self, token_id: str) -> Iterator[None]:
        with self._locks_guard:
            lock = self._locks.setdefault(token_id, threading.Lock())
        with lock:
            yield


NO_REFRESH_TOKEN = (
    "The token expired and the provider gave no refresh token; authenticate "
    "again, and add offline_access (or the provider's refresh scope) so tokens "
    "refresh on their own."
)


def backoff_s(failures: int, retry_after_s: float | None) -> float:
    """Exponential back-off after ``failures`` failed attempts, honouring Retry-After."""
    delay: float = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** min(max(0, failures - 1), 20))
    return max(delay, retry_after_s or 0.0)
