"""Token rows, refresh leases and authorization requests.

A refresh lease is a short conditional UPDATE (``lease_until`` in the past or empty), taken
and released in transactions of their own: no transaction or pooled connection is held while
a provider is called, on SQLite or PostgreSQL, in one process or many.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from enum import Enum
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, bindparam, delete, insert, or_, select, update

from tokendesk.domain.connections import ConnectionStatus
from tokendesk.domain.diagnosis import Diagnosis
from tokendesk.domain.tokens import ExpirySource, StoredToken, TokenKind, TokenStatus
from tokendesk.storage.tables import authorization_requests, connections, tokens

SHARED_OWNER = ""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One stored token row as the repository returns it (ciphertexts included, never
    decrypted here; they stay out of ``repr``)."""

    id: str
    connection_id: str
    owner_key: str
    user_id: str | None
    kind: TokenKind
    access_token_ct: str | None = field(repr=False)
    refresh_token_ct: str | None = field(repr=False)
    token_type: str
    scope: str
    extra_ct: str | None = field(repr=False)
    issued_at: datetime | None
    expires_at: datetime | None
    status: TokenStatus
    last_refresh_at: datetime | None
    last_error: str | None
    failure_count: int
    next_attempt_at: datetime | None
    lease_owner: str | None
    lease_until: datetime | None
    version: int
    created_at: datetime
    updated_at: datetime
    expiry_source: str | None = None
    consented_at: datetime | None = None
    refresh_expires_at: datetime | None = None
    refresh_issued_at: datetime | None = None
    refresh_rotations: int = 0
    refresh_sent_sha256: str | None = field(default=None, repr=False)
    diagnosis: str | None = None

    @classmethod
    def of(cls, row: Row[Any]) -> TokenRecord:
        """The record of a full ``tokens`` row."""
        values = dict(row._mapping)
        values["kind"] = TokenKind(values["kind"])
        values["status"] = TokenStatus(values["status"])
        return cls(**values)


class Keep(Enum):
    """Marks a field of a TokenChange that is not written."""

    KEEP = "keep"


KEEP = Keep.KEEP


@dataclass(frozen=True, slots=True)
class TokenChange:
    """Typed values to write to a token row; a field left at KEEP keeps its stored value."""

    status: TokenStatus | Keep = KEEP
    last_error: str | Keep | None = KEEP
    failure_count: int | Keep = KEEP
    next_attempt_at: datetime | Keep | None = KEEP
    access_token_ct: str | Keep = field(default=KEEP, repr=False)
    refresh_token_ct: str | Keep | None = field(default=KEEP, repr=False)
    extra_ct: str | Keep | None = field(default=KEEP, repr=False)
    token_type: str | Keep = KEEP
    scope: str | Keep = KEEP
    issued_at: datetime | Keep | None = KEEP
    expires_at: datetime | Keep | None = KEEP
    last_refresh_at: datetime | Keep | None = KEEP
    expiry_source: str | Keep | None = KEEP
    consented_at: datetime | Keep | None = KEEP
    refresh_expires_at: datetime | Keep | None = KEEP
    refresh_issued_at: datetime | Keep | None = KEEP
    refresh_rotations: int | Keep = KEEP
    refresh_sent_sha256: str | Keep | None = field(default=KEEP, repr=False)
    diagnosis: str | Keep | None = KEEP

    def columns(self) -> dict[str, Any]:
        """The column values to write (statuses as their stored text)."""
        found: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not KEEP:
                found[f.name] = value.value if isinstance(value, TokenStatus) else value
        return found


NO_CHANGE = TokenChange()


@dataclass(frozen=True, slots=True)
class RefreshCandidate:
    """A token the background refresher may soon refresh, with its connection's token URL."""

    id: str
    version: int
    issued_at: datetime | None
    expires_at: datetime | None
    next_attempt_at: datetime | None
    token_url: str


def _record(row: Row[Any] | None) -> TokenRecord | None:
    return None if row is None else TokenRecord.of(row)


def owner_key(kind: TokenKind, user_id: str | None) -> str:
    return SHARED_OWNER if kind is TokenKind.SHARED else str(user_id)


class TokenRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def find(
        self, connection_id: str, kind: TokenKind, user_id: str | None
    ) -> TokenRecord | None:
        """The record (ciphertexts included) of one token."""
        return _record(
            self.tx.execute(
                select(tokens).where(
                    tokens.c.connection_id == connection_id,
                    tokens.c.owner_key == owner_key(kind, user_id),
                )
            ).first()
        )

    def get(self, token_id: str) -> TokenRecord | None:
        return _record(self.tx.execute(select(tokens).where(tokens.c.id == token_id)).first())

    def rows_for_connection(self, connection_id: str) -> list[TokenRecord]:
        """The records (ciphertexts included) of a connection's tokens."""
        found = self.tx.execute(select(tokens).where(tokens.c.connection_id == connection_id))
        return [TokenRecord.of(row) for row in found]

    def retire_for_connection(self, connection_id: str, *, drop: bool, reason: str) -> int:
        """Delete (``drop``) or mark as needing re-authentication every token of a
        connection, forgetting its access and refresh token; returns how many."""
        where = tokens.c.connection_id == connection_id
        if drop:
            return int(self.tx.execute(delete(tokens).where(where)).rowcount)
        return int(
            self.tx.execute(
                update(tokens)
                .where(where)
                .values(
                    status=TokenStatus.NEEDS_REAUTHENTICATION.value,
                    last_error=reason,
                    # Neither token may go anywhere again, not even to a revocation URL.
                    access_token_ct=None,
                    refresh_token_ct=None,
                    version=tokens.c.version + 1,
                )
            ).rowcount
        )

    def list_for_connection(self, connection_id: str) -> list[StoredToken]:
        return [to_stored(record) for record in self.rows_for_connection(connection_id)]

    def list_for_user(self, user_id: str) -> list[StoredToken]:
        found = self.tx.execute(select(tokens).where(tokens.c.user_id == user_id))
        return [to_stored(TokenRecord.of(row)) for row in found]

    def list_all(self) -> list[StoredToken]:
        """What may be shown of every token (the attention list filters by who asks)."""
        found = self.tx.execute(select(tokens).order_by(tokens.c.connection_id, tokens.c.id))
        return [to_stored(TokenRecord.of(row)) for row in found]

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(tokens).values(**values))

    def update(self, token_id: str, values: TokenChange | Mapping[str, Any]) -> None:
        columns = values.columns() if isinstance(values, TokenChange) else values
        self.tx.execute(
            update(tokens)
            .where(tokens.c.id == token_id)
            .values(**columns, version=tokens.c.version + 1)
        )

    def delete(self, token_id: str) -> None:
        self.tx.execute(delete(tokens).where(tokens.c.id == token_id))

    def refresh_candidates(
        self, now: datetime, expiring_before: datetime
    ) -> list[RefreshCandidate]:
        """Valid tokens expiring before ``expiring_before`` and not under a live lease, of a
        connection not misconfigured (its provider refused the client: nothing calls it until
        the client changes), with their connection's ``token_url``: what the background
        refresher may soon refresh."""
        found = self.tx.execute(
            select(
                tokens.c.id,
                tokens.c.version,
                tokens.c.issued_at,
                tokens.c.expires_at,
                tokens.c.next_attempt_at,
                connections.c.token_url,
            )
            .join(connections, connections.c.id == tokens.c.connection_id)
            .where(
                tokens.c.status == TokenStatus.VALID.value,
                tokens.c.expires_at.is_not(None),
                tokens.c.expires_at < expiring_before,
                or_(tokens.c.lease_until.is_(None), tokens.c.lease_until < now),
                connections.c.status != ConnectionStatus.MISCONFIGURED.value,
            )
        )
        return [RefreshCandidate(*row) for row in found]

    # --- leases -----------------------------------------------------------------------

    def take_lease(
        self, token_id: str, version: int, owner: str, now: datetime, until: datetime
    ) -> TokenRecord | None:
        """Take the refresh lease of the token still at ``version``, valid and past its
        back-off, unless another holder's lease is still running; returns the record
        (ciphertexts included) as of taking it, or None."""
        params = {"token_id": token_id, "seen_version": version, "owner": owner}
        return _record(
            self.tx.execute(_TAKE_LEASE, {**params, "now": now, "until": until}).first()
        )

    def note_refresh_sent(self, token_id: str, owner: str, fingerprint: str | None) -> None:
        """Record, under ``owner``'s lease, the fingerprint of the refresh token about to be
        sent (cleared when its answer is stored): sent again later, it was sent twice."""
        self.tx.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.lease_owner == owner)
            .values(refresh_sent_sha256=fingerprint)
        )

    def finish_lease(
        self, token_id: str, owner: str, change: TokenChange, *, new_version: bool = False
    ) -> bool:
        """Write ``change`` and release the lease, only if ``owner`` still holds it."""
        bump = {"version": tokens.c.version + 1} if new_version else {}
        result = self.tx.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.lease_owner == owner)
            .values(**change.columns(), **bump, lease_owner=None, lease_until=None)
        )
        return result.rowcount == 1


# Built once: the background refresher takes a lease for every refresh.
_TAKE_LEASE = (
    update(tokens)
    .where(
        tokens.c.id == bindparam("token_id"),
        tokens.c.version == bindparam("seen_version"),
        tokens.c.status == TokenStatus.VALID.value,
        or_(tokens.c.next_attempt_at.is_(None), tokens.c.next_attempt_at <= bindparam("now")),
        or_(tokens.c.lease_until.is_(None), tokens.c.lease_until < bindparam("now")),
    )
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
    .returning(*tokens.c)
)


def to_stored(row: TokenRecord) -> StoredToken:
    """What may be shown of a token: its state, never its ciphertexts."""
    return StoredToken(
        id=row.id,
        connection_id=row.connection_id,
        kind=row.kind,
        user_id=row.user_id,
        status=row.status,
        token_type=row.token_type,
        scope=row.scope,
        issued_at=row.issued_at,
        expires_at=row.expires_at,
        last_refresh_at=row.last_refresh_at,
        last_error=row.last_error,
        has_refresh_token=row.refresh_token_ct is not None,
        failure_count=row.failure_count,
        next_attempt_at=row.next_attempt_at,
        version=row.version,
        created_at=row.created_at,
        updated_at=row.updated_at,
        expiry_source=ExpirySource(row.expiry_source) if row.expiry_source else None,
        consented_at=row.consented_at,
        refresh_expires_at=row.refresh_expires_at,
        diagnosis=Diagnosis.from_json(row.diagnosis),
    )


class AuthorizationRequestRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(authorization_requests).values(**values))

    def find_by_state(self, state_hash: str) -> Row[Any] | None:
        return self.tx.execute(
            select(authorization_requests).where(authorization_requests.c.state_hash == state_hash)
        ).first()

    def get(self, request_id: str) -> Row[Any] | None:
        return self.tx.execute(
            select(authorization_requests).where(authorization_requests.c.id == request_id)
        ).first()

    def open_link(self, request_id: str) -> bool:
        """Turn a one-time link into a sent request, once."""
        result = self.tx.execute(
            update(authorization_requests)
            .where(
                authorization_requests.c.id == request_id, authorization_requests.c.stage == "link"
            )
            .values(stage="opening")
        )
        return result.rowcount == 1

    def update(self, request_id: str, values: Mapping[str, Any]) -> None:
        self.tx.execute(
            update(authorization_requests)
            .where(authorization_requests.c.id == request_id)
            .values(**values)
        )

    def consume(self, request_id: str, now: datetime, stage: str) -> bool:
        """Mark a request used, once: False when it was already consumed (a replay)."""
        result = self.tx.execute(
            update(authorization_requests)
            .where(
                authorization_requests.c.id == request_id,
                authorization_requests.c.stage == stage,
                authorization_requests.c.consumed_at.is_(None),
            )
            .values(consumed_at=now)
        )
        return result.rowcount == 1

    def purge_expired(self, before: datetime) -> None:
        self.tx.execute(
            delete(authorization_requests).where(authorization_requests.c.expires_at < before)
        )
