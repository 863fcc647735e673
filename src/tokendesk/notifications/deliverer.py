"""The webhook deliverer: sends each delivery, signed per Standard Webhooks, until the
receiver takes it (any 2xx), with retries and back-off, and records every attempt.

Every replica runs it. A delivery is sent under a lease taken in a short transaction of its
own (no transaction is open while the receiver is called, and the lease outlives the call's
deadline), so two replicas never send the same delivery; only the oldest undelivered
delivery of a (webhook, connection) is sent, so events arrive in order per connection. A
receiver down for an hour gets everything once it is back: retries are at most
DELIVERY_RETRY_MAX_S apart, and given up only after DELIVERY_GIVE_UP_S.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tokendesk.domain.webhooks import signed_headers
from tokendesk.errors import ProviderError
from tokendesk.metrics import Metrics
from tokendesk.notifications.attempts import PurgePace, Rounds, after_attempt, clipped
from tokendesk.notifications.dispatch import OutboxDispatcher
from tokendesk.notifications.forecasts import ForecastNotifier
from tokendesk.oauth.outbound import Outbound, ProxyRoute
from tokendesk.services.proxy import ProxyService
from tokendesk.services.webhooks import WebhookService
from tokendesk.storage.db import Transaction
from tokendesk.storage.outbox import OutboxRepository
from tokendesk.storage.webhooks import (
    DELIVERED,
    FAILED,
    DeliveryRecord,
    DeliveryRepository,
    WebhookRepository,
    purge_finished,
)

log = logging.getLogger(__name__)

# The lease outlives the call's total deadline by this much.
LEASE_MARGIN_S = 10.0
# Deliveries sent per round; a disabled webhook's deliveries wait this long between looks.
DELIVERY_BATCH = 50
DISABLED_RECHECK_S = 60.0


@dataclass(frozen=True, slots=True)
class _Send:
    """What one attempt needs, read while taking the lease."""

    delivery: DeliveryRecord
    url: str
    headers: dict[str, str]
    body: bytes
    route: ProxyRoute


class WebhookDeliverer:
    def __init__(
        self,
        transaction: Transaction,
        dispatcher: OutboxDispatcher,
        webhooks: WebhookService,
        proxy: ProxyService,
        outbound: Outbound,
        metrics: Metrics,
        clock: Callable[[], datetime],
        *,
        poll_s: float = 2.0,
        wall: Callable[[], float] = time.time,
        forecasts: ForecastNotifier | None = None,
    ) -> None:
        self.transaction = transaction
        self.dispatcher = dispatcher
        self.webhooks = webhooks
        self.proxy = proxy
        self.outbound = outbound
        self.metrics = metrics
        self.clock = clock
        # webhook-timestamp is the real time: receivers hold it against their own clock.
        self.wall = wall
        # The forecasts' job rides on these rounds: every replica runs them.
        self.forecasts = forecasts
        self.lease_s = outbound.total_deadline_s + LEASE_MARGIN_S
        self.owner = "w" + secrets.token_hex(8)
        self._purge = PurgePace()
        self._rounds = Rounds("webhook-deliverer", self.run_once, poll_s)

    def run_once(self) -> int:
        """Write the forecasts' events when their interval has passed, dispatch the outbox,
        then send every delivery due now; returns how many were taken by their receiver."""
        if self.forecasts is not None:
            self.forecasts.run_if_due()
        self.dispatcher.dispatch()
        self.purge_if_due()
        with self.transaction(read_only=True) as tx:
            due = DeliveryRepository(tx).due(self.clock(), DELIVERY_BATCH)
        return sum(1 for d in due if self.send(d.id))

    def purge_if_due(self) -> int:
        """Forget deliveries and handed-out events finished more than RETENTION_S ago (the
        deliveries API shows them until then), at most once per PURGE_INTERVAL_S; returns
        how many rows went."""
        cutoff = self._purge.cutoff_if_due(self.clock())
        if cutoff is None:
            return 0
        with self.transaction() as tx:
            return purge_finished(tx, cutoff)

    def send(self, delivery_id: str) -> bool:
        """One attempt at a delivery, unless another holder has it or it is not pending;
        returns True when the receiver took it."""
        call = self._lease(delivery_id)
        if call is None:
            return False
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            reply = self.outbound.post_json(call.url, call.body, call.headers, route=call.route)
            status = reply.status
            if not 200 <= status < 300:
                error = f"The receiver answered HTTP {status}."
        except ProviderError as exc:
            error = exc.message
        duration_ms = int((time.monotonic() - started) * 1000)
        self._record(call.delivery, status, error, duration_ms)
        return error is None

    def _lease(self, delivery_id: str) -> _Send | None:
        now = self.clock()
        with self.transaction() as tx:
            repo = DeliveryRepository(tx)
            until = now + timedelta(seconds=self.lease_s)
            if not repo.take_lease(delivery_id, self.owner, now, until):
                return None
            delivery = repo.get(delivery_id)
            webhook = WebhookRepository(tx).get(delivery.webhook_id) if delivery else None
            event = OutboxRepository(tx).by_id(delivery.event_id) if delivery else None
            if delivery is None or webhook is None:
                return None
            if event is None:  # fail closed: nothing to send, so nothing is sent
                values = {"state": FAILED, "last_error": "The event of this delivery is gone."}
                repo.finish(delivery_id, self.owner, values)
                return None
            if not webhook.enabled:
                later = now + timedelta(seconds=DISABLED_RECHECK_S)
                repo.finish(delivery_id, self.owner, {"next_attempt_at": later})
                return None
            body = json.dumps(event.payload, separators=(",", ":"), sort_keys=True).encode()
            secret = self.webhooks.signing_secret(webhook)
            headers = signed_headers(secret, event.id, int(self.wall()), body)
            return _Send(delivery, webhook.url, headers, body, self.proxy.route(tx))

    def _record(
        self, delivery: DeliveryRecord, status: int | None, error: str | None, duration_ms: int
    ) -> None:
        now = self.clock()
        values, outcome = after_attempt(error, attempts=delivery.attempts,
                                        created_at=delivery.created_at, now=now,
                                        done=(DELIVERED, "delivered_at"))
        values["last_status"] = status
        with self.transaction() as tx:
            repo = DeliveryRepository(tx)
            repo.record_attempt(
                {
                    "delivery_id": delivery.id,
                    "at": now,
                    "status_code": status,
                    "duration_ms": duration_ms,
                    "outcome": outcome,
                    "error": clipped(error),
                }
            )
            if not repo.finish(delivery.id, self.owner, values):
                log.error("webhook delivery %s: its lease was lost during the call", delivery.id)
        self.metrics.webhook_delivery(outcome)

    # --- running in the background -------------------------------------------------------

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        """Start nothing more; returns once the attempt in flight has ended."""
        self._rounds.stop(self.lease_s)
