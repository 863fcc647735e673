"""Use cases of webhooks: register, edit, remove, list deliveries, queue a test; and the
outbox consumer that turns each event into one delivery per subscribed webhook.

Administrators only (*Network settings*: a webhook is a receiver Tokendesk calls out to).
The signing secret is shown once, when the webhook is created, and stored encrypted with the
key ring like a client secret. The receiver's URL obeys the rules of a provider's endpoint:
https (plain http only on loopback with TOKENDESK_ALLOW_HTTP_LOOPBACK), and the egress policy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.events import TEST_EVENT, EventKind, EventState, parse_event_kinds
from tokendesk.domain.names import validate_text
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.urls import validate_endpoint_url
from tokendesk.domain.webhooks import given_signing_secret, new_signing_secret
from tokendesk.errors import ValidationError, WebhookNotFound
from tokendesk.services.audit import AuditService
from tokendesk.services.egress import EgressService
from tokendesk.services.events import new_event_id
from tokendesk.services.inputs import WebhookCreate, WebhookUpdate
from tokendesk.storage.ids import new_id
from tokendesk.storage.outbox import OutboxEvent, OutboxRepository
from tokendesk.storage.webhooks import (
    PENDING,
    AttemptRecord,
    DeliveryRecord,
    DeliveryRepository,
    WebhookRepository,
)
from tokendesk.storage.webhooks import WebhookRecord as WebhookRecord  # the web layer's type

SECRET_REF = ("webhooks", "secret_ct")
DESCRIPTION_MAX = 500
DELIVERIES_SHOWN_MAX = 200


@dataclass(frozen=True, slots=True)
class NewWebhook:
    """A webhook just created, with its signing secret (shown this once)."""

    webhook: WebhookRecord
    secret: Secret


@dataclass(frozen=True, slots=True)
class DeliveryLog:
    """A delivery with its attempts, oldest first."""

    delivery: DeliveryRecord
    attempts: list[AttemptRecord]


class WebhookService:
    def __init__(
        self,
        keyring: KeyRing,
        audit: AuditService,
        clock: Callable[[], datetime],
        egress: EgressService,
        allow_http_loopback: bool,
    ) -> None:
        self.keyring = keyring
        self.audit = audit
        self.clock = clock
        self.egress = egress
        self.allow_http_loopback = allow_http_loopback

    # --- administrators ------------------------------------------------------------------

    def create(self, tx: Tx, actor: Principal, data: WebhookCreate, *,
               webhook_id: str | None = None, secret: Secret | None = None) -> NewWebhook:
        """Register a webhook; returns it with its signing secret: ``secret`` when given
        (a desk file's, the receiver already holds it), else a new one. ``webhook_id`` keeps
        the id of a webhook moved from another desk.

        Raises PermissionDenied without *Network settings*; ValidationError naming the field.
        """
        actor.require(Permission.MANAGE_SETTINGS)
        url = self._url(tx, data.url)
        events = _events(data.events)
        description = _description(data.description)
        secret = (given_signing_secret(secret, field="signing_secret") if secret is not None
                  else new_signing_secret())
        webhook_id, now = webhook_id or new_id(), self.clock()
        WebhookRepository(tx).add(
            {
                "id": webhook_id,
                "url": url,
                "events": [e.value for e in events],
                "description": description,
                "secret_ct": self.keyring.encrypt(secret.reveal(), RowRef(*SECRET_REF, webhook_id)),
                "enabled": True,
                "created_by": actor.username,
                "created_at": now,
                "updated_at": now,
            }
        )
        self.audit.record(
            tx, actor, "webhook.create", target_type="webhook", target=webhook_id,
            details={"url": url, "events": [e.value for e in events]},
        )
        return NewWebhook(self.get(tx, actor, webhook_id), secret)

    def all(self, tx: Tx, actor: Principal) -> list[WebhookRecord]:
        actor.require(Permission.MANAGE_SETTINGS)
        return WebhookRepository(tx).all()

    def get(self, tx: Tx, actor: Principal, webhook_id: str) -> WebhookRecord:
        """Raises WebhookNotFound, PermissionDenied."""
        actor.require(Permission.MANAGE_SETTINGS)
        found = WebhookRepository(tx).get(webhook_id)
        if found is None:
            raise WebhookNotFound(f"There is no webhook '{webhook_id[:40]}'.")
        return found

    def update(self, tx: Tx, actor: Principal, webhook_id: str, data: WebhookUpdate, *,
               secret: Secret | None = None) -> WebhookRecord:
        """Edit a webhook; absent fields keep their value, and the signing secret unless
        ``secret`` replaces it (a desk file's). Raises WebhookNotFound, PermissionDenied,
        ValidationError."""
        current = self.get(tx, actor, webhook_id)
        values: dict[str, Any] = {}
        if data.url is not None:
            values["url"] = self._url(tx, data.url)
        if data.events is not None:
            values["events"] = [e.value for e in _events(data.events)]
        if data.description is not None:
            values["description"] = _description(data.description)
        if data.enabled is not None:
            values["enabled"] = data.enabled
        if secret is not None:
            values["secret_ct"] = self.keyring.encrypt(
                given_signing_secret(secret, field="signing_secret").reveal(),
                RowRef(*SECRET_REF, current.id))
        if values:
            WebhookRepository(tx).update(current.id, {**values, "updated_at": self.clock()})
            self.audit.record(
                tx, actor, "webhook.update", target_type="webhook", target=current.id,
                details={"changed": sorted(k.removesuffix("_ct") for k in values)},
            )
        return self.get(tx, actor, current.id)

    def delete(self, tx: Tx, actor: Principal, webhook_id: str) -> None:
        """Remove a webhook and its deliveries. Raises WebhookNotFound, PermissionDenied."""
        current = self.get(tx, actor, webhook_id)
        WebhookRepository(tx).delete(current.id)
        self.audit.record(
            tx, actor, "webhook.delete", target_type="webhook", target=current.id,
            details={"url": current.url},
        )

    def deliveries(self, tx: Tx, actor: Principal, webhook_id: str, limit: int = 50
                   ) -> list[DeliveryLog]:
        """The newest deliveries of a webhook, each with its attempts."""
        current = self.get(tx, actor, webhook_id)
        repo = DeliveryRepository(tx)
        found = repo.for_webhook(current.id, max(1, min(limit, DELIVERIES_SHOWN_MAX)))
        attempts = repo.attempts([d.id for d in found])
        return [DeliveryLog(d, attempts[d.id]) for d in found]

    def delivery(self, tx: Tx, actor: Principal, webhook_id: str, delivery_id: str
                 ) -> DeliveryLog:
        current = self.get(tx, actor, webhook_id)
        repo = DeliveryRepository(tx)
        found = repo.get(delivery_id)
        if found is None or found.webhook_id != current.id:
            raise WebhookNotFound(f"Webhook '{current.id}' has no delivery '{delivery_id[:40]}'.")
        return DeliveryLog(found, repo.attempts([found.id])[found.id])

    def queue_test(self, tx: Tx, actor: Principal, webhook_id: str) -> str:
        """A ``webhook.test`` event for this webhook alone; returns its delivery's id (sent
        by the caller after the commit, or by the deliverer)."""
        current = self.get(tx, actor, webhook_id)
        now, event_id = self.clock(), new_event_id()
        OutboxRepository(tx).add(
            {
                "id": event_id,
                "kind": TEST_EVENT,
                "subject": f"webhook:{current.id}",
                "ordering_key": f"webhook:{current.id}",
                "payload": {
                    "type": TEST_EVENT,
                    "timestamp": now.isoformat(),
                    "data": {"webhook": {"id": current.id}, "requested_by": actor.username},
                },
                # Handed to this webhook here, never to the consumers.
                "state": EventState.DISPATCHED.value,
                "created_at": now,
                "available_at": now,
            }
        )
        event = OutboxRepository(tx).by_id(event_id)
        assert event is not None  # written just above, in this transaction
        return self._deliver(tx, current, event)

    # --- the outbox consumer -------------------------------------------------------------

    def fan_out(self, tx: Tx, event: OutboxEvent) -> int:
        """One delivery of ``event`` per enabled webhook subscribed to its kind; returns
        how many."""
        made = 0
        for webhook in WebhookRepository(tx).all():
            if webhook.enabled and event.kind in webhook.events:
                self._deliver(tx, webhook, event)
                made += 1
        return made

    def signing_secret(self, webhook: WebhookRecord) -> Secret:
        """The decrypted signing secret, for signing only; never for output."""
        return Secret(self.keyring.decrypt(webhook.secret_ct, RowRef(*SECRET_REF, webhook.id)))

    def _deliver(self, tx: Tx, webhook: WebhookRecord, event: OutboxEvent) -> str:
        delivery_id, now = new_id(), self.clock()
        DeliveryRepository(tx).add(
            {
                "id": delivery_id,
                "webhook_id": webhook.id,
                "event_id": event.id,
                "event_seq": event.seq,
                "kind": event.kind,
                "ordering_key": event.ordering_key,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
        )
        return delivery_id

    def _url(self, tx: Tx, url: str) -> str:
        url = validate_endpoint_url(url, field="url", allow_http_loopback=self.allow_http_loopback)
        self.egress.policy(tx).check_literal(urlsplit(url).hostname or "", field="url")
        return url


def _events(values: list[str]) -> tuple[EventKind, ...]:
    kinds = parse_event_kinds(values)
    if values and kinds is not None:
        return kinds
    known = ", ".join(kind.value for kind in EventKind)
    unknown = [v for v in values if v not in {k.value for k in EventKind}]
    said = f"'{unknown[0][:64]}' is not an event Tokendesk sends. " if unknown else ""
    raise ValidationError(f"{said}Choose one or more events of: {known}.", field="events")


def _description(value: str) -> str:
    return validate_text(value, field="description", label="Description",
                         max_length=DESCRIPTION_MAX)
