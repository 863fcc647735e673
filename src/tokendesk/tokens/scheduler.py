"""A continuous scheduler for background refreshes: a due-queue, per-host caps, a worker pool.

A poller reads what falls due within ``LOOKAHEAD_S`` every ``POLL_INTERVAL_S`` (with jitter)
and replaces the queue with it; a dispatcher starts the refresh whose moment came first as
soon as its host can take one more, and sleeps until the next moment otherwise. Workers
never wait for each other: there are no batches.

The cap protects the provider, so it counts provider calls: a refresh holds one of its
host's ``per_host`` slots (:class:`HostSlots`) only around the call, not while it takes the
lease or stores the answer. So that those database steps overlap other refreshes' calls, a
host may have ``PIPELINE_DEPTH`` times ``per_host`` refreshes started at once; beyond that
its tokens wait in the queue, and a host that hangs holds no more workers than that.

What a refresh does, and what is due, are given to it (the refresh protocol and the token
table, in :mod:`tokendesk.tokens.background`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from functools import partial

from tokendesk.domain.schedule import Due, DueQueue
from tokendesk.errors import TokendeskError

log = logging.getLogger(__name__)

POLL_INTERVAL_S = 3.0
POLL_JITTER_S = 1.0
# Read this far ahead: longer than a poll interval, so no token falls due between two polls
# without being queued.
LOOKAHEAD_S = 15.0
# The dispatcher looks at the clock at least this often even when nothing is due (a clock
# moved by hand in tests, a token added by a sweep).
MAX_IDLE_WAIT_S = 1.0
# Refreshes started per host, in multiples of its cap of provider calls.
PIPELINE_DEPTH = 2

LoadDue = Callable[[datetime, datetime], list[Due]]
# Refreshes one token, holding the given slot exactly while it calls the provider.
Refresh = Callable[[Due, AbstractContextManager[None]], None]


class HostSlots:
    """At most ``per_host`` provider calls in flight to each host; counted for tests and the
    benchmark (``in_flight_by_host``, ``peak_by_host``)."""

    def __init__(self, per_host: int) -> None:
        self.per_host = per_host
        self.in_flight_by_host: dict[str, int] = {}
        self.peak_by_host: dict[str, int] = {}
        self._lock = threading.Lock()
        self._freed: dict[str, threading.Condition] = {}

    @contextmanager
    def hold(self, host: str) -> Iterator[None]:
        """Wait for a free slot of ``host`` and hold it for the block."""
        with self._lock:
            freed = self._freed.setdefault(host, threading.Condition(self._lock))
            while self.in_flight_by_host.get(host, 0) >= self.per_host:
                freed.wait()
            count = self.in_flight_by_host.get(host, 0) + 1
            self.in_flight_by_host[host] = count
            self.peak_by_host[host] = max(self.peak_by_host.get(host, 0), count)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight_by_host[host] -= 1
                freed.notify()


class RefreshScheduler:
    """Runs ``refresh`` for every token ``load_due`` lists, at its moment, within the caps."""

    def __init__(
        self,
        load_due: LoadDue,
        refresh: Refresh,
        clock: Callable[[], datetime],
        *,
        per_host: int,
        workers: int,
    ) -> None:
        self.load_due = load_due
        self.refresh = refresh
        self.clock = clock
        self.slots = HostSlots(per_host)
        self.queue = DueQueue(per_host=per_host * PIPELINE_DEPTH, total=workers)
        self._changed = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="refresher")
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- one pass, in the caller's thread ------------------------------------------------

    def run_due_now(self) -> int:
        """Refresh every token due now and wait until they are done; returns how many.

        Shares the caps with the running scheduler, if any.
        """
        now = self.clock()
        due = self.load_due(now, now)
        wanted = {d.token_id for d in due}
        with self._changed:
            self.queue.add(due)
            while not self._stop.is_set():
                self._start_ready(now)
                if not any(self.queue.busy(token) for token in wanted):
                    break
                self._changed.wait(MAX_IDLE_WAIT_S)
        return len(due)

    # --- running in the background -------------------------------------------------------

    def start(self) -> None:
        for name, target in (
            ("refresh-poller", self._poll_loop),
            ("refresh-dispatcher", self._dispatch_loop),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Start nothing more and drop the queue; returns once the refreshes in flight (each
        bounded by the provider deadline) have ended."""
        self._stop.set()
        with self._changed:
            self.queue.clear()
            self._changed.notify_all()
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self._pool.shutdown(wait=True, cancel_futures=True)

    def poll(self) -> None:
        """Read what falls due within ``LOOKAHEAD_S`` and make it the queue."""
        with self._changed:
            mark = self.queue.reading()
        now = self.clock()
        due = self.load_due(now, now + timedelta(seconds=LOOKAHEAD_S))
        with self._changed:
            if not self._stop.is_set():
                self.queue.replace(due, mark)
                self._changed.notify_all()

    def _poll_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll()
            except TokendeskError as exc:  # e.g. the database is down: try again next poll
                log.warning("reading the tokens due for refresh failed: %s", exc.code)
            except Exception:  # never let the refresher die silently
                log.exception("reading the tokens due for refresh failed")
            self._stop.wait(POLL_INTERVAL_S + random.uniform(0, POLL_JITTER_S))  # noqa: S311

    def _dispatch_loop(self) -> None:
        with self._changed:
            while not self._stop.is_set():
                now = self.clock()
                self._start_ready(now)
                next_at = self.queue.next_at()
                wait_s = (
                    MAX_IDLE_WAIT_S
                    if next_at is None
                    else min(MAX_IDLE_WAIT_S, max(0.0, (next_at - now).total_seconds()))
                )
                self._changed.wait(wait_s)

    def _start_ready(self, now: datetime) -> None:
        """Start every refresh that is due and has a free slot (holding ``_changed``)."""
        while not self._stop.is_set() and (due := self.queue.take_ready(now)) is not None:
            try:
                future = self._pool.submit(self._run, due)
            except RuntimeError:  # the pool shut down under us: stopping
                self.queue.done(due)
                return
            future.add_done_callback(partial(self._settle_if_cancelled, due))

    def _settle_if_cancelled(self, due: Due, future: Future[None]) -> None:
        """A refresh that ``stop`` cancelled before it started never runs ``_run``: settle it."""
        if future.cancelled():
            with self._changed:
                self.queue.done(due)

    def _run(self, due: Due) -> None:
        try:
            self.refresh(due, self.slots.hold(due.host))
        except Exception:  # a bug in one refresh must not leak its slot
            log.exception("background refresh of token %s failed", due.token_id)
        finally:
            with self._changed:
                self.queue.done(due)
                self._changed.notify_all()
