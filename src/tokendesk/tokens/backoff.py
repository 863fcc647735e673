"""Back-off after a failed provider call, as bots see it: no call until it has run out."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from math import ceil

from tokendesk.domain.schedule import backoff_s
from tokendesk.errors import ProviderError, RefreshBackingOff


class FirstFetchGate:
    """A client-credentials connection's first token is asked for by one request at a time
    (per connection, in this process), and not at all while the back-off after a failed try
    runs: with no token row yet there is nowhere else to keep that back-off, and N waiting
    bots must not become N calls to a failing provider."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock
        self._locks: dict[str, threading.Lock] = {}
        self._failures: dict[str, tuple[int, datetime, ProviderError]] = {}
        self._guard = threading.Lock()

    @contextmanager
    def turn(self, connection_id: str, version: int) -> Iterator[None]:
        """Hold the connection's turn; a ProviderError raised inside starts a back-off, which
        an edit of the connection (a new ``version``) ends.

        Raises RefreshBackingOff, naming the last failure, while the back-off runs.
        """
        key = f"{connection_id}:{version}"
        with self._guard:
            lock = self._locks.setdefault(connection_id, threading.Lock())
        with lock:
            failures, until, last = self._failures.get(key, (0, None, None))
            if until is not None and last is not None and self.clock() < until:
                raise backing_off(last.message, until, self.clock())
            try:
                yield
            except ProviderError as exc:
                delay_s = backoff_s(failures + 1, exc.retry_after_s)
                self._failures[key] = (failures + 1, self.clock() + timedelta(seconds=delay_s), exc)
                raise
            self._failures.pop(key, None)


def backing_off(what: str, until: datetime | None, now: datetime) -> RefreshBackingOff:
    """The answer while the back-off after a failed provider call runs (no call is made: that
    keeps a failing provider from a retry storm): ``what`` failed, and when it is tried next."""
    wait_s = max(0.0, (until - now).total_seconds()) if until is not None else None
    text = what.rstrip()
    text += "" if text.endswith((".", "!", "?")) else "."
    when = f" Next attempt in {ceil(wait_s)} s." if wait_s else ""
    return RefreshBackingOff(text + when, retry_after_s=wait_s)
