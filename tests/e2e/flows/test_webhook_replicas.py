"""Webhooks end to end: two ``tokendesk serve`` replicas on one PostgreSQL deliver the events
of a real authorization server's refusals to a receiver on 127.0.0.1, which verifies every
signature with the Standard Webhooks library and sees each event once, in order, across an
outage of its own. Only the clock of the desk that writes the events is moved."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from support.desk import Desk
from support.processes import ServeProcess, replica_env
from support.tokendesk_server import Clock
from support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.parametrize("database_url", ["postgres"], indirect=True)

ONE_HOUR_S = 3600
DAMPING_WINDOW_S = 60
WAIT_S = 90.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


@pytest.fixture
def replicas(desk: Desk, tmp_path: Path) -> Iterator[list[ServeProcess]]:
    env = replica_env(desk.server.settings, tmp_path / "replica-data",
                      TOKENDESK_LOG_LEVEL="WARNING", TOKENDESK_WEBHOOK_POLL_S="0.2",
                      TOKENDESK_WEBHOOK_TIMEOUT_S="5")
    started = [ServeProcess(env, tmp_path / f"replica-{i}.log").start() for i in range(2)]
    yield started
    for replica in started:
        replica.stop()


def save_shared_token(desk: Desk) -> None:
    verdict = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    assert verdict.status_code == 200, verdict.text
    desk.consent(verdict.json()["authorize_url"])


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_two_replicas_deliver_every_event_once_in_order_across_a_receiver_outage(
    desk: Desk, clock: Clock, receiver: WebhookReceiver, replicas: list[ServeProcess]
) -> None:
    webhook = desk.admin.post("/webhooks", json={
        "url": receiver.url, "events": ["token.reauthentication_required", "token.recovered",
                                        "token.refresh_failed", "connection.misconfigured"]})
    assert webhook.status_code == 201, webhook.text
    receiver.secret = webhook.json()["secret"]
    desk.create_connection("Graph", "code-basic")
    client_secret = desk.oauth.clients["code-basic"].client_secret
    save_shared_token(desk)

    # The grant is refused for good: a person must consent again.
    desk.oauth.inject_fault(error="invalid_grant", grant_type="refresh_token")
    clock.advance(ONE_HOUR_S)
    assert desk.bot.get("/connections/Graph/token").status_code == 409
    wait_for(lambda: len(receiver.received) == 1, "the first event")

    receiver.stop()
    clock.advance(DAMPING_WINDOW_S + 1)
    save_shared_token(desk)  # consented again: recovered
    # The client is refused, by a server that echoes the secret in its description.
    desk.oauth.inject_fault(error="invalid_client", error_description=f"bad {client_secret}")
    clock.advance(ONE_HOUR_S)
    assert desk.bot.get("/connections/Graph/token").status_code != 200

    def attempted_while_down() -> bool:
        deliveries = desk.admin.get(f"/webhooks/{webhook.json()['id']}/deliveries").json()
        return any(a["outcome"] == "retrying" for d in deliveries for a in d["attempt_log"])

    wait_for(attempted_while_down, "an attempt while the receiver is down")
    receiver.start()
    wait_for(lambda: len(receiver.received) >= 4, "every event after the outage")
    time.sleep(1.0)  # a duplicate, if any, would arrive within the replicas' next rounds

    logs = [r.logs() for r in replicas]
    assert receiver.refused == [], logs
    assert len(receiver.ids()) == len(set(receiver.ids())) == 4, receiver.types()
    assert receiver.types() == [
        "token.reauthentication_required", "token.recovered",
        "token.refresh_failed", "connection.misconfigured",
    ]
    assert {r.payload["data"]["connection"]["name"] for r in receiver.received} == {"Graph"}
    assert client_secret not in receiver.bodies()
