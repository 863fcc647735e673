"""The attention list: everything a person must fix, most urgent first. Pure: no I/O.

An item is a connection or a token that is broken now (misconfigured, needs consent, damaged,
backing off) or will be within the horizon (a forecast falls due), with the reason in plain
words, who can fix it and the console page where it is fixed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import quote

from tokendesk.domain.connections import Connection
from tokendesk.domain.forecast import (
    DocumentedLifetimes,
    Forecast,
    ForecastKind,
    connection_forecasts,
    earliest,
    token_forecasts,
    within,
)
from tokendesk.domain.tokens import StoredToken, TokenKind, TokenStatus

DEFAULT_HORIZON_DAYS = 14
HORIZON_DAYS_MAX = 366


class AttentionState(StrEnum):
    """Why an item is on the list; the order is the order of urgency among items of one time."""

    MISCONFIGURED = "misconfigured"
    NEEDS_CONSENT = "needs_consent"
    DAMAGED = "damaged"
    BACKING_OFF = "backing_off"
    SECRET_EXPIRING = "secret_expiring"
    CERTIFICATE_EXPIRING = "certificate_expiring"
    CONSENT_DUE = "consent_due"


STATE_LABELS = {
    AttentionState.MISCONFIGURED: "Misconfigured",
    AttentionState.NEEDS_CONSENT: "Needs consent",
    AttentionState.DAMAGED: "Damaged",
    AttentionState.BACKING_OFF: "Backing off",
    AttentionState.SECRET_EXPIRING: "Secret expiring",
    AttentionState.CERTIFICATE_EXPIRING: "Certificate expiring",
    AttentionState.CONSENT_DUE: "Consent due soon",
}
_ORDER = {state: i for i, state in enumerate(AttentionState)}
_NOW_STATES = frozenset({AttentionState.MISCONFIGURED, AttentionState.NEEDS_CONSENT,
                         AttentionState.DAMAGED, AttentionState.BACKING_OFF})
_EXPIRING = {ForecastKind.SECRET_EXPIRES: AttentionState.SECRET_EXPIRING,
             ForecastKind.CERTIFICATE_EXPIRES: AttentionState.CERTIFICATE_EXPIRING}


class Subject(StrEnum):
    CONNECTION = "connection"
    SHARED_TOKEN = "shared_token"
    USER_TOKEN = "user_token"


class Fixer(StrEnum):
    """Who can fix an item: an administrator (Manage connections), or the token's user."""

    ADMINISTRATOR = "administrator"
    USER = "user"


@dataclass(frozen=True, slots=True)
class AttentionItem:
    """One thing a person must fix. ``fix_path`` is the console page (a local path) where it
    is fixed; ``due_at`` when a forecast falls due (None for what is broken now)."""

    state: AttentionState
    subject: Subject
    connection: str
    user: str | None
    reason: str
    fixer: Fixer
    fix_path: str
    due_at: datetime | None = None
    forecast: Forecast | None = None
    # What the item is about, for code that acts on it (notifications): the connection's id,
    # and the token's for a token's item.
    connection_id: str = ""
    token_id: str | None = None

    @property
    def who_can_fix(self) -> str:
        if self.fixer is Fixer.USER:
            return f"{self.user}, who owns the token (by consenting again)"
        return "an administrator with Manage connections"

    @property
    def label(self) -> str:
        return STATE_LABELS[self.state]

    def urgency(self) -> tuple[int, datetime, int, str, str]:
        """Sort key: what is broken now first (in state order), then by due date."""
        now_first = 0 if self.state in _NOW_STATES else 1
        due = self.due_at.replace(tzinfo=None) if self.due_at else datetime.min
        return (now_first, due, _ORDER[self.state], self.connection.casefold(), self.user or "")


@dataclass(frozen=True, slots=True)
class Facts:
    """What the attention list is drawn from: the connections, their tokens, the usernames of
    the tokens' owners, and each connection's documented refresh-token lifetimes."""

    connections: Iterable[Connection]
    tokens: Iterable[StoredToken]
    usernames: Mapping[str, str]
    lifetimes: Callable[[Connection], DocumentedLifetimes | None]


def attention_items(
    facts: Facts,
    now: datetime,
    horizon: timedelta,
    may_see: Callable[[Connection, StoredToken | None], bool],
) -> list[AttentionItem]:
    """Every item of ``facts`` that ``may_see`` lets through (asked with None for the
    connection itself), most urgent first."""
    by_id = {c.id: c for c in facts.connections}
    found: list[AttentionItem] = []
    for connection in by_id.values():
        if may_see(connection, None):
            found.extend(connection_items(connection, now, horizon))
    for token in facts.tokens:
        owner = by_id.get(token.connection_id)
        if owner is None or not may_see(owner, token):
            continue
        user = facts.usernames.get(token.user_id or "", "a deleted user")
        item = token_item(token, owner, user, now, horizon, facts.lifetimes(owner))
        if item is not None:
            found.append(item)
    return sorted(found, key=AttentionItem.urgency)


def connection_items(
    connection: Connection, now: datetime, horizon: timedelta
) -> list[AttentionItem]:
    """A misconfigured connection, and a client credential expiring within ``horizon``."""
    items: list[AttentionItem] = []
    edit = connection_path(connection.name, "edit")
    if connection.misconfigured:
        said = f" The provider said: {connection.last_error}" if connection.last_error else ""
        items.append(AttentionItem(
            AttentionState.MISCONFIGURED, Subject.CONNECTION, connection.name, None,
            "The provider refused the connection's client credentials; enter the current "
            "client ID and secret (or key)." + said,
            Fixer.ADMINISTRATOR, edit, connection_id=connection.id,
        ))
    for forecast in connection_forecasts(connection):
        if within(forecast, now, horizon):
            items.append(AttentionItem(
                _EXPIRING[forecast.kind], Subject.CONNECTION, connection.name, None,
                _expiring_reason(forecast, now), Fixer.ADMINISTRATOR, edit,
                forecast.due_at, forecast, connection.id,
            ))
    return items


def _expiring_reason(forecast: Forecast, now: datetime) -> str:
    what = "secret" if forecast.kind is ForecastKind.SECRET_EXPIRES else "certificate"
    fix = (f"create a new client {what} at the provider and enter it before then"
           if forecast.due_at > now else f"create a new client {what} at the provider and "
           "enter it: tokens can no longer be refreshed with the old one")
    return f"{forecast.words} To keep tokens refreshing, {fix}."


def token_item(
    token: StoredToken,
    connection: Connection,
    username: str,
    now: datetime,
    horizon: timedelta,
    lifetimes: DocumentedLifetimes | None,
) -> AttentionItem | None:
    """The item of one token, if it needs a person now or within ``horizon``; a token of a
    misconfigured connection is covered by the connection's item."""
    if connection.misconfigured or token.status is TokenStatus.MISCONFIGURED:
        return None
    shared = token.kind is TokenKind.SHARED
    subject = Subject.SHARED_TOKEN if shared else Subject.USER_TOKEN
    user = None if shared else username
    fixer = Fixer.ADMINISTRATOR if shared else Fixer.USER
    consent = consent_path(connection.name, shared)

    def item(state: AttentionState, reason: str, forecast: Forecast | None = None,
             fix_by: Fixer = fixer, path: str = consent) -> AttentionItem:
        return AttentionItem(state, subject, connection.name, user, reason, fix_by, path,
                             forecast.due_at if forecast else None, forecast, connection.id,
                             token.id)

    whose = "The shared token" if shared else f"{username}'s token"
    if token.status is TokenStatus.NEEDS_REAUTHENTICATION:
        said = f" {token.last_error}" if token.last_error else ""
        return item(AttentionState.NEEDS_CONSENT,
                    f"{whose} can no longer be refreshed; consent again.{said}")
    if token.status is TokenStatus.CORRUPTED:
        return item(AttentionState.DAMAGED,
                    f"{whose} cannot be decrypted (changed or moved in the database); "
                    "consent again to replace it.")
    if token.failure_count > 0 and token.next_attempt_at is not None:
        said = f" Last error: {token.last_error}" if token.last_error else ""
        return item(AttentionState.BACKING_OFF,
                    f"Refreshing {whose[0].lower() + whose[1:]} failed {token.failure_count} "
                    f"time(s); the next try is at {_minute(token.next_attempt_at)}.{said}",
                    fix_by=Fixer.ADMINISTRATOR, path=connection_path(connection.name))
    due = earliest(token_forecasts(token, connection, lifetimes))
    if due is not None and within(due, now, horizon):
        return item(AttentionState.CONSENT_DUE,
                    f"{due.words} After that {whose[0].lower() + whose[1:]} can no longer be "
                    "refreshed; consent again before then.", due)
    return None


def connection_path(name: str, *rest: str) -> str:
    """The console page of a connection (``/connections/<name>``), or one below it."""
    return "/" + "/".join(quote(part, safe="") for part in ("connections", name, *rest))


def consent_path(name: str, shared: bool) -> str:
    """Where a token's consent is given again: the connection's page for the shared token,
    the user's own page of the connection for a user-specific token."""
    if shared:
        return connection_path(name)
    return "/my/connections/" + quote(name, safe="")


def counts(items: Iterable[AttentionItem]) -> dict[AttentionState, int]:
    """How many items there are of each state (every state listed, zero included)."""
    found = dict.fromkeys(AttentionState, 0)
    for item in items:
        found[item.state] += 1
    return found


def _minute(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")
