"""The background refresher's due-queue: tokens ordered by refresh moment, per provider host.

Pure bookkeeping (no I/O, no threads; the owner serialises calls): which token to refresh
next, and whether one more refresh may start for its host (``per_host`` at once) and in all
(``total``). Each host has a queue of its own, so a host whose calls are slow or failing
holds at most its own share of refreshes and never delays the tokens of other hosts.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Due:
    """One token to refresh at ``at``, as read at ``version``.

    ``early_s`` is how far ``at`` lies before the moment a handout would refresh the token
    itself (the background refresher's lead, jitter included).
    """

    token_id: str
    version: int
    host: str
    at: datetime
    early_s: float = 0.0


@dataclass(order=True, slots=True)
class _Entry:
    at: datetime
    seq: int
    due: Due = field(compare=False)


class DueQueue:
    """Tokens waiting for their refresh moment, and the refreshes in flight, per host."""

    def __init__(self, *, per_host: int, total: int) -> None:
        if per_host < 1 or total < 1:
            raise ValueError("per_host and total must be at least 1")
        self.per_host = per_host
        self.total = total
        self._heaps: dict[str, list[_Entry]] = {}
        self._queued: dict[str, Due] = {}
        self._in_flight: dict[str, Due] = {}
        self._settled: dict[str, int] = {}  # token -> tick of its last attempt here
        self._tick = 0  # counts finished attempts
        self._seq = 0
        self.in_flight_by_host: dict[str, int] = {}
        self.peak_by_host: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._queued)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def busy(self, token_id: str) -> bool:
        """True while the token is queued or being refreshed."""
        return token_id in self._queued or token_id in self._in_flight

    def reading(self) -> int:
        """A mark to take just before reading the database for :meth:`replace`."""
        return self._tick

    def replace(self, due: Iterable[Due], mark: int) -> None:
        """Make ``due`` (what falls due soon, read after :meth:`reading` returned ``mark``)
        the queue.

        A token already queued at the same version keeps its moment; one no longer listed
        (refreshed by a handout or another replica, deleted) leaves the queue; one in flight,
        or tried here since ``mark`` (the reading may predate that attempt), is not queued.
        """
        listed = {d.token_id: d for d in due}
        self._settled = {t: tick for t, tick in self._settled.items() if tick > mark}
        kept: dict[str, Due] = {}
        for token, item in listed.items():
            if token in self._in_flight or token in self._settled:
                continue
            current = self._queued.get(token)
            same = current is not None and current.version == item.version
            kept[token] = current if same and current is not None else item
        self._queued = kept
        self._rebuild()

    def add(self, due: Iterable[Due]) -> None:
        """Queue these tokens too (those already queued or in flight are left as they are)."""
        for item in due:
            if not self.busy(item.token_id):
                self._queued[item.token_id] = item
                self._push(item)

    def take_ready(self, now: datetime) -> Due | None:
        """The token whose moment came first among hosts with a free slot, now in flight;
        None when nothing is due or every host with due tokens is at its cap."""
        if len(self._in_flight) >= self.total:
            return None
        best: _Entry | None = None
        for host, heap in self._heaps.items():
            self._drop_stale(heap)
            if (
                heap
                and self.in_flight_by_host.get(host, 0) < self.per_host
                and heap[0].at <= now
                and (best is None or heap[0] < best)
            ):
                best = heap[0]
        if best is None:
            return None
        heapq.heappop(self._heaps[best.due.host])
        return self._start(best.due)

    def next_at(self) -> datetime | None:
        """The earliest moment a refresh could start, among hosts with a free slot; None when
        nothing is queued there (or every worker is busy): wait for :meth:`done` then."""
        if len(self._in_flight) >= self.total:
            return None
        moments = []
        for host, heap in self._heaps.items():
            self._drop_stale(heap)
            if heap and self.in_flight_by_host.get(host, 0) < self.per_host:
                moments.append(heap[0].at)
        return min(moments, default=None)

    def done(self, due: Due) -> None:
        """A refresh taken with :meth:`take_ready` ended (whatever its outcome)."""
        if self._in_flight.pop(due.token_id, None) is None:
            return
        self.in_flight_by_host[due.host] -= 1
        self._tick += 1
        self._settled[due.token_id] = self._tick

    def clear(self) -> None:
        """Forget every queued token (refreshes in flight stay counted until done)."""
        self._queued.clear()
        self._heaps.clear()

    def _start(self, due: Due) -> Due:
        del self._queued[due.token_id]
        self._in_flight[due.token_id] = due
        count = self.in_flight_by_host.get(due.host, 0) + 1
        self.in_flight_by_host[due.host] = count
        self.peak_by_host[due.host] = max(self.peak_by_host.get(due.host, 0), count)
        return due

    def _push(self, due: Due) -> None:
        self._seq += 1
        heapq.heappush(self._heaps.setdefault(due.host, []), _Entry(due.at, self._seq, due))

    def _rebuild(self) -> None:
        self._heaps = {}
        for due in self._queued.values():
            self._seq += 1
            self._heaps.setdefault(due.host, []).append(_Entry(due.at, self._seq, due))
        for heap in self._heaps.values():
            heapq.heapify(heap)

    def _drop_stale(self, heap: list[_Entry]) -> None:
        while heap and self._queued.get(heap[0].due.token_id) is not heap[0].due:
            heapq.heappop(heap)


BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 900.0


def backoff_s(failures: int, retry_after_s: float | None) -> float:
    """Exponential back-off after ``failures`` failed attempts, honouring Retry-After."""
    delay: float = min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2.0 ** min(max(0, failures - 1), 20))
    return max(delay, retry_after_s or 0.0)
