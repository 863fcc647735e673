"""The console's sign-in limiter: failed sign-ins counted in the database, so that every
replica sees the same counts (rules in tokendesk.domain.sign_in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tokendesk.domain.sign_in import LOGIN_WINDOW_S, Scope, keys, wait_s
from tokendesk.storage.db import Transaction
from tokendesk.storage.sign_in import SignInFailureRepository

# Expired counts are deleted now and then, on a failure, not on every one.
PRUNE_EVERY_FAILURES = 100


@dataclass(frozen=True, slots=True)
class Throttled:
    retry_after_s: int


class SignInLimits:
    """Each method opens its own short transaction (the sign-in's own rolls back on failure)."""

    def __init__(self, transaction: Transaction, clock: Callable[[], datetime]) -> None:
        self.transaction = transaction
        self._clock = clock  # the one thing tests replace
        self._failures_here = 0

    def check(self, username: str, address: str) -> Throttled | None:
        """None when a sign-in of ``username`` from ``address`` may be tried now, else how
        long to wait."""
        now, named = self._clock(), keys(username, address)
        with self.transaction(read_only=True) as tx:
            stored = SignInFailureRepository(tx).get(named.values())
        longest = max(wait_s(scope, stored.get(key), now) for scope, key in named.items())
        return Throttled(longest) if longest > 0 else None

    def failed(self, username: str, address: str) -> None:
        """Count a failed sign-in under each of its keys."""
        now = self._clock()
        window_start = now - timedelta(seconds=LOGIN_WINDOW_S)
        self._failures_here += 1
        with self.transaction() as tx:
            repo = SignInFailureRepository(tx)
            for key in sorted(keys(username, address).values()):  # one lock order everywhere
                repo.add_failure(key, now, window_start)
            if self._failures_here % PRUNE_EVERY_FAILURES == 0:
                repo.prune(window_start)

    def succeeded(self, username: str, address: str) -> None:
        """Forget the failures of this user from this address, and the user's global count."""
        named = keys(username, address)
        with self.transaction() as tx:
            SignInFailureRepository(tx).forget([named[Scope.PAIR], named[Scope.USER]])
