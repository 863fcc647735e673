"""The background refresher: keeps tokens fresh before anyone asks for them.

Every replica may run it: the refresh protocol's lease makes sure each token is refreshed
by one of them. Work is spread with jitter and capped per provider host, so a thousand
tokens of one provider never become a thousand simultaneous calls to it.
"""

from __future__ import annotations

import logging
import random
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from tokendesk.domain.tokens import REFRESH_MARGIN_S, needs_refresh
from tokendesk.errors import TokendeskError
from tokendesk.services.keyring import KeyRingService
from tokendesk.services.refresh import RefreshCoordinator, Transaction
from tokendesk.services.revocations import RevocationQueue
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.tokens import TokenRepository

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 5.0
SWEEP_JITTER_S = 2.0
BATCH_SIZE = 500
WORKERS = 8
PER_HOST_CONCURRENCY = 4


class BackgroundRefresher:
    """Sweeps tokens nearing expiry and refreshes them through the refresh protocol."""

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
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresher")
        self._host_slots: dict[str, threading.BoundedSemaphore] = defaultdict(
            lambda: threading.BoundedSemaphore(per_host)
        )
        self._slots_guard = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.in_flight_by_host: dict[str, int] = defaultdict(int)
        self.peak_by_host: dict[str, int] = defaultdict(int)

    def sweep(self) -> int:
        """Refresh every token due before the margin ends; returns how many were tried."""
        now = self.clock()
        jitter_s = random.uniform(0, SWEEP_JITTER_S)  # noqa: S311 - spreading load, not secrecy
        horizon = now + timedelta(seconds=REFRESH_MARGIN_S + jitter_s)
        with self.transaction() as tx:
            candidates = TokenRepository(tx).due_for_refresh(now, horizon, BATCH_SIZE)
            due = [
                row for row in candidates if needs_refresh(now, row.issued_at, row.expires_at)[0]
            ]
            hosts = (
                {
                    c.id: urlsplit(c.token_url).hostname or ""
                    for c in ConnectionRepository(tx).search()
                }
                if due
                else {}
            )
        random.shuffle(due)  # spread the load across connections
        futures = [
            self._pool.submit(
                self._refresh_one, row.id, row.version, hosts.get(row.connection_id, "")
            )
            for row in due
        ]
        wait(futures)
        return len(futures)

    def _refresh_one(self, token_id: str, version: int, host: str) -> None:
        with self._slot(host):
            try:
                self.coordinator.refresh(token_id, seen_version=version)
            except TokendeskError as exc:  # recorded on the token by the protocol
                log.info("background refresh of token %s failed: %s", token_id, exc.code)

    def _slot(self, host: str) -> _HostSlot:
        with self._slots_guard:
            semaphore = self._host_slots[host]
        return _HostSlot(self, host, semaphore)

    # --- running in the background -------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="background-refresher", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.wait(SWEEP_INTERVAL_S + random.uniform(0, SWEEP_JITTER_S)):  # noqa: S311
            try:
                self.sweep()
                if self.revocations is not None:
                    self.revocations.drain()
                if self.keys is not None:
                    self.keys.reload_if_changed()
                    self.keys.reseal_some()
            except TokendeskError as exc:  # e.g. the database is down: try again next sweep
                log.warning("background refresh sweep failed: %s", exc.code)


class _HostSlot:
    """One of the per-host concurrency slots, with in-flight accounting for tests/metrics."""

    def __init__(
        self, owner: BackgroundRefresher, host: str, semaphore: threading.BoundedSemaphore
    ) -> None:
        self.owner, self.host, self.semaphore = owner, host, semaphore

    def __enter__(self) -> None:
        self.semaphore.acquire()
        with self.owner._slots_guard:
            self.owner.in_flight_by_host[self.host] += 1
            self.owner.peak_by_host[self.host] = max(
                self.owner.peak_by_host[self.host], self.owner.in_flight_by_host[self.host]
            )

    def __exit__(self, *exc: object) -> None:
        with self.owner._slots_guard:
            self.owner.in_flight_by_host[self.host] -= 1
        self.semaphore.release()
