"""Helpers of the notification tests: a replica of the desk, and subscribing a receiver."""

from __future__ import annotations

import httpx

from support.passwords import CHEAP_PASSWORDS
from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.domain.events import EventKind
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.outbound import Outbound
from tokendesk.services.inputs import WebhookCreate
from tokendesk.wiring import Tokendesk, build
from tokens.lifecycle_support import FakeProvider, ManualClock


def open_replica(settings: Settings, clock: ManualClock, provider: FakeProvider) -> Tokendesk:
    """A Tokendesk as ``build`` wires it; providers are the fake endpoint, webhook receivers
    are called for real (through the egress policy: 127.0.0.1 is allowlisted)."""
    return build(
        settings,
        clock=clock,
        outbound=Outbound(transport=httpx.MockTransport(provider)),
        passwords=CHEAP_PASSWORDS,
    )


def subscribe(td: Tokendesk, receiver: WebhookReceiver, events: list[EventKind] | None = None
              ) -> str:
    """Register ``receiver`` for ``events`` (all by default); returns the webhook's id."""
    body = WebhookCreate(url=receiver.url, events=[e.value for e in events or list(EventKind)])
    with td.transaction() as tx:
        created = td.webhooks.create(tx, command_line_principal(), body)
    receiver.secret = created.secret.reveal()
    return created.webhook.id
