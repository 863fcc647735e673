"""The rules of the outbox: which event a failed refresh makes, and how flapping is damped."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tokendesk.domain.events import (
    BACKING_OFF_AFTER_FAILURES,
    DAMPING_WINDOW_S,
    EventKind,
    EventState,
    failure_event,
    parse_event_kinds,
    place,
    says_something_new,
)

NOW = datetime(2026, 12, 5, 12, tzinfo=UTC)
WINDOW = timedelta(seconds=DAMPING_WINDOW_S)


def test_the_first_failure_of_a_row_says_refresh_failed_and_the_third_backing_off() -> None:
    kinds = [failure_event(n, refused_for_good=False) for n in range(1, 6)]

    assert kinds[0] is EventKind.TOKEN_REFRESH_FAILED
    assert kinds[BACKING_OFF_AFTER_FAILURES - 1] is EventKind.TOKEN_BACKING_OFF
    assert [k for k in kinds if k is not None] == [
        EventKind.TOKEN_REFRESH_FAILED, EventKind.TOKEN_BACKING_OFF]


def test_a_refused_grant_says_reauthentication_required_whatever_the_count() -> None:
    assert failure_event(7, refused_for_good=True) is EventKind.TOKEN_REAUTHENTICATION_REQUIRED


def test_an_event_of_a_quiet_subject_is_ready_at_once() -> None:
    assert place(NOW, None, None).state is EventState.READY
    assert place(NOW, NOW - WINDOW, None).state is EventState.READY


def test_an_event_within_the_window_of_the_last_one_is_held_until_the_window_ends() -> None:
    placed = place(NOW, NOW - timedelta(seconds=5), None)

    assert placed.state is EventState.HELD
    assert placed.available_at == NOW - timedelta(seconds=5) + WINDOW


def test_an_event_replacing_a_held_one_keeps_its_moment() -> None:
    held_until = NOW + timedelta(seconds=30)

    assert place(NOW, NOW - timedelta(seconds=30), held_until).available_at == held_until


def test_a_held_event_that_repeats_what_was_sent_says_nothing_new() -> None:
    assert not says_something_new("token.refresh_failed", "token.refresh_failed")
    assert says_something_new("token.recovered", "token.refresh_failed")


def test_event_names_are_parsed_without_repeats_and_unknown_ones_refused() -> None:
    assert parse_event_kinds(["token.recovered", "token.recovered"]) == (
        EventKind.TOKEN_RECOVERED,)
    assert parse_event_kinds(["token.recovered", "token.exploded"]) is None
