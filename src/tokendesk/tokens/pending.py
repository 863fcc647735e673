"""Token sets the provider issued that the database has not taken yet.

Once a provider has answered a refresh, the refresh token it rotated is used up: the answer
is the only valid grant left. When the transaction that stores it fails because the database
is busy or away, the answer is kept here -- sealed (already encrypted, bound to its row), in
memory -- and a thread of its own stores it again and again until the database takes it or
the process ends. Meanwhile no refresh of that token is started in this process: whoever
asks waits for the pending set (docs/security.md says what a crash at each point loses).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from tokendesk.errors import DatabaseBusy, DatabaseUnavailable

log = logging.getLogger(__name__)

# Pause between attempts to store a pending token set (each attempt also waits for locks as
# long as the database lets it: SQLite's busy timeout, PostgreSQL's lock_timeout).
RETRY_FIRST_S = 0.1
RETRY_MAX_S = 2.0
# Attempts logged: the first, then one in this many (a long outage must not flood the log).
LOG_EVERY = 20


class _Pending:
    def __init__(self) -> None:
        self.stored = threading.Event()


class PendingTokenSets:
    """Keeps each token's issued-but-unstored token set and stores it in the background."""

    def __init__(self) -> None:
        self._pending: dict[str, _Pending] = {}
        self._guard = threading.Lock()

    def keep(self, token_id: str, store: Callable[[], object]) -> None:
        """Store ``store`` (a closure over the sealed values) from a thread of its own,
        retrying while the database is busy or away, until it succeeds."""
        pending = _Pending()
        with self._guard:
            self._pending[token_id] = pending
        thread = threading.Thread(
            target=self._retry, args=(token_id, pending, store),
            name=f"pending-token-{token_id[:8]}", daemon=True,
        )
        thread.start()

    def has(self, token_id: str) -> bool:
        """True while a token set of ``token_id`` waits to be stored."""
        with self._guard:
            return token_id in self._pending

    def wait(self, token_id: str, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for ``token_id``'s pending set to be stored; True when
        nothing (any more) waits, False when it is still pending."""
        with self._guard:
            pending = self._pending.get(token_id)
        return pending is None or pending.stored.wait(timeout_s)

    def _retry(self, token_id: str, pending: _Pending, store: Callable[[], object]) -> None:
        pause_s, attempts = RETRY_FIRST_S, 0
        while True:
            attempts += 1
            try:
                store()
                break
            except Exception as exc:
                # Giving up would lose the only valid grant, and a later refresh would send
                # the used refresh token: keep trying, whatever the failure.
                if attempts == 1 or attempts % LOG_EVERY == 0:
                    code = exc.code if isinstance(exc, DatabaseBusy | DatabaseUnavailable) else (
                        type(exc).__name__)
                    log.warning(
                        "token %s: the issued token set is not stored yet (%s, attempt %d); "
                        "kept in memory, retrying", token_id, code, attempts,
                    )
            threading.Event().wait(pause_s)
            pause_s = min(pause_s * 2, RETRY_MAX_S)
        with self._guard:
            self._pending.pop(token_id, None)
        pending.stored.set()
        if attempts > 1:
            log.info("token %s: the pending token set is stored (attempt %d)", token_id, attempts)
