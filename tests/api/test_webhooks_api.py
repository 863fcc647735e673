"""``/api/v1/webhooks``: administrators register receivers, see the signing secret once,
edit, remove, test them and read every delivery attempt; receivers obey the URL rules and the
egress policy. On SQLite and PostgreSQL, with a real receiver on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from support.api import Api, connection_body, make_user
from support.webhook_receiver import WebhookReceiver
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tables import webhooks
from tokendesk.wiring import Tokendesk

ALL_EVENTS = [
    "token.refresh_failed", "token.backing_off", "token.reauthentication_required",
    "token.recovered", "token.expiring", "connection.misconfigured",
    "connection.credentials_expiring", "connection.recovered",
]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Receivers on 127.0.0.1 over plain http, as in development."""
    return settings.model_copy(
        update={"allow_http_loopback": True, "egress_allowlist": "127.0.0.1",
                "webhook_timeout_s": 5.0}
    )


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def create(admin: Api, receiver: WebhookReceiver, **changes: Any) -> dict[str, Any]:
    body = {"url": receiver.url, "events": ["token.recovered", "connection.misconfigured"],
            "description": "on-call channel"} | changes
    response = admin.post("/webhooks", json=body)
    assert response.status_code == 201, response.text
    created = dict(response.json())
    receiver.secret = created["secret"]
    return created


def test_a_new_webhook_shows_its_signing_secret_once(
    admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)
    shown = admin.get(f"/webhooks/{created['id']}")

    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["token.recovered", "connection.misconfigured"]
    assert created["enabled"] is True and created["created_by"] == "admin"
    assert shown.status_code == 200
    assert "secret" not in shown.json()
    assert created["secret"] not in shown.text
    assert created["secret"] not in admin.get("/webhooks").text


def test_the_signing_secret_is_stored_encrypted(
    td: Tokendesk, admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)

    with td.transaction(read_only=True) as tx:
        stored = tx.execute(select(webhooks.c.secret_ct)).scalar_one()
    assert created["secret"] not in stored
    assert created["secret"].removeprefix("whsec_") not in stored


def test_only_administrators_manage_webhooks(
    td: Tokendesk, admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)
    manager = Api(admin.http, make_user(td, "mia", permissions=["oauth_connections.manage"]))

    assert manager.get("/webhooks").status_code == 403
    assert manager.post("/webhooks", json={"url": receiver.url, "events": ALL_EVENTS}
                        ).status_code == 403
    assert manager.delete(f"/webhooks/{created['id']}").status_code == 403
    assert manager.get(f"/webhooks/{created['id']}/deliveries").status_code == 403


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"url": "ftp://hooks.example.com/x", "events": ["token.recovered"]}, "url", "https"),
        ({"url": "https://10.1.2.3/hook", "events": ["token.recovered"]}, "url", "10.1.2.3"),
        ({"url": "https://hooks.example.com/x", "events": ["token.exploded"]}, "events",
         "'token.exploded' is not an event"),
        ({"url": "https://hooks.example.com/x", "events": []}, "events", "token.recovered"),
    ],
)
def test_a_bad_webhook_is_refused_naming_the_field(
    admin: Api, body: dict[str, Any], field: str, words: str
) -> None:
    response = admin.post("/webhooks", json=body)

    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["field"] == field
    assert words in error["message"]


def test_a_webhook_is_edited_and_removed(admin: Api, receiver: WebhookReceiver) -> None:
    created = create(admin, receiver)

    edited = admin.patch(f"/webhooks/{created['id']}",
                         json={"events": ALL_EVENTS, "description": "everything"})
    removed = admin.delete(f"/webhooks/{created['id']}")
    gone = admin.get(f"/webhooks/{created['id']}")

    assert edited.status_code == 200, edited.text
    assert edited.json()["events"] == ALL_EVENTS
    assert edited.json()["description"] == "everything"
    assert removed.status_code == 204
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "webhook_not_found"


def test_testing_a_webhook_sends_a_signed_test_event_and_records_the_attempt(
    admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)

    tested = admin.post(f"/webhooks/{created['id']}/test")
    deliveries = admin.get(f"/webhooks/{created['id']}/deliveries")

    assert tested.status_code == 200, tested.text
    assert tested.json()["state"] == "delivered"
    assert receiver.refused == []
    assert receiver.types() == ["webhook.test"]
    assert receiver.ids() == [tested.json()["event_id"]]
    [delivery] = deliveries.json()
    assert delivery["event_type"] == "webhook.test"
    [attempt] = delivery["attempt_log"]
    assert attempt["outcome"] == "delivered" and attempt["status_code"] == 204


def test_testing_a_webhook_whose_receiver_is_down_says_why_and_retries_later(
    admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)
    receiver.stop()

    tested = admin.post(f"/webhooks/{created['id']}/test").json()

    assert tested["state"] == "pending"
    assert tested["next_attempt_at"] is not None
    [attempt] = tested["attempt_log"]
    assert attempt["outcome"] == "retrying" and attempt["status_code"] is None
    assert "127.0.0.1 could not be reached" in attempt["error"]


def test_metrics_show_tokens_by_connection_and_state_and_deliveries_by_outcome(
    td: Tokendesk, admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)
    admin.post(f"/webhooks/{created['id']}/test")
    with td.transaction() as tx:
        connection = td.connections.create(
            tx, command_line_principal(), ConnectionCreate.model_validate(connection_body()))
        tokens = TokenSet(Secret("at-1"), "Bearer", td.clock() + timedelta(hours=1),
                          Secret("rt-1"))
        td.tokens.store(tx, connection, TokenKind.SHARED, None, tokens)

    text = admin.http.get("/metrics").text

    assert 'tokens{connection="Salesforce prod",state="valid"} 1.0' in text
    assert 'webhook_deliveries{outcome="delivered"} 1.0' in text
    assert 'webhook_delivery_attempts_total{outcome="delivered"} 1.0' in text


def test_webhook_changes_are_audited_without_the_secret(
    admin: Api, receiver: WebhookReceiver
) -> None:
    created = create(admin, receiver)
    admin.patch(f"/webhooks/{created['id']}", json={"enabled": False})
    admin.delete(f"/webhooks/{created['id']}")

    audit = admin.get("/audit", params={"limit": 100})

    actions = [e["action"] for e in audit.json()]
    assert {"webhook.create", "webhook.update", "webhook.delete"} <= set(actions)
    assert created["secret"] not in audit.text
