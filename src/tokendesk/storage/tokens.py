"""Token rows, refresh leases and authorization requests.

A refresh lease is a short conditional UPDATE (``lease_until`` in the past or empty), taken
and released in transactions of their own: no transaction or pooled connection is held while
a provider is called, on SQLite or PostgreSQL, in one process or many.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, bindparam, delete, insert, or_, select, update

from tokendesk.domain.tokens import StoredToken, TokenKind, TokenStatus
from tokendesk.storage.tables import authorization_requests, connections, tokens

SHARED_OWNER = ""


def owner_key(kind: TokenKind, user_id: str | None) -> str:
    return SHARED_OWNER if kind is TokenKind.SHARED else str(user_id)


class TokenRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def find(self, connection_id: str, kind: TokenKind, user_id: str | None) -> Row[Any] | None:
        """The raw row (ciphertexts included) of one token."""
        return self.tx.execute(
            select(tokens).where(
                tokens.c.connection_id == connection_id,
                tokens.c.owner_key == owner_key(kind, user_id),
            )
        ).first()

    def get(self, token_id: str) -> Row[Any] | None:
        return self.tx.execute(select(tokens).where(tokens.c.id == token_id)).first()

    def rows_for_connection(self, connection_id: str) -> list[Row[Any]]:
        """The raw rows (ciphertexts included) of a connection's tokens."""
        return list(self.tx.execute(select(tokens).where(tokens.c.connection_id == connection_id)))

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
        rows = self.tx.execute(select(tokens).where(tokens.c.connection_id == connection_id))
        return [to_stored(row) for row in rows]

    def list_for_user(self, user_id: str) -> list[StoredToken]:
        return [
            to_stored(r) for r in self.tx.execute(select(tokens).where(tokens.c.user_id == user_id))
        ]

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(tokens).values(**values))

    def update(self, token_id: str, values: Mapping[str, Any]) -> None:
        self.tx.execute(
            update(tokens)
            .where(tokens.c.id == token_id)
            .values(**values, version=tokens.c.version + 1)
        )

    def delete(self, token_id: str) -> None:
        self.tx.execute(delete(tokens).where(tokens.c.id == token_id))

    def refresh_candidates(self, now: datetime, expiring_before: datetime) -> list[Row[Any]]:
        """Valid tokens expiring before ``expiring_before`` and not under a live lease, with
        their connection's ``token_url``: what the background refresher may soon refresh
        (``id``, ``version``, ``issued_at``, ``expires_at``, ``next_attempt_at``)."""
        return list(
            self.tx.execute(
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
                )
            )
        )

    # --- leases -----------------------------------------------------------------------

    def take_lease(
        self, token_id: str, version: int, owner: str, now: datetime, until: datetime
    ) -> Row[Any] | None:
        """Take the refresh lease of the token still at ``version``, valid and past its
        back-off, unless another holder's lease is still running; returns the row
        (ciphertexts included) as of taking it, or None."""
        params = {"token_id": token_id, "seen_version": version, "owner": owner}
        return self.tx.execute(_TAKE_LEASE, {**params, "now": now, "until": until}).first()

    def finish_lease(
        self, token_id: str, owner: str, values: Mapping[str, Any], *, new_version: bool = False
    ) -> bool:
        """Write ``values`` and release the lease, only if ``owner`` still holds it."""
        bump = {"version": tokens.c.version + 1} if new_version else {}
        result = self.tx.execute(
            update(tokens)
            .where(tokens.c.id == token_id, tokens.c.lease_owner == owner)
            .values(**values, **bump, lease_owner=None, lease_until=None)
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


def to_stored(row: Row[Any]) -> StoredToken:
    return StoredToken(
        id=row.id,
        connection_id=row.connection_id,
        kind=TokenKind(row.kind),
        user_id=row.user_id,
        status=TokenStatus(row.status),
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
