"""``GET /api/v1/attention``: every connection and token that needs a person now or within
the horizon, most urgent first, each with its reason, who can fix it and where; an
administrator sees everything, a user his part. ``/connections/{name}/forecasts`` too."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.api import ADMIN_PASSWORD, Api, connection_body, key_for, make_user
from support.client_keys import NOT_AFTER, key_pair
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.domain.tokens import TokenKind, TokenSet, TokenStatus
from tokendesk.services.inputs import RoleCreate
from tokendesk.storage.tokens import TokenChange, TokenRepository
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PUBLIC = "https://tokendesk.example.test"


class MovableClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(START)


@pytest.fixture
def td(settings: Settings, clock: MovableClock) -> Iterator[Tokendesk]:
    quiet = settings.model_copy(update={"background_refresh": False})
    app = build(quiet, passwords=CHEAP_PASSWORDS, clock=clock)
    with app.transaction() as tx:
        app.accounts.bootstrap_admin(tx, command_line_principal(), "admin", ADMIN_PASSWORD)
        app.accounts.create_role(tx, command_line_principal(), RoleCreate(name="jira-users"))
    yield app
    app.close()


@pytest.fixture
def http(td: Tokendesk) -> Iterator[TestClient]:
    with TestClient(create_app(td), base_url=PUBLIC) as client:
        yield client


@pytest.fixture
def admin(td: Tokendesk, http: TestClient) -> Api:
    return Api(http, key_for(td, "admin"))


def jira(admin: Api, name: str = "Jira cloud", **changes: Any) -> dict[str, Any]:
    body = connection_body(name=name, provider="jira", placeholders={}, scopes=None,
                           **{"invited_roles": ["jira-users"], **changes})
    made = admin.post("/connections", json=body)
    assert made.status_code == 201, made.text
    return dict(made.json())


def store_token(td: Tokendesk, name: str, user: str | None = None,
                refresh_expires_at: datetime | None = None) -> str:
    """A token stored as a consent stores it (now, by the test clock); returns its id."""
    actor = command_line_principal()
    with td.transaction() as tx:
        connection = td.connections.get(tx, actor, name)
        user_id = td.accounts.get_user(tx, user).id if user else None
        kind = TokenKind.USER if user else TokenKind.SHARED
        stored = td.tokens.store(tx, connection, kind, user_id, TokenSet(
            Secret("at-1"), "Bearer", td.clock() + timedelta(hours=1), Secret("rt-1"),
            refresh_expires_at=refresh_expires_at))
    return stored.id


def set_token(td: Tokendesk, token_id: str, change: TokenChange) -> None:
    with td.transaction() as tx:
        TokenRepository(tx).update(token_id, change)


def attention(api: Api, **params: Any) -> dict[str, Any]:
    answer = api.get("/attention", params=params)
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def states(found: dict[str, Any]) -> list[tuple[str, str, str | None]]:
    return [(i["state"], i["connection"], i["user"]) for i in found["items"]]


def test_nothing_needs_attention_on_a_healthy_desk(td: Tokendesk, admin: Api) -> None:
    jira(admin)
    store_token(td, "Jira cloud")

    found = attention(admin)

    assert found["items"] == []
    assert found["horizon_days"] == 14
    assert set(found["counts"].values()) == {0}


def test_a_token_unused_for_80_days_is_due_within_the_horizon_as_atlassian_documents(
    td: Tokendesk, admin: Api, clock: MovableClock
) -> None:
    jira(admin)
    store_token(td, "Jira cloud")
    clock.advance(days=80)

    (item,) = attention(admin)["items"]

    assert item["state"] == "consent_due"
    assert item["subject"] == "shared_token"
    assert item["due_at"].startswith("2027-03-01T09:00:00")
    assert item["forecast"]["source"] == "documented_inactivity"
    assert item["forecast"]["source_words"] == "Atlassian documents 90 days unused"
    assert "Consent needed by 2027-03-01 (Atlassian documents 90 days unused)." in item["reason"]
    assert item["fixer"] == "administrator"
    assert item["who_can_fix"] == "an administrator with Manage connections"
    assert item["fix_url"] == f"{PUBLIC}/connections/Jira%20cloud"
    assert attention(admin, horizon_days=9)["items"] == []
    assert len(attention(admin, horizon_days=10)["items"]) == 1


def test_what_the_provider_said_of_the_refresh_token_is_a_forecast(
    td: Tokendesk, admin: Api, clock: MovableClock
) -> None:
    jira(admin)
    store_token(td, "Jira cloud", refresh_expires_at=START + timedelta(days=5))

    (item,) = attention(admin)["items"]

    assert item["forecast"]["source"] == "provider_said"
    assert item["reason"].startswith("Consent needed by 2026-12-06 (the provider said).")
    forecasts = admin.get("/connections/Jira cloud/forecasts").json()
    assert [f["source"] for f in forecasts["tokens"][0]["forecasts"]] == [
        "provider_said", "documented_inactivity", "documented_absolute"]
    assert forecasts["connection"] == []


def test_broken_tokens_come_before_forecasts_each_with_who_fixes_it_and_where(
    td: Tokendesk, admin: Api, clock: MovableClock
) -> None:
    make_user(td, "alice", roles=["jira-users"])
    jira(admin, "Jira cloud")
    jira(admin, "Jira staging", client_secret_expires_on="2026-12-10")
    shared = store_token(td, "Jira cloud")
    mine = store_token(td, "Jira staging", user="alice")
    set_token(td, shared, TokenChange(status=TokenStatus.NEEDS_REAUTHENTICATION,
                                      last_error="invalid_grant: the grant was revoked."))
    set_token(td, mine, TokenChange(failure_count=3, last_error="the provider failed (HTTP 503)",
                                    next_attempt_at=START + timedelta(minutes=8)))

    found = attention(admin)

    assert states(found) == [
        ("needs_consent", "Jira cloud", None),
        ("backing_off", "Jira staging", "alice"),
        ("secret_expiring", "Jira staging", None),
    ]
    consent, backing_off, secret = found["items"]
    assert "invalid_grant: the grant was revoked." in consent["reason"]
    assert "failed 3 time(s); the next try is at 2026-12-01 09:08 UTC" in backing_off["reason"]
    assert secret["reason"].startswith(
        "Client secret expires on 2026-12-10 (entered by an administrator).")
    assert secret["fix_url"] == f"{PUBLIC}/connections/Jira%20staging/edit"
    assert found["counts"]["needs_consent"] == 1
    assert found["counts"]["secret_expiring"] == 1


def test_a_user_sees_his_own_tokens_and_the_connections_inviting_him_only(
    td: Tokendesk, admin: Api, http: TestClient
) -> None:
    alice = Api(http, make_user(td, "alice", roles=["jira-users"]))
    make_user(td, "bob", roles=["jira-users"])
    jira(admin, "Jira cloud")
    jira(admin, "Private", invited_roles=[], client_secret_expires_on="2026-12-02")
    for user in ("alice", "bob"):
        token = store_token(td, "Jira cloud", user=user)
        set_token(td, token, TokenChange(status=TokenStatus.NEEDS_REAUTHENTICATION))

    mine = attention(alice)

    assert states(mine) == [("needs_consent", "Jira cloud", "alice")]
    (item,) = mine["items"]
    assert item["fixer"] == "user"
    assert item["fix_url"] == f"{PUBLIC}/my/connections/Jira%20cloud"
    assert states(attention(admin)) == [
        ("needs_consent", "Jira cloud", "alice"),
        ("needs_consent", "Jira cloud", "bob"),
        ("secret_expiring", "Private", None),
    ]


def test_a_misconfigured_connection_is_listed_once_for_an_administrator(
    td: Tokendesk, admin: Api
) -> None:
    made = jira(admin)
    store_token(td, "Jira cloud")
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), made["name"])
        td.connections.mark_status(tx, connection, connection.status.MISCONFIGURED,
                                   "invalid_client: the client secret was not accepted.")

    (item,) = attention(admin)["items"]

    assert (item["state"], item["subject"], item["fixer"]) == (
        "misconfigured", "connection", "administrator")
    assert item["fix_url"] == f"{PUBLIC}/connections/Jira%20cloud/edit"


@pytest.mark.parametrize("horizon", ["-1", "400", "soon"])
def test_a_horizon_out_of_range_is_refused_in_plain_words(admin: Api, horizon: str) -> None:
    answer = admin.get("/attention", params={"horizon_days": horizon})

    assert answer.status_code == 422
    assert "horizon_days" in answer.json()["error"]["message"]


# --- the client secret's expiry date ---------------------------------------------------------


def test_the_secret_expiry_date_is_entered_shown_and_forgotten_with_a_new_secret(
    admin: Api
) -> None:
    made = jira(admin, client_secret_expires_on="2027-06-30")
    assert made["client_secret_expires_on"] == "2027-06-30"

    moved = admin.patch("/connections/Jira cloud", json={"client_secret_expires_on": "2027-09-30"})
    assert moved.json()["client_secret_expires_on"] == "2027-09-30"
    kept = admin.patch("/connections/Jira cloud", json={"description": "Issues"})
    assert kept.json()["client_secret_expires_on"] == "2027-09-30"
    renewed = admin.patch("/connections/Jira cloud", json={"client_secret": "a-new-secret-value"})
    assert renewed.json()["client_secret_expires_on"] is None
    both = admin.patch("/connections/Jira cloud", json={
        "client_secret": "a-newer-secret-value", "client_secret_expires_on": "2028-01-31"})
    assert both.json()["client_secret_expires_on"] == "2028-01-31"
    cleared = admin.patch("/connections/Jira cloud", json={"client_secret_expires_on": None})
    assert cleared.json()["client_secret_expires_on"] is None
    audit = admin.get("/audit", params={"action": "connection.update"}).json()
    changes = [e["details"]["changes"].get("client_secret_expires_on") for e in audit]
    assert {"old": "2027-06-30", "new": "2027-09-30"} in changes


@pytest.mark.parametrize(
    ("value", "words"),
    [("1999-12-31", "between 2000-01-01 and 2199-12-31"), ("2027-02-30", "client_secret_expires_on")],
)
def test_an_unusable_secret_expiry_date_is_refused_in_plain_words(
    admin: Api, value: str, words: str
) -> None:
    body = connection_body(name="Jira cloud", provider="jira", placeholders={}, scopes=None,
                           client_secret_expires_on=value)

    answer = admin.post("/connections", json=body)

    assert answer.status_code == 422
    assert words in answer.json()["error"]["message"]
    assert admin.get("/connections/Jira cloud").status_code == 404


def test_the_secret_expiry_is_a_forecast_of_the_connection(admin: Api) -> None:
    jira(admin, client_secret_expires_on=date(2027, 6, 30).isoformat())

    forecasts = admin.get("/connections/Jira cloud/forecasts").json()

    assert [(f["kind"], f["due_at"][:10], f["source_words"]) for f in forecasts["connection"]] == [
        ("secret_expires", "2027-06-30", "entered by an administrator")]


# --- the certificate of private_key_jwt ------------------------------------------------------


def signing_connection(admin: Api, **fields: Any) -> Any:
    pair = key_pair()
    return admin.post("/connections", json={
        "name": "Reports", "provider": "custom", "grant_type": "client_credentials",
        "client_id": "reports-client", "token_url": "https://login.example.test/token",
        "scopes": "api:read", "client_auth_method": "private_key_jwt",
        "client_key": pair.key_pem, "client_certificate": pair.certificate_pem, **fields})


def test_the_certificate_expiry_is_read_from_the_certificate_and_listed_when_near(
    admin: Api, clock: MovableClock
) -> None:
    assert signing_connection(admin).status_code == 201
    forecasts = admin.get("/connections/Reports/forecasts").json()
    assert [(f["kind"], f["source_words"]) for f in forecasts["connection"]] == [
        ("certificate_expires", "read from the certificate")]
    assert attention(admin)["items"] == []

    clock.now = NOT_AFTER - timedelta(days=10)
    (item,) = attention(admin)["items"]

    assert (item["state"], item["subject"]) == ("certificate_expiring", "connection")
    assert item["reason"].startswith("Client certificate expires on 2028-06-30 "
                                     "(read from the certificate).")


def test_a_signing_connection_takes_no_secret_expiry(admin: Api) -> None:
    answer = signing_connection(admin, client_secret_expires_on="2027-06-30")

    assert answer.status_code == 422
    assert "signs with a client key" in answer.json()["error"]["message"]


def test_notifications_read_the_whole_desk_with_ids_to_act_on(
    td: Tokendesk, admin: Api, clock: MovableClock
) -> None:
    made = jira(admin)
    token_id = store_token(td, "Jira cloud")
    clock.advance(days=85)

    with td.transaction(read_only=True) as tx:
        (item,) = td.attention.due_within(tx)
        assert td.attention.due_within(tx, horizon_days=1) == []

    assert item.state.value == "consent_due"
    assert item.token_id == token_id
    with td.transaction(read_only=True) as tx:
        connection = td.connections.get_by_id(tx, item.connection_id)
    assert connection is not None and connection.name == made["name"]


def gauge(text: str, series: str) -> float | None:
    """The value of ``series`` (name and labels, as exposed) in a /metrics text."""
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line[len(series) + 1:])
    return None


def test_metrics_show_each_connections_nearest_forecast(
    td: Tokendesk, admin: Api, http: TestClient, clock: MovableClock
) -> None:
    jira(admin)
    jira(admin, name="Jira later",
         client_secret_expires_on=(START.date() + timedelta(days=40)).isoformat())
    jira(admin, name="Jira quiet")
    store_token(td, "Jira cloud", refresh_expires_at=START + timedelta(days=10))
    clock.advance(days=1)

    text = http.get("/metrics").text

    # The provider said 10 days (before Atlassian's documented 90 days unused): 9 days left.
    series = 'connection_forecast_seconds{connection="Jira cloud",kind="consent_needed"}'
    assert gauge(text, series) == 9 * 86400
    # Midnight UTC of the day the secret expires, from 1 day and 9 hours after START.
    series = 'connection_forecast_seconds{connection="Jira later",kind="secret_expires"}'
    assert gauge(text, series) == 40 * 86400 - 86400 - 9 * 3600
    assert 'connection="Jira quiet"' not in text
