"""Forecasts end to end: a refresh token whose lifetime the real authorization server said
comes within the attention horizon, and a client secret whose expiry date an administrator
entered, each reach a webhook receiver on 127.0.0.1 once -- as the receiver verifies with the
Standard Webhooks library -- whether one desk with its clock moved forward tells them, or
two ``tokendesk serve`` replicas on one PostgreSQL look at the same moment. ``/metrics``
shows each connection's nearest forecast.

The authorization server (oidc-provider) keeps refresh tokens for ``refresh_token_ttl_s``
but does not say so in its token response; providers that do say it send
``refresh_token_expires_in`` beside the refresh token, as GitHub documents for its apps
(https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/refreshing-user-access-tokens).
The tests set the server's lifetime and add that member, with the same value, to its answer.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from support.desk import Desk
from support.processes import ServeProcess, replica_env
from support.tokendesk_server import Clock
from support.webhook_receiver import WebhookReceiver

DAY_S = 24 * 3600
WAIT_S = 90.0
FORECAST_EVENTS = ["token.expiring", "connection.credentials_expiring"]


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    started = WebhookReceiver().start()
    yield started
    started.stop()


def subscribe(desk: Desk, receiver: WebhookReceiver) -> None:
    webhook = desk.admin.post("/webhooks", json={"url": receiver.url,
                                                 "events": FORECAST_EVENTS})
    assert webhook.status_code == 201, webhook.text
    receiver.secret = webhook.json()["secret"]


def refresh_tokens_last(desk: Desk, seconds: int) -> None:
    """The server keeps refresh tokens ``seconds``, and says so in the next consent's answer
    (``refresh_token_expires_in``, see the module's docstring)."""
    desk.oauth.update_settings(refresh_token_ttl_s=seconds)
    desk.oauth.inject_fault(grant_type="authorization_code",
                            response_patch={"refresh_token_expires_in": seconds})


def save_shared_token(desk: Desk) -> None:
    verdict = desk.admin.post("/connections/Graph/test", json={"save_credentials": True})
    assert verdict.status_code == 200, verdict.text
    desk.consent(verdict.json()["authorize_url"])


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def nearest_forecast_s(desk: Desk, connection: str) -> tuple[str, float]:
    """What ``/metrics`` says of ``connection``'s nearest forecast: its kind and seconds."""
    text = httpx.get(desk.server.url + "/metrics", trust_env=False).text
    found = re.findall(
        rf'^connection_forecast_seconds\{{connection="{connection}",kind="([a-z_]+)"\}} (\S+)$',
        text, re.MULTILINE)
    assert len(found) == 1, text
    return found[0][0], float(found[0][1])


def test_a_provider_said_lifetime_coming_within_the_horizon_is_told_once_as_the_clock_moves(
    desk: Desk, clock: Clock, receiver: WebhookReceiver
) -> None:
    subscribe(desk, receiver)
    desk.create_connection("Graph", "code-basic")
    refresh_tokens_last(desk, 30 * DAY_S)
    save_shared_token(desk)
    td = desk.server.td
    notifier = td.deliverer.forecasts
    assert notifier is not None

    assert notifier.run_once() == 0  # 30 days away: outside the 14 days' horizon
    kind, seconds = nearest_forecast_s(desk, "Graph")
    assert kind == "consent_needed"
    assert 29 * DAY_S < seconds <= 30 * DAY_S

    clock.advance(20 * DAY_S)
    assert notifier.run_once() == 1
    assert notifier.run_once() == 0
    td.deliverer.run_once()

    assert receiver.refused == []
    (told,) = receiver.received
    assert told.type == "token.expiring"
    assert told.payload["data"]["source"] == "the provider said"
    assert told.payload["data"]["connection"]["name"] == "Graph"
    assert told.payload["data"]["token"]["kind"] == "shared"
    assert desk.oauth.clients["code-basic"].client_secret not in receiver.bodies()
    kind, seconds = nearest_forecast_s(desk, "Graph")
    assert kind == "consent_needed"
    assert 9 * DAY_S < seconds <= 10 * DAY_S


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_two_replicas_tell_a_receiver_of_each_forecast_once(
    desk: Desk, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    subscribe(desk, receiver)
    secret_expires_on = desk.server.td.clock().date() + timedelta(days=5)
    desk.create_connection("Graph", "code-basic",
                           client_secret_expires_on=secret_expires_on.isoformat())
    refresh_tokens_last(desk, 10 * DAY_S)
    save_shared_token(desk)
    env = replica_env(desk.server.settings, tmp_path / "replica-data",
                      TOKENDESK_LOG_LEVEL="WARNING", TOKENDESK_WEBHOOK_POLL_S="0.2",
                      TOKENDESK_FORECAST_POLL_S="0.2", TOKENDESK_WEBHOOK_TIMEOUT_S="5")
    replicas = [ServeProcess(env, tmp_path / f"replica-{i}.log").start() for i in range(2)]
    try:
        wait_for(lambda: len(receiver.received) >= 2, "both forecasts")
        time.sleep(2.0)  # a duplicate, if any, would come within the replicas' next rounds
        logs = [r.logs() for r in replicas]
    finally:
        for replica in replicas:
            replica.stop()

    assert receiver.refused == [], logs
    assert sorted(receiver.types()) == sorted(FORECAST_EVENTS), logs
    assert len(set(receiver.ids())) == 2
    by_type = {r.type: r.payload["data"] for r in receiver.received}
    assert by_type["connection.credentials_expiring"]["source"] == "entered by an administrator"
    assert by_type["connection.credentials_expiring"]["due_at"].startswith(
        secret_expires_on.isoformat())
    assert by_type["token.expiring"]["source"] == "the provider said"
    assert desk.oauth.clients["code-basic"].client_secret not in receiver.bodies()
    kind, _seconds = nearest_forecast_s(desk, "Graph")
    assert kind == "secret_expires"
