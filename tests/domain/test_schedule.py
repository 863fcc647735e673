"""The background refresher's due-queue: earliest moment first, never past a host's cap, and
a host at its cap never holds back the tokens of another."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokendesk.domain.schedule import Due, DueQueue
from tokendesk.domain.tokens import BACKGROUND_LEAD_S, background_lead_s

NOW = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)


def due(token: str, at_s: float, host: str = "login.example.com", version: int = 1) -> Due:
    return Due(token, version, host, NOW + timedelta(seconds=at_s))


def drain(queue: DueQueue, now: datetime) -> list[str]:
    taken = []
    while (item := queue.take_ready(now)) is not None:
        taken.append(item.token_id)
    return taken


def test_due_tokens_come_out_earliest_moment_first_across_hosts() -> None:
    queue = DueQueue(per_host=10, total=10)
    queue.add([due("c", 3), due("a", 1, "a.example"), due("d", 4, "a.example"), due("b", 2)])

    assert drain(queue, NOW + timedelta(seconds=10)) == ["a", "b", "c", "d"]


def test_a_token_waits_for_its_moment() -> None:
    queue = DueQueue(per_host=4, total=4)
    queue.add([due("later", 5)])

    assert queue.take_ready(NOW) is None
    assert queue.next_at() == NOW + timedelta(seconds=5)
    assert [d.token_id for d in [queue.take_ready(NOW + timedelta(seconds=5))] if d] == ["later"]


def test_a_host_never_has_more_than_its_cap_in_flight() -> None:
    queue = DueQueue(per_host=2, total=10)
    queue.add([due(f"t{i}", i) for i in range(5)])

    first = drain(queue, NOW + timedelta(seconds=10))
    assert first == ["t0", "t1"]
    assert queue.in_flight_by_host == {"login.example.com": 2}

    queue.done(due("t0", 0))
    assert drain(queue, NOW + timedelta(seconds=10)) == ["t2"]
    assert queue.peak_by_host == {"login.example.com": 2}


def test_a_host_at_its_cap_does_not_hold_back_another_host() -> None:
    queue = DueQueue(per_host=1, total=10)
    queue.add([due("slow-1", 0, "slow.example"), due("slow-2", 1, "slow.example"),
               due("fast-1", 2, "fast.example"), due("fast-2", 3, "fast.example")])

    assert drain(queue, NOW + timedelta(seconds=10)) == ["slow-1", "fast-1"]
    queue.done(due("fast-1", 2, "fast.example"))  # the slow host's call is still running

    assert drain(queue, NOW + timedelta(seconds=10)) == ["fast-2"]
    assert queue.next_at() is None  # only the capped host has tokens left


def test_the_total_number_of_workers_is_a_cap_too() -> None:
    queue = DueQueue(per_host=4, total=3)
    queue.add([due(f"t{i}", 0, f"h{i}.example") for i in range(5)])

    assert len(drain(queue, NOW)) == 3
    assert queue.next_at() is None


def test_a_new_reading_keeps_moments_drops_the_unlisted_and_skips_what_is_in_flight() -> None:
    queue = DueQueue(per_host=4, total=4)
    queue.add([due("kept", 5), due("gone", 6), due("running", 0)])
    assert queue.take_ready(NOW) == due("running", 0)

    mark = queue.reading()
    queue.replace([due("kept", 9), due("running", 0), due("new", 7)], mark)

    assert queue.busy("kept") and not queue.busy("gone") and queue.busy("new")
    assert drain(queue, NOW + timedelta(seconds=10)) == ["kept", "new"]  # kept at 5 s, not 9 s


def test_a_reading_older_than_an_attempt_does_not_queue_the_token_again() -> None:
    queue = DueQueue(per_host=4, total=4)
    queue.add([due("t", 0)])
    mark = queue.reading()  # the poller starts reading the database ...
    item = queue.take_ready(NOW)
    assert item is not None
    queue.done(item)  # ... while the token is refreshed (its new version not yet read)

    queue.replace([due("t", 0)], mark)
    assert not queue.busy("t")

    queue.replace([due("t", 0)], queue.reading())  # a reading after it: the refresh failed
    assert queue.busy("t")


def test_a_changed_version_replaces_the_queued_entry() -> None:
    queue = DueQueue(per_host=4, total=4)
    queue.add([due("t", 1, version=1)])

    queue.replace([due("t", 30, version=2)], queue.reading())

    assert queue.take_ready(NOW + timedelta(seconds=10)) is None
    assert queue.next_at() == NOW + timedelta(seconds=30)


def test_clearing_the_queue_keeps_counting_what_is_in_flight() -> None:
    queue = DueQueue(per_host=4, total=4)
    queue.add([due("a", 0), due("b", 0)])
    running = queue.take_ready(NOW)
    assert running is not None

    queue.clear()

    assert len(queue) == 0 and queue.in_flight == 1
    queue.done(running)
    assert queue.in_flight == 0


@pytest.mark.parametrize(("lifetime_s", "lead_s"), [(60, 6.0), (40, 4.0), (3600, BACKGROUND_LEAD_S)])
def test_the_background_lead_is_a_small_part_of_a_short_lifetime(
    lifetime_s: float, lead_s: float
) -> None:
    assert background_lead_s(NOW, NOW + timedelta(seconds=lifetime_s)) == lead_s


def test_there_is_no_lead_for_a_token_of_unknown_lifetime() -> None:
    assert background_lead_s(NOW, None) == 0.0
