"""How a refresh ends (RFC 6749 §6), each in one short transaction of its own: the
provider's answer stored with the lease released (kept sealed in memory and stored later
when the database does not take it), or the failure recorded -- a refused grant needs a new
consent, anything else backs off -- with the events and the audit record of either.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection, ConnectionStatus
from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.domain.principal import Principal, Via
from tokendesk.domain.schedule import backoff_s
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import (
    TokenSet,
    TokenStatus,
    rotated,
    with_fields_kept,
)
from tokendesk.errors import (
    DatabaseBusy,
    DatabaseUnavailable,
    DecryptionError,
    InvalidClient,
    InvalidGrant,
    ProviderError,
)
from tokendesk.metrics import Metrics
from tokendesk.services.audit import AuditService
from tokendesk.services.connections import ConnectionService
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import KEEP, TokenChange, TokenRecord, TokenRepository
from tokendesk.tokens.pending import PendingTokenSets
from tokendesk.tokens.refusals import answer_may_be_lost, refusal_diagnosis
from tokendesk.tokens.vault import TokenVault

log = logging.getLogger(__name__)

# How long a caller waits for an issued token set the database has not taken yet before it is
# answered "database busy" (the set stays kept and is stored later: nothing is lost).
PENDING_WAIT_S = 2.0
SYSTEM = Principal(None, "refresher", Via.SYSTEM, frozenset(), frozenset())




class RefreshRecorder:
    """The outcome half of RefreshCoordinator, which gives it these parts."""

    transaction: Transaction
    vault: TokenVault
    connections: ConnectionService
    audit: AuditService
    metrics: Metrics
    clock: Callable[[], datetime]
    owner: str
    pending: PendingTokenSets

    def _persist(
        self,
        row: TokenRecord,
        connection: Connection,
        tokens: TokenSet,
        *,
        reread: bool,
        sent: Secret | None = None,
    ) -> TokenRecord | None:
        """Store the provider's answer. When the database does not take it (busy, away),
        keep it sealed in memory, stored by a retrying thread, and raise DatabaseBusy unless
        that succeeds within PENDING_WAIT_S."""
        tokens = with_fields_kept(tokens, self._stored_fields(row))
        now = self.clock()
        values = self.vault.seal(row.id, tokens, now=now, keep_refresh_ct=row.refresh_token_ct)
        new_refresh_token = rotated(sent, tokens.refresh_token)
        if not new_refresh_token and tokens.refresh_expires_at is None:
            # The same refresh token: what the provider said of its lifetime still holds.
            values = replace(values, refresh_expires_at=KEEP)
        values = replace(values, refresh_sent_sha256=None, diagnosis=None)
        if new_refresh_token:
            values = replace(
                values, refresh_issued_at=now, refresh_rotations=row.refresh_rotations + 1
            )
        try:
            return self._store(
                row, connection, values, new_refresh_token=new_refresh_token, reread=reread
            )
        except (DatabaseBusy, DatabaseUnavailable):
            self.pending.keep(
                row.id,
                lambda: self._store(
                    row, connection, values, new_refresh_token=new_refresh_token, reread=False
                ),
            )
        self._await_pending(row.id)
        if not reread:
            return None
        with self.transaction(read_only=True) as tx:
            return TokenRepository(tx).get(row.id)

    def _await_pending(self, token_id: str) -> None:
        """Return once no token set of ``token_id`` waits to be stored; raises DatabaseBusy
        after PENDING_WAIT_S (the set stays kept)."""
        if not self.pending.wait(token_id, PENDING_WAIT_S):
            raise DatabaseBusy(
                "The provider issued a new token, which Tokendesk keeps and stores as soon "
                "as the database takes it; try again in a moment."
            )

    def _store(
        self,
        row: TokenRecord,
        connection: Connection,
        values: TokenChange,
        *,
        new_refresh_token: bool,
        reread: bool,
    ) -> TokenRecord | None:
        """One transaction: the new token set, the lease released, the connection ok, the
        audit record; returns the fresh record when ``reread``."""
        with self.transaction() as tx:
            repo = TokenRepository(tx)
            if not repo.finish_lease(row.id, self.owner, values, new_version=True):
                log.error("refresh lease of token %s was lost during the call", row.id)
                repo.update(row.id, values)
            self.connections.mark_status(tx, connection, ConnectionStatus.OK, None)
            self.connections.events.token_recovered(tx, connection, row)
            self.audit.record(
                tx,
                SYSTEM,
                "token.refresh",
                target_type="token",
                target=connection.name,
                connection_id=connection.id,
                details={"kind": row.kind, "rotated": new_refresh_token},
            )
            fresh = repo.get(row.id) if reread else None
        self.metrics.refresh("success")
        return fresh

    def _stored_fields(self, row: TokenRecord) -> dict[str, Any]:
        """The provider fields stored with ``row``; none when they cannot be decrypted."""
        try:
            return self.vault.extra(row)
        except DecryptionError:
            return {}

    def _record_failure(
        self, row: TokenRecord, connection: Connection, exc: ProviderError, *, resent: bool
    ) -> None:
        self.metrics.refresh("failure")
        self.metrics.provider_failure(exc.kind)
        provider = self.connections.catalog.get(connection.provider)
        found = refusal_diagnosis(row, connection, provider, exc, resent=resent,
                                  now=self.clock())
        values = _failure(row, exc, self.clock(), found)
        if not answer_may_be_lost(exc):
            values = replace(values, refresh_sent_sha256=None)  # the provider answered
        with self.transaction() as tx:
            if TokenRepository(tx).finish_lease(row.id, self.owner, values):
                self.connections.events.refresh_failed(
                    tx, connection, row, values, reason=exc.message,
                    refused_for_good=isinstance(exc, InvalidGrant),
                )
            if isinstance(exc, InvalidClient):
                said = values.last_error if isinstance(values.last_error, str) else exc.message
                self.connections.mark_status(
                    tx, connection, ConnectionStatus.MISCONFIGURED, said[:500]
                )
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

    def _tell_reauthentication(self, tx: Tx, row: TokenRecord, reason: str) -> None:
        connection = ConnectionRepository(tx).get_without_invitations(row.connection_id)
        if connection is not None:
            self.connections.events.token_needs_reauthentication(tx, connection, row, reason)

    def _finish(self, token_id: str, values: TokenChange) -> None:
        with self.transaction() as tx:
            TokenRepository(tx).finish_lease(token_id, self.owner, values)


def _failure(
    row: TokenRecord, exc: ProviderError, now: datetime, diagnosis: Diagnosis | None = None
) -> TokenChange:
    """What a failed refresh writes: a refused grant needs a new consent; anything else
    backs off (exponentially, honouring Retry-After) before the next try. A refusal's
    ``diagnosis`` is stored, and its reason is the last error."""
    message = (f"{exc.kind}: {diagnosis.reason}" if diagnosis else exc.message)[:500]
    found = diagnosis.to_json() if diagnosis else KEEP
    if isinstance(exc, InvalidGrant):
        return TokenChange(
            status=TokenStatus.NEEDS_REAUTHENTICATION, last_error=message, diagnosis=found
        )
    failures = row.failure_count + 1
    return TokenChange(
        diagnosis=found,
        last_error=message,
        failure_count=failures,
        next_attempt_at=now + timedelta(seconds=backoff_s(failures, exc.retry_after_s)),
    )


NO_REFRESH_TOKEN = (
    "The token expired and the provider gave no refresh token; authenticate "
    "again, and add offline_access (or the provider's refresh scope) so tokens "
    "refresh on their own."
)
