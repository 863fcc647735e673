"""Records of use -- audit rows of handouts and refusals, API keys' "last used" times --
written in batches off the request path.

A handout answers without waiting for its audit row; a writer thread inserts the queued rows
every ``FLUSH_INTERVAL_S`` (or sooner, when ``BATCH_SIZE`` are waiting) and on a clean
shutdown. What a crash (SIGKILL, power loss) can lose is bounded: the records of the last
flush interval, at most ``MAX_QUEUED`` rows. Changes are still audited synchronously, in
the transaction that makes them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from datetime import datetime
from typing import Any

from tokendesk.storage.accounts import ApiKeyRepository
from tokendesk.storage.audit import AuditRepository
from tokendesk.storage.db import Transaction

log = logging.getLogger(__name__)

FLUSH_INTERVAL_S = 0.05
BATCH_SIZE = 500
MAX_QUEUED = 50_000


class AuditBuffer:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        # deque: appends and pops are atomic without a lock (a handout only appends)
        self._queue: deque[dict[str, Any]] = deque()
        self._key_uses: dict[str, datetime] = {}  # API key id -> last use; latest wins
        self._flush_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, values: dict[str, Any]) -> None:
        """Queue one audit row; when the queue is full, write synchronously rather than drop."""
        if self._thread is None:
            self._ensure_writer()
        if len(self._queue) >= MAX_QUEUED:
            self.flush()
        self._queue.append(values)

    def note_key_use(self, key_id: str, at: datetime) -> None:
        """Remember that the API key ``key_id`` was used at ``at``, for its "last used"."""
        if self._thread is None:
            self._ensure_writer()
        self._key_uses[key_id] = at

    def flush(self) -> int:
        """Write everything queued now; returns how many audit rows were written."""
        with self._flush_lock:
            written = 0
            key_uses = self._take_key_uses()
            while True:
                batch = self._take(BATCH_SIZE)
                if not batch and not key_uses:
                    return written
                try:
                    with self.transaction() as tx:
                        AuditRepository(tx).append_many(batch)
                        ApiKeyRepository(tx).touch_many(key_uses)
                except Exception:
                    self._queue.extendleft(reversed(batch))  # kept, in order, for next time
                    for key_id, at in key_uses.items():  # unless a later use came meanwhile
                        self._key_uses.setdefault(key_id, at)
                    raise
                key_uses = {}
                written += len(batch)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.flush()

    def _take(self, limit: int) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        while len(batch) < limit:
            try:
                batch.append(self._queue.popleft())
            except IndexError:
                break
        return batch

    def _take_key_uses(self) -> dict[str, datetime]:
        taken: dict[str, datetime] = {}
        while True:
            try:  # one item at a time: atomic against a request noting a use meanwhile
                key_id, at = self._key_uses.popitem()
            except KeyError:
                return taken
            taken[key_id] = at

    def _ensure_writer(self) -> None:
        if self._thread is None:
            with self._flush_lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="audit-writer", daemon=True
                    )
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_INTERVAL_S):
            try:
                self.flush()
            except Exception as exc:
                log.warning("writing audit records failed (%s); retrying", type(exc).__name__)
