"""The background refresher: keeps tokens fresh before anyone asks for them.

Every replica may run it: the refresh protocol's lease makes sure each token is refreshed
by one of them. A continuous scheduler (:mod:`tokendesk.tokens.scheduler`) starts each
refresh at its moment -- a random part of ``BACKGROUND_LEAD_S`` before a handout would
refresh the token itself, which spreads the load and the replicas -- with at most
``per_host`` calls in flight to one provider host from this process (the setting
``TOKENDESK_REFRESH_PER_HOST_CONCURRENCY``; N replicas make at most N times that), so a
thousand tokens of one provider never become a thousand simultaneous calls to it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tokendesk.domain.schedule import Due
from tokendesk.domain.tokens import (
    REFRESH_MARGIN_S,
    background_lead_s,
    refresh_due_at,
)
from tokendesk.errors import TokendeskError
from tokendesk.services.keyring import KeyRingService
from tokendesk.storage.db import Transaction
from tokendesk.storage.tokens import TokenRepository
from tokendesk.tokens.refresh import RefreshCoordinator
from tokendesk.tokens.revocations import RevocationQueue
from tokendesk.tokens.scheduler import RefreshScheduler

log = logging.getLogger(__name__)

# Revocations, key ring reloads and re-encryption run this often.
SWEEP_INTERVAL_S = 5.0
SWEEP_JITTER_S = 2.0
# Workers in all; each host gets at most ``per_host`` of them.
WORKERS = 16
# Provider calls in flight per host, as TOKENDESK_REFRESH_PER_HOST_CONCURRENCY defaults to:
# conservative, as providers rate-limit per client and N replicas multiply it.
PER_HOST_CONCURRENCY = 4


class BackgroundRefresher:
    """Refreshes tokens at their moment through the refresh protocol, capped per host."""

    def __init__(
        self,
        transaction: Transaction,
        coordinator: RefreshCoordinator,
        clock: Callable[[], datetime],
        revocations: RevocationQueue | None = None,
        keys: KeyRingService | None = None,
        *,
        workers: int = WORKERS,
        per_host: int = PER_HOST_CONCURRENCY,
    ) -> None:
        self.transaction = transaction
        self.coordinator = coordinator
        self.clock = clock
        self.per_host = per_host
        self.revocations = revocations
        self.keys = keys
        self.scheduler = RefreshScheduler(
            self.load_due,
            self._refresh_one,
            clock,
            per_host=per_host,
            workers=max(workers, per_host),
        )
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def in_flight_by_host(self) -> dict[str, int]:
        """Provider calls this refresher has in flight now, per host."""
        return dict(self.scheduler.slots.in_flight_by_host)

    @property
    def peak_by_host(self) -> dict[str, int]:
        """The most provider calls this refresher ever had in flight to each host at once."""
        return dict(self.scheduler.slots.peak_by_host)

    def sweep(self) -> int:
        """Refresh every token due now (its lead included) and wait for them; returns how
        many were tried."""
        return self.scheduler.run_due_now()

    def load_due(self, now: datetime, until: datetime) -> list[Due]:
        """Valid tokens whose background refresh moment comes before ``until``, with jitter.

        The moment is :func:`~tokendesk.domain.tokens.refresh_due_at` less a random part of
        the lead, and never before the back-off after a failure ends.
        """
        with self.transaction(read_only=True) as tx:
            rows = TokenRepository(tx).refresh_candidates(
                now, until + timedelta(seconds=REFRESH_MARGIN_S)
            )
        due: list[Due] = []
        hosts: dict[str, str] = {}
        for row in rows:
            handout_at = refresh_due_at(row.issued_at, row.expires_at)
            if handout_at is None:
                continue
            lead_s = background_lead_s(row.issued_at, row.expires_at)
            at = handout_at - timedelta(seconds=random.uniform(0, lead_s))  # noqa: S311
            if row.next_attempt_at is not None:
                at = max(at, row.next_attempt_at)
            if at <= until:
                host = hosts.get(row.token_url)
                if host is None:
                    host = hosts[row.token_url] = urlsplit(row.token_url).hostname or ""
                early_s = max(0.0, (handout_at - at).total_seconds())
                due.append(Due(row.id, row.version, host, at, early_s))
        return due

    def _refresh_one(self, due: Due, slot: AbstractContextManager[None]) -> None:
        try:
            self.coordinator.refresh_scheduled(
                due.token_id, due.version, early_s=due.early_s, slot=slot
            )
        except TokendeskError as exc:  # recorded on the token by the protocol
            log.info("background refresh of token %s failed: %s", due.token_id, exc.code)

    # --- running in the background -------------------------------------------------------

    def start(self) -> None:
        self.scheduler.start()
        self._thread = threading.Thread(target=self._loop, name="background-upkeep", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Start nothing more; returns once the refreshes in flight have ended."""
        self._stop.set()
        self.scheduler.stop()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(SWEEP_INTERVAL_S + random.uniform(0, SWEEP_JITTER_S)):  # noqa: S311
            try:
                if self.revocations is not None:
                    self.revocations.drain()
                if self.keys is not None:
                    self.keys.reload_if_changed()
                    self.keys.reseal_some()
            except TokendeskError as exc:  # e.g. the database is down: try again next time
                log.warning("background upkeep failed: %s", exc.code)
