"""The token hot path: a bot asking again for a token it got a moment ago.

Answered from memory after one database read -- the cache epoch, which database triggers
bump on any change to keys, users, roles, invitations, connections or tokens -- so a revoked
key, a disabled user, a removed invitation or a re-authenticated connection takes effect on
the very next request, on every replica. Concurrent requests share that read
(:class:`~tokendesk.storage.epoch.SharedEpochReads`) without ever seeing an older one.
Anything else goes the full way through :class:`~tokendesk.tokens.handout.TokenService`,
and its result is remembered.

Everything only the cache needs stays in this module: the audit row restamped for a handout
given again, and the answer the web layer rendered of it, both kept in the cache entry
(:class:`CachedHandout`) and dropped with it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tokendesk.domain.names import name_key
from tokendesk.domain.principal import Principal
from tokendesk.domain.tokens import Handout, TokenKind, refresh_due_at
from tokendesk.services.auth import AuthService
from tokendesk.storage.db import Transaction
from tokendesk.storage.epoch import SharedEpochReads, read_epoch
from tokendesk.tokens.handout import TokenService

MAX_ENTRIES = 100_000
HandoutKey = tuple[str | None, str, TokenKind]


@dataclass(slots=True)
class CachedHandout:
    """A remembered handout, valid for one epoch, and what was made of it once."""

    handout: Handout
    refresh_at: datetime | None  # computed once, not on every request
    # The audit row of the first handout from memory, restamped for the next ones.
    audit_row: dict[str, Any] | None = field(default=None, repr=False)
    body: bytes | None = field(default=None, repr=False)  # carries the token: never shown

    def rendered(self, render: Callable[[Handout], bytes]) -> bytes:
        """``render(handout)``, computed for the first request and kept with the entry."""
        if self.body is None:
            self.body = render(self.handout)
        return self.body


class HandoutCache:
    """Principals by API key, and handouts by (user, connection, kind), valid for one epoch."""

    def __init__(
        self,
        transaction: Transaction,
        auth: AuthService,
        tokens: TokenService,
        clock: Callable[[], datetime],
        epochs: SharedEpochReads,
    ) -> None:
        self.transaction = transaction
        self.epochs = epochs
        self.auth = auth
        self.tokens = tokens
        self.clock = clock
        self._epoch = -1
        self._principals: dict[str, Principal] = {}
        self._handouts: dict[HandoutKey, CachedHandout] = {}
        self._lock = threading.Lock()

    async def cached(self, api_key: str, name: str, kind: TokenKind) -> CachedHandout | None:
        """The remembered handout, audited and counted, when nothing changed since; None
        otherwise. One (shared) database read, never a provider call, so it runs on the
        event loop."""
        found = await self.cached_with_principal(api_key, name, kind)
        return found[1] if found is not None else None

    async def cached_with_principal(
        self, api_key: str, name: str, kind: TokenKind
    ) -> tuple[Principal, CachedHandout] | None:
        """:meth:`cached`, with the principal the key belongs to (the API proxy audits its
        calls as his)."""
        self._adopt(await self.epochs.read())
        principal = self._principals.get(_digest(api_key))
        if principal is None:
            return None
        entry = self._handouts.get((principal.user_id, name_key(name), kind))
        if entry is None:
            return None
        now = self.clock()
        if entry.refresh_at is not None and now >= entry.refresh_at:
            return None  # due for refresh: the full path refreshes it, once
        if principal.key_id is not None:
            self.auth.note_key_use(principal.key_id, at=now)  # one clock read per request
        self._record(principal, entry, now)
        return principal, entry

    def _record(self, principal: Principal, entry: CachedHandout, now: datetime) -> None:
        """Audit and count one handout from memory. Entries are by user: every key of the
        user audits as the same actor, so the first row is restamped, not built again."""
        if entry.audit_row is None:
            entry.audit_row = self.tokens.record_handout(principal, entry.handout)
            return
        self.tokens.record_handout_again(entry.audit_row, entry.handout, now)

    @property
    def epoch(self) -> int:
        """The cache epoch of the latest read (-1 before any): a request that has just read
        it (:meth:`cached_with_principal`, :meth:`handout`, :meth:`read_epoch`) may rely on
        it, and so may what it remembers in its own caches (the API proxy's targets)."""
        return self._epoch

    async def read_epoch(self) -> int:
        """Read the epoch now (shared with concurrent reads), forgetting what it outdates."""
        return self._adopt(await self.epochs.read())

    def handout(self, api_key: str, name: str, kind: TokenKind) -> Handout:
        """The full way: authenticate, hand out (refreshing if due), remember. Raises what
        AuthService and TokenService raise; may call a provider, so not on the event loop."""
        epoch = self._current_epoch()
        with self.transaction(read_only=True) as tx:
            principal = self.auth.authenticate_api_key(tx, api_key)
        handout = self.tokens.handout(principal, name, kind)
        self._remember(epoch, api_key, principal, handout)
        return handout

    def _current_epoch(self) -> int:
        with self.transaction(read_only=True) as tx:
            return self._adopt(read_epoch(tx))

    def _adopt(self, epoch: int) -> int:
        """Forget everything cached when the epoch moved; returns it."""
        if epoch != self._epoch:
            with self._lock:
                if epoch != self._epoch:
                    self._principals.clear()
                    self._handouts.clear()
                    self._epoch = epoch
        return epoch

    def _remember(self, epoch: int, api_key: str, principal: Principal, handout: Handout) -> None:
        with self._lock:
            # Something changed while the full path ran: what it found may be stale already.
            if epoch != self._epoch or len(self._handouts) >= MAX_ENTRIES:
                return
            self._principals[_digest(api_key)] = principal
            key = (principal.user_id, name_key(handout.connection), handout.kind)
            self._handouts[key] = CachedHandout(
                handout, refresh_due_at(handout.issued_at, handout.expires_at)
            )


def _digest(api_key: str) -> str:
    return hashlib.sha256(api_key.encode()).hexdigest()
