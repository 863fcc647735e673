"""Writing events to the outbox, in the caller's transaction (the change and its event
commit together or not at all).

Payloads name the connection and the token (ids, kind, owner) and say why in words; never
a token, a secret or a code. The forecasts (issue 13 item 1) call :meth:`EventOutbox.expiring`
from their scheduler: it writes ``token.expiring`` or ``connection.credentials_expiring``
once per forecast date.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection, ConnectionStatus
from tokendesk.domain.events import EventKind, EventState, failure_event, place
from tokendesk.storage.outbox import ForecastNoticeRepository, OutboxRepository
from tokendesk.storage.tokens import TokenChange, TokenRecord

REASON_MAX = 500


def new_event_id() -> str:
    """A message id as Standard Webhooks receivers dedupe on (``webhook-id``)."""
    return "msg_" + uuid.uuid4().hex


def forecast_subject(connection_id: str, token_id: str | None) -> str:
    """What a forecast is about, as ``forecast_notices`` keys it: a token, or a connection's
    client credential."""
    return f"token:{token_id}" if token_id is not None else f"connection:{connection_id}"


def _connection(connection: Connection) -> dict[str, Any]:
    return {"id": connection.id, "name": connection.name, "provider": connection.provider}


def _token(row: TokenRecord) -> dict[str, Any]:
    return {"id": row.id, "kind": row.kind.value, "user_id": row.user_id}


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


class EventOutbox:
    """Writes events of tokens and connections, damping a subject that flaps."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self.clock = clock

    def emit(
        self, tx: Tx, kind: EventKind, *, subject: str, ordering_key: str, data: dict[str, Any]
    ) -> str:
        """Write one event in ``tx``; returns its id. Within DAMPING_WINDOW_S of the
        subject's last event it is held, replacing an event held before."""
        repo, now = OutboxRepository(tx), self.clock()
        held = repo.held(subject)
        last = repo.last_sent(subject)
        placement = place(
            now,
            last.created_at if last is not None else None,
            held.available_at if held is not None else None,
        )
        if held is not None:
            repo.move(held.seq, EventState.HELD, EventState.SUPERSEDED)
        event_id = new_event_id()
        repo.add(
            {
                "id": event_id,
                "kind": kind.value,
                "subject": subject,
                "ordering_key": ordering_key,
                "payload": {"type": kind.value, "timestamp": now.isoformat(), "data": data},
                "state": placement.state.value,
                "created_at": now,
                "available_at": placement.available_at,
            }
        )
        return event_id

    # --- tokens --------------------------------------------------------------------------

    def token_failed(
        self,
        tx: Tx,
        connection: Connection,
        row: TokenRecord,
        *,
        failures: int,
        refused_for_good: bool,
        reason: str,
        next_attempt_at: datetime | None,
    ) -> str | None:
        """The event of a failed refresh, if it says something new (see failure_event)."""
        kind = failure_event(failures, refused_for_good)
        if kind is None:
            return None
        data = {
            "connection": _connection(connection),
            "token": _token(row),
            "reason": reason[:REASON_MAX],
            "failures": failures,
            "next_attempt_at": None if refused_for_good else _iso(next_attempt_at),
        }
        return self._token_event(tx, kind, connection, row, data)

    def refresh_failed(
        self,
        tx: Tx,
        connection: Connection,
        row: TokenRecord,
        change: TokenChange,
        *,
        reason: str,
        refused_for_good: bool,
    ) -> str | None:
        """The event of a failed refresh that writes ``change`` to ``row``."""
        failures = change.failure_count if isinstance(change.failure_count, int) else 0
        next_attempt_at = change.next_attempt_at
        return self.token_failed(
            tx,
            connection,
            row,
            failures=failures,
            refused_for_good=refused_for_good,
            reason=reason,
            next_attempt_at=next_attempt_at if isinstance(next_attempt_at, datetime) else None,
        )

    def token_needs_reauthentication(
        self, tx: Tx, connection: Connection, row: TokenRecord, reason: str
    ) -> str:
        data = {
            "connection": _connection(connection),
            "token": _token(row),
            "reason": reason[:REASON_MAX],
        }
        kind = EventKind.TOKEN_REAUTHENTICATION_REQUIRED
        return self._token_event(tx, kind, connection, row, data)

    def token_recovered(self, tx: Tx, connection: Connection, row: TokenRecord) -> str | None:
        """``token.recovered`` when ``row`` (as it was before the new token set) was failing
        or needed a new consent; nothing for a token that was fine."""
        if row.failure_count == 0 and row.status.value == "valid":
            return None
        data = {"connection": _connection(connection), "token": _token(row)}
        return self._token_event(tx, EventKind.TOKEN_RECOVERED, connection, row, data)

    def _token_event(
        self,
        tx: Tx,
        kind: EventKind,
        connection: Connection,
        row: TokenRecord,
        data: dict[str, Any],
    ) -> str:
        return self.emit(
            tx, kind, subject=f"token:{row.id}", ordering_key=connection.id, data=data
        )

    # --- connections ---------------------------------------------------------------------

    def connection_status(
        self,
        tx: Tx,
        connection: Connection,
        status: ConnectionStatus,
        reason: str | None,
        *,
        cause: str = "provider",
    ) -> str:
        """``connection.misconfigured`` or ``connection.recovered``: the stored status moved
        to ``status`` (``cause``: "provider" answered, or "credentials_changed" by an
        administrator)."""
        kind = (
            EventKind.CONNECTION_MISCONFIGURED
            if status is ConnectionStatus.MISCONFIGURED
            else EventKind.CONNECTION_RECOVERED
        )
        data = {
            "connection": _connection(connection),
            "reason": (reason or "")[:REASON_MAX] or None,
            "cause": cause,
        }
        return self.emit(
            tx, kind, subject=f"connection:{connection.id}", ordering_key=connection.id,
            data=data,
        )

    # --- the forecasts' hook -------------------------------------------------------------

    def expiring(
        self,
        tx: Tx,
        kind: EventKind,
        connection: Connection,
        *,
        due_at: datetime,
        source: str,
        token: TokenRecord | None = None,
        forecast: str | None = None,
        reason: str | None = None,
    ) -> str | None:
        """``token.expiring`` (with ``token``) or ``connection.credentials_expiring``: a
        forecast inside the horizon, ``due_at`` the date, ``source`` where the figure came
        from, ``forecast`` what will happen (a ForecastKind value) and ``reason`` the
        attention list's words. Written once per forecast date, across replicas too (see
        ForecastNoticeRepository.note); returns None when it was already.

        Not damped: a forecast cannot flap (one event per date), and a new date must reach
        receivers even when an earlier one was told a moment ago. Its subject is apart from
        the token's or connection's failure events, so neither stream damps the other.
        """
        if kind not in (EventKind.TOKEN_EXPIRING, EventKind.CONNECTION_CREDENTIALS_EXPIRING):
            raise ValueError(f"{kind} is not a forecast event")
        if (kind is EventKind.TOKEN_EXPIRING) != (token is not None):
            raise ValueError("token.expiring names its token; credentials_expiring none")
        subject = forecast_subject(connection.id, None if token is None else token.id)
        now, event_id = self.clock(), new_event_id()
        told = ForecastNoticeRepository(tx).note({
            "subject": subject, "due_at": due_at, "connection_id": connection.id,
            "token_id": None if token is None else token.id, "event_id": event_id,
            "created_at": now,
        })
        if not told:
            return None
        data: dict[str, Any] = {
            "connection": _connection(connection),
            "due_at": due_at.isoformat(),
            "source": source[:REASON_MAX],
        }
        if forecast is not None:
            data["forecast"] = forecast
        if reason is not None:
            data["reason"] = reason[:REASON_MAX]
        if token is not None:
            data["token"] = _token(token)
        OutboxRepository(tx).add({
            "id": event_id,
            "kind": kind.value,
            "subject": f"forecast:{subject}",
            "ordering_key": connection.id,
            "payload": {"type": kind.value, "timestamp": now.isoformat(), "data": data},
            "state": EventState.READY.value,
            "created_at": now,
            "available_at": now,
        })
        return event_id
