"""The forecasts' job: tells receivers of a token that will need consent, or of a client
secret or certificate that runs out, within the attention horizon.

Every replica runs it, in the webhook deliverer's rounds, at most once per ``interval_s``.
It reads what falls due (``AttentionService.due_within``) in a read-only transaction, then
writes each forecast date not told yet through ``EventOutbox.expiring`` in a short
transaction of its own; the hook's ``forecast_notices`` row makes the event once per date,
however many replicas see the same date at the same moment. Never calls a provider.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Connection as Tx

from tokendesk.domain.attention import AttentionItem
from tokendesk.domain.events import EventKind
from tokendesk.domain.forecast import ForecastKind
from tokendesk.services.attention import AttentionService
from tokendesk.services.events import EventOutbox, forecast_subject
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.db import Transaction
from tokendesk.storage.outbox import ForecastNoticeRepository
from tokendesk.storage.tokens import TokenRepository

log = logging.getLogger(__name__)

# How often each process looks, by default (TOKENDESK_FORECAST_POLL_S): forecasts move by
# days, so a few minutes late is on time.
FORECAST_POLL_S = 300.0

EVENT_OF_FORECAST = {
    ForecastKind.CONSENT_NEEDED: EventKind.TOKEN_EXPIRING,
    ForecastKind.SECRET_EXPIRES: EventKind.CONNECTION_CREDENTIALS_EXPIRING,
    ForecastKind.CERTIFICATE_EXPIRES: EventKind.CONNECTION_CREDENTIALS_EXPIRING,
}


class ForecastNotifier:
    """Writes ``token.expiring`` and ``connection.credentials_expiring`` events."""

    def __init__(
        self,
        transaction: Transaction,
        attention: AttentionService,
        events: EventOutbox,
        clock: Callable[[], datetime],
        *,
        interval_s: float = FORECAST_POLL_S,
    ) -> None:
        self.transaction = transaction
        self.attention = attention
        self.events = events
        self.clock = clock
        self.interval_s = interval_s
        self._ran_at: datetime | None = None

    def run_if_due(self) -> int:
        """:meth:`run_once` unless this process ran it less than ``interval_s`` ago (by the
        clock); returns how many events it wrote."""
        now = self.clock()
        if self._ran_at is not None and now - self._ran_at < timedelta(seconds=self.interval_s):
            return 0
        self._ran_at = now
        return self.run_once()

    def run_once(self) -> int:
        """Write an event for every forecast inside the horizon not told before; returns how
        many were written (by this process: another replica may have told the rest)."""
        with self.transaction(read_only=True) as tx:
            told = ForecastNoticeRepository(tx).told()
            due = [
                item for item in self.attention.due_within(tx)
                if item.forecast is not None
                and (forecast_subject(item.connection_id, item.token_id),
                     item.forecast.due_at) not in told
            ]
        written = 0
        for item in due:
            with self.transaction() as tx:
                written += self._tell(tx, item)
        if written:
            log.info("forecasts: %d expiring event(s) written", written)
        return written

    def _tell(self, tx: Tx, item: AttentionItem) -> int:
        """1 when the event of ``item`` was written now; 0 when it was told already, or its
        connection or token went away since it was read."""
        forecast = item.forecast
        connection = ConnectionRepository(tx).get(item.connection_id)
        if forecast is None or connection is None:
            return 0
        token = None
        if item.token_id is not None:
            token = TokenRepository(tx).get(item.token_id)
            if token is None:
                return 0
        written = self.events.expiring(
            tx, EVENT_OF_FORECAST[forecast.kind], connection, due_at=forecast.due_at,
            source=forecast.source_words, token=token, forecast=forecast.kind.value,
            reason=item.reason,
        )
        return 0 if written is None else 1
