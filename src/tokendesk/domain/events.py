"""Events of the outbox: what happened to a token or a connection, told to receivers.

No I/O. An event names its subject (one token or one connection) and is delivered in order
per connection. Flapping is damped: after an event of a subject, further events of that
subject within DAMPING_WINDOW_S are held; when the window ends only the latest of them goes
out, and not even that one when it says what the receivers already heard. A token failing
and recovering ten times in a minute so makes one failure and one recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

# Events of one subject closer together than this are held and collapsed into the latest.
DAMPING_WINDOW_S = 60.0
# A token whose refresh failed this many times in a row is said to be backing off.
BACKING_OFF_AFTER_FAILURES = 3


class EventKind(StrEnum):
    TOKEN_REFRESH_FAILED = "token.refresh_failed"
    TOKEN_BACKING_OFF = "token.backing_off"
    TOKEN_REAUTHENTICATION_REQUIRED = "token.reauthentication_required"
    TOKEN_RECOVERED = "token.recovered"
    # From the forecasts (issue 13 item 1): a token will need consent within the horizon.
    TOKEN_EXPIRING = "token.expiring"
    CONNECTION_MISCONFIGURED = "connection.misconfigured"
    # From the forecasts: the client secret or certificate expires within the horizon.
    CONNECTION_CREDENTIALS_EXPIRING = "connection.credentials_expiring"
    CONNECTION_RECOVERED = "connection.recovered"


# Sent only by "test" of a webhook, to that webhook alone; never subscribed to.
TEST_EVENT = "webhook.test"
EVENT_WORDS: dict[EventKind, str] = {
    EventKind.TOKEN_REFRESH_FAILED: "a token's refresh failed; it is retried",
    EventKind.TOKEN_BACKING_OFF: "a token's refresh keeps failing; retries are spaced out",
    EventKind.TOKEN_REAUTHENTICATION_REQUIRED: "a token can no longer be refreshed; "
    "a person must authenticate again",
    EventKind.TOKEN_RECOVERED: "a token that was failing works again",
    EventKind.TOKEN_EXPIRING: "a token will need a new consent soon",
    EventKind.CONNECTION_MISCONFIGURED: "the provider refused a connection's client credentials",
    EventKind.CONNECTION_CREDENTIALS_EXPIRING: "a connection's client secret or certificate "
    "expires soon",
    EventKind.CONNECTION_RECOVERED: "a connection the provider refused works again",
}


class EventState(StrEnum):
    """Where an event of the outbox stands."""

    HELD = "held"  # damped: waits for the end of its subject's window
    READY = "ready"  # to be handed to the consumers (webhooks; e-mail later)
    DISPATCHED = "dispatched"  # handed to every consumer, once
    DAMPED = "damped"  # held, and said nothing new when its window ended: not sent
    SUPERSEDED = "superseded"  # held, and a later event of its subject replaced it


@dataclass(frozen=True, slots=True)
class Placement:
    """Where a new event goes: READY now, or HELD until ``available_at``."""

    state: EventState
    available_at: datetime


def place(
    now: datetime, last_sent_at: datetime | None, held_until: datetime | None
) -> Placement:
    """Where a new event of a subject goes, given when its last event not held was written
    (``last_sent_at``) and until when an event of it is held already (``held_until``, which
    the new one replaces)."""
    if held_until is not None:
        return Placement(EventState.HELD, held_until)
    window = timedelta(seconds=DAMPING_WINDOW_S)
    if last_sent_at is not None and now < last_sent_at + window:
        return Placement(EventState.HELD, last_sent_at + window)
    return Placement(EventState.READY, now)


def says_something_new(kind: str, last_dispatched_kind: str | None) -> bool:
    """A held event goes out when its window ends only if it differs from what was sent."""
    return kind != last_dispatched_kind


def failure_event(failures: int, refused_for_good: bool) -> EventKind | None:
    """The event of a failed refresh: re-authentication when the grant was refused; the
    first failure of a row; backing off at BACKING_OFF_AFTER_FAILURES; else nothing new."""
    if refused_for_good:
        return EventKind.TOKEN_REAUTHENTICATION_REQUIRED
    if failures == 1:
        return EventKind.TOKEN_REFRESH_FAILED
    if failures == BACKING_OFF_AFTER_FAILURES:
        return EventKind.TOKEN_BACKING_OFF
    return None


def parse_event_kinds(values: list[str]) -> tuple[EventKind, ...] | None:
    """The kinds named, in the order given without repeats; None when one is unknown."""
    known = {kind.value: kind for kind in EventKind}
    if any(value not in known for value in values):
        return None
    return tuple(dict.fromkeys(known[value] for value in values))
