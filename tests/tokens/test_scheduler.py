"""The refresh scheduler starts each refresh at its moment, as soon as its host has a free
slot, never past the cap, and stops at once.

What is due and what a refresh does are stand-ins here (the scheduler's contract is about
time and concurrency); tests/e2e/flows/test_background_refresher.py runs it with the real
token table and the real authorization server.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

import pytest

from tokendesk.domain.schedule import Due
from tokendesk.tokens.scheduler import PIPELINE_DEPTH, RefreshScheduler

START = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
WAIT_S = 10.0


class ManualClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Tokens:
    """Due tokens as the token table would list them; a refreshed token is due no more."""

    def __init__(self, due: list[Due], work: Callable[[Due], None] = lambda _: None) -> None:
        self.waiting = {d.token_id: d for d in due}
        self.work = work
        self.refreshed: list[str] = []
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.lock = threading.Lock()

    def load_due(self, _now: datetime, until: datetime) -> list[Due]:
        with self.lock:
            return [d for d in self.waiting.values() if d.at <= until]

    def refresh(self, due: Due, slot: AbstractContextManager[None]) -> None:
        """Take the lease and read (no slot), call the provider (in the slot), store."""
        time.sleep(0.001)
        try:
            with slot:
                with self.lock:
                    self.in_flight[due.host] += 1
                    self.peak[due.host] = max(self.peak[due.host], self.in_flight[due.host])
                try:
                    self.work(due)
                finally:
                    with self.lock:
                        self.in_flight[due.host] -= 1
        finally:
            with self.lock:
                self.waiting.pop(due.token_id, None)
                self.refreshed.append(due.token_id)


def due(token: str, at_s: float = 0.0, host: str = "login.example.com") -> Due:
    return Due(token, 1, host, START + timedelta(seconds=at_s))


def wait_until(condition: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def running(clock: ManualClock) -> Iterator[Callable[..., RefreshScheduler]]:
    started: list[RefreshScheduler] = []

    def start(tokens: Tokens, *, per_host: int, workers: int) -> RefreshScheduler:
        scheduler = RefreshScheduler(tokens.load_due, tokens.refresh, clock,
                                     per_host=per_host, workers=workers)
        started.append(scheduler)
        scheduler.start()
        return scheduler

    yield start
    for scheduler in started:
        scheduler.stop()


def test_refreshes_never_exceed_the_per_host_cap(running: Callable[..., RefreshScheduler]) -> None:
    tokens = Tokens([due(f"a{i}", host="a.example") for i in range(30)]
                    + [due(f"b{i}", host="b.example") for i in range(30)],
                    work=lambda _: time.sleep(0.01))

    scheduler = running(tokens, per_host=3, workers=16)
    wait_until(lambda: len(tokens.refreshed) == 60)

    assert tokens.peak == {"a.example": 3, "b.example": 3}  # provider calls at once
    assert scheduler.slots.peak_by_host == {"a.example": 3, "b.example": 3}
    assert sorted(Counter(tokens.refreshed).values()) == [1] * 60  # each once


def test_due_tokens_are_refreshed_in_due_order(
    running: Callable[..., RefreshScheduler], clock: ManualClock
) -> None:
    tokens = Tokens([due("t5", 5), due("t1", 1), due("t4", 4), due("t2", 2), due("t3", 3)])
    scheduler = running(tokens, per_host=1, workers=1)
    wait_until(lambda: len(scheduler.queue) == 5)
    assert tokens.refreshed == []  # none is due yet

    clock.advance(10)
    scheduler.poll()
    wait_until(lambda: len(tokens.refreshed) == 5)

    assert tokens.refreshed == ["t1", "t2", "t3", "t4", "t5"]


def test_a_token_is_refreshed_when_its_moment_comes_not_before(
    running: Callable[..., RefreshScheduler], clock: ManualClock
) -> None:
    tokens = Tokens([due("soon", 2), due("later", 8)])
    scheduler = running(tokens, per_host=4, workers=4)
    wait_until(lambda: len(scheduler.queue) == 2)

    clock.advance(3)
    wait_until(lambda: tokens.refreshed == ["soon"])  # the dispatcher looks at the clock itself
    time.sleep(0.2)

    assert tokens.refreshed == ["soon"]


def test_a_hanging_host_does_not_starve_the_others(
    running: Callable[..., RefreshScheduler],
) -> None:
    release = threading.Event()

    def work(item: Due) -> None:
        if item.host == "stuck.example":
            release.wait(WAIT_S)  # a provider that never answers (until its deadline)

    tokens = Tokens([due(f"stuck{i}", 0, "stuck.example") for i in range(10)]
                    + [due(f"fine{i}", 0, "fine.example") for i in range(20)], work=work)
    scheduler = running(tokens, per_host=2, workers=6)
    try:
        wait_until(lambda: sum(t.startswith("fine") for t in tokens.refreshed) == 20)

        assert tokens.in_flight["stuck.example"] == 2  # its own slots only
        assert scheduler.queue.in_flight_by_host["stuck.example"] == 2 * PIPELINE_DEPTH
        assert not any(t.startswith("stuck") for t in tokens.refreshed)
    finally:
        release.set()
    wait_until(lambda: len(tokens.refreshed) == 30)
    assert scheduler.slots.peak_by_host["stuck.example"] == 2
    assert scheduler.slots.peak_by_host["fine.example"] <= 2


def test_a_refresh_that_raises_frees_its_slot(running: Callable[..., RefreshScheduler]) -> None:
    def work(_: Due) -> None:
        raise RuntimeError("a bug")

    tokens = Tokens([due(f"t{i}") for i in range(5)], work=work)
    scheduler = running(tokens, per_host=1, workers=1)

    wait_until(lambda: len(tokens.refreshed) == 5)
    # The queue settles a refresh after it returned or raised, a moment after the token
    # counted it: wait for that moment (bounded) rather than read it at once.
    wait_until(lambda: scheduler.queue.in_flight == 0)


def test_stop_is_prompt_with_a_long_queue(running: Callable[..., RefreshScheduler]) -> None:
    tokens = Tokens([due(f"t{i}") for i in range(500)], work=lambda _: time.sleep(0.05))
    scheduler = running(tokens, per_host=2, workers=2)
    wait_until(lambda: len(tokens.refreshed) >= 2)

    started = time.monotonic()
    scheduler.stop()
    stopped_s = time.monotonic() - started

    assert stopped_s < 0.5  # the two calls in flight end; the queue is dropped
    assert len(tokens.refreshed) < 20
    assert scheduler.queue.in_flight == 0


def test_stop_is_prompt_when_idle(running: Callable[..., RefreshScheduler]) -> None:
    scheduler = running(Tokens([due("later", 5)]), per_host=4, workers=4)
    wait_until(lambda: len(scheduler.queue) == 1)

    started = time.monotonic()
    scheduler.stop()

    assert time.monotonic() - started < 0.5


def test_a_pass_in_the_callers_thread_refreshes_what_is_due_now(clock: ManualClock) -> None:
    tokens = Tokens([due("now", 0), due("later", 60)], work=lambda _: time.sleep(0.01))
    scheduler = RefreshScheduler(tokens.load_due, tokens.refresh, clock,
                                 per_host=2, workers=2)
    try:
        tried = scheduler.run_due_now()
    finally:
        scheduler.stop()

    assert tried == 1
    assert tokens.refreshed == ["now"]
