"""What the webhook deliverer and the mailer share: the verdict on one attempt (done, retry
later, or give up), how long finished rows are kept, and the rounds in the background."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta

from tokendesk.domain.webhooks import DELIVERY_GIVE_UP_S, retry_delay
from tokendesk.errors import TokendeskError

log = logging.getLogger(__name__)

FAILED = "failed"  # the state of a row given up after DELIVERY_GIVE_UP_S
ERROR_MAX = 500
# Finished rows (and their attempts) are kept this long to be looked at, then forgotten;
# each process looks once per PURGE_INTERVAL_S.
RETENTION_S = 30 * 24 * 3600.0
PURGE_INTERVAL_S = 3600.0


def clipped(error: str | None) -> str | None:
    return None if error is None else error[:ERROR_MAX]


def after_attempt(
    error: str | None, *, attempts: int, created_at: datetime, now: datetime,
    done: tuple[str, str],
) -> tuple[dict[str, object], str]:
    """The row's new values and the attempt's outcome: ``done`` = (state, column stamped
    with ``now``) when ``error`` is None; given up once the row is DELIVERY_GIVE_UP_S old;
    else retried after the back-off of its ``attempts`` (before this one)."""
    tried = attempts + 1
    values: dict[str, object]
    if error is None:
        state, at_column = done
        values, outcome = {"state": state, at_column: now}, state
    elif now - created_at >= timedelta(seconds=DELIVERY_GIVE_UP_S):
        values, outcome = {"state": FAILED}, "gave_up"
    else:
        values, outcome = {"next_attempt_at": now + retry_delay(tried)}, "retrying"
    return values | {"attempts": tried, "last_error": clipped(error)}, outcome


class PurgePace:
    """Says when finished rows are due to be forgotten (at most once per interval)."""

    def __init__(self) -> None:
        self._last: datetime | None = None

    def cutoff_if_due(self, now: datetime) -> datetime | None:
        """The moment before which finished rows go, when a purge is due now; else None."""
        if self._last is not None and now - self._last < timedelta(seconds=PURGE_INTERVAL_S):
            return None
        self._last = now
        return now - timedelta(seconds=RETENTION_S)


class Rounds:
    """``run_once`` every ``poll_s`` seconds on a daemon thread until stopped; a round that
    fails on purpose (the database is down) is logged and tried again next time."""

    def __init__(self, name: str, run_once: Callable[[], object], poll_s: float) -> None:
        self.name = name
        self.run_once = run_once
        self.poll_s = poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float) -> None:
        """Start nothing more; returns once the round in flight has ended (or ``timeout_s``)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout_s)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.run_once()
            except TokendeskError as exc:
                log.warning("%s: a round failed: %s", self.name, exc.code)
