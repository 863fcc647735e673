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
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from tokendesk.domain.webhooks import DELIVERY_GIVE_UP_S, retry_delay, signed_headers
from tokendesk.errors import ProviderError, TokendeskError
from tokendesk.metrics import Metrics
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
# Finished deliveries and handed-out events are kept this long (the deliveries API shows
# them), then forgotten; each process looks once per PURGE_INTERVAL_S.
RETENTION_S = 30 * 24 * 3600.0
PURGE_INTERVAL_S = 3600.0
# Deliveries sent per round; a disabled webhook's deliveries wait this long between looks.
DELIVERY_BATCH = 50
DISABLED_RECHECK_S = 60.0
ERROR_MAX = 500


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
        self.poll_s = poll_s
        # webhook-timestamp is the real time: receivers hold it against their own clock.
        self.wall = wall
        # The forecasts' job rides on these rounds: every replica runs them.
        self.forecasts = forecasts
        self.lease_s = outbound.total_deadline_s + LEASE_MARGIN_S
        self.owner = "w" + secrets.token_hex(8)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._purged_at: datetime | None = None

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
        """Forget what finished more than RETENTION_S ago, at most once per
        PURGE_INTERVAL_S; returns how many rows went."""
        now = self.clock()
        if self._purged_at is not None and now - self._purged_at < timedelta(
            seconds=PURGE_INTERVAL_S
        ):
            return 0
        self._purged_at = now
        with self.transaction() as tx:
            return purge_finished(tx, now - timedelta(seconds=RETENTION_S))

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
        attempts = delivery.attempts + 1
        if error is None:
            values: dict[str, object] = {"state": DELIVERED, "delivered_at": now}
            outcome = "delivered"
        elif now - delivery.created_at >= timedelta(seconds=DELIVERY_GIVE_UP_S):
            values, outcome = {"state": FAILED}, "gave_up"
        else:
            values, outcome = {"next_attempt_at": now + retry_delay(attempts)}, "retrying"
        values |= {
            "attempts": attempts,
            "last_status": status,
            "last_error": None if error is None else error[:ERROR_MAX],
        }
        with self.transaction() as tx:
            repo = DeliveryRepository(tx)
            repo.record_attempt(
                {
                    "delivery_id": delivery.id,
                    "at": now,
                    "status_code": status,
                    "duration_ms": duration_ms,
                    "outcome": outcome,
                    "error": None if error is None else error[:ERROR_MAX],
                }
            )
            if not repo.finish(delivery.id, self.owner, values):
                log.error("webhook delivery %s: its lease was lost during the call", delivery.id)
        self.metrics.webhook_delivery(outcome)

    # --- running in the background -------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="webhook-deliverer", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Start nothing more; returns once the attempt in flight has ended."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.lease_s)

    def _loop(self) -> None:
        while not self._stop.wait(self.poll_s):
            try:
                self.run_once()
            except TokendeskError as exc:  # e.g. the database is down: try again next time
                log.warning("webhook delivery round failed: %s", exc.code)
