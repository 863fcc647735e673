"""An outage fails every request alike: the log says so once in a while, not once a request."""

from __future__ import annotations

import logging

import pytest

from tokendesk.errors import DatabaseUnavailable, ProviderUnreachable
from tokendesk.web import errors
from tokendesk.web.errors import RepeatedFailures

DOWN = DatabaseUnavailable("The database is not reachable right now; try again shortly.")


class Monotonic:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def monotonic(monkeypatch: pytest.MonkeyPatch) -> Monotonic:
    clock = Monotonic()
    monkeypatch.setattr(errors.time, "monotonic", clock)
    return clock


def lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "tokendesk.web.errors"]


def test_the_same_failure_is_logged_once_per_window_with_how_many_were_not(
    caplog: pytest.LogCaptureFixture, monotonic: Monotonic
) -> None:
    failures = RepeatedFailures(window_s=10)
    with caplog.at_level(logging.ERROR):
        for _ in range(500):
            failures.log(DOWN)
            monotonic.now += 0.01  # 500 requests in 5 s
        monotonic.now += 5.5
        failures.log(DOWN)

    assert lines(caplog) == [
        "request failed: database_unavailable (The database is not reachable right now; "
        "try again shortly.)",
        "request failed: database_unavailable (The database is not reachable right now; "
        "try again shortly.); 499 more like it since the last such line",
    ]


def test_a_different_failure_is_logged_at_once(
    caplog: pytest.LogCaptureFixture, monotonic: Monotonic
) -> None:
    failures = RepeatedFailures(window_s=10)
    with caplog.at_level(logging.ERROR):
        failures.log(DOWN)
        failures.log(ProviderUnreachable("The token endpoint of 'Graph' did not answer."))
        failures.log(ProviderUnreachable("The token endpoint of 'Jira' did not answer."))
        failures.log(DOWN)

    assert [line.split(" (")[1] for line in lines(caplog)] == [
        "The database is not reachable right now; try again shortly.)",
        "The token endpoint of 'Graph' did not answer.)",
        "The token endpoint of 'Jira' did not answer.)",
    ]
