"""The egress allowlist through the REST API: validated strictly, audited, added to the
environment's allowlist, and in force at once -- here and in another Tokendesk on the same
database (a replica)."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from support.api import Api, make_user
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.tables import audit_events, egress_allowlist
from tokendesk.wiring import Tokendesk, build

ON_PREMISES_TOKEN_URL = "https://10.20.30.40/oauth/token"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The API tests' settings, with an allowlist in the environment."""
    return settings.model_copy(update={"egress_allowlist": "192.168.7.7, idp.env.example"})


@pytest.fixture
def replica(settings: Settings) -> Iterator[Tokendesk]:
    """A second Tokendesk on the same database, as another replica would be."""
    app = build(settings)
    yield app
    app.close()


def stored(td: Tokendesk) -> dict[str, Any] | None:
    with td.engine.connect() as conn:
        row = conn.execute(select(egress_allowlist)).first()
        return dict(row._mapping) if row else None


def on_premises_connection(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "On-premises IdP", "provider": "custom", "grant_type": "client_credentials",
        "client_id": "desk", "client_secret": "s3cret-value", "token_url": ON_PREMISES_TOKEN_URL,
    }
    body.update(overrides)
    return body


def test_the_environment_part_is_shown_and_nothing_is_stored_at_first(admin: Api) -> None:
    response = admin.get("/settings/egress")

    assert response.status_code == 200
    assert response.json() == {"allowlist": [], "updated_at": None, "updated_by": "",
                               "environment_allowlist": ["192.168.7.7", "idp.env.example"]}


def test_saving_stores_the_normalised_list_and_audits_old_and_new(
    admin: Api, td: Tokendesk
) -> None:
    first = admin.put("/settings/egress", json={"allowlist": "10.20.0.0/16, IDP.corp.example"})
    second = admin.put("/settings/egress", json={"allowlist": ["idp.corp.example", "[fd12::1]"]})

    assert first.status_code == 200, first.text
    assert second.json()["allowlist"] == ["idp.corp.example", "fd12::1"]
    assert second.json()["updated_by"] == "admin"
    assert admin.get("/settings/egress").json() == second.json()
    with td.engine.connect() as conn:
        events = [dict(r._mapping) for r in conn.execute(
            select(audit_events).where(audit_events.c.action == "settings.egress_allowlist.update")
            .order_by(audit_events.c.id))]
    assert [(e["actor"], e["details"]) for e in events] == [
        ("admin", {"old": [], "new": ["10.20.0.0/16", "idp.corp.example"],
                   "added": ["10.20.0.0/16", "idp.corp.example"], "removed": []}),
        ("admin", {"old": ["10.20.0.0/16", "idp.corp.example"],
                   "new": ["idp.corp.example", "fd12::1"],
                   "added": ["fd12::1"], "removed": ["10.20.0.0/16"]}),
    ]


def test_saving_the_same_list_again_changes_and_audits_nothing(admin: Api, td: Tokendesk) -> None:
    admin.put("/settings/egress", json={"allowlist": ["10.0.0.0/8"]})
    before = stored(td)

    again = admin.put("/settings/egress", json={"allowlist": "10.0.0.0/8"})

    assert again.status_code == 200
    assert stored(td) == before
    assert len(admin.get("/audit", params={"action": "settings.egress_allowlist.update"})
               .json()) == 1


@pytest.mark.parametrize(
    ("typed", "named"),
    [
        (["10.0.0.0/8", "10.0.0.0/33"], "'10.0.0.0/33' is not a valid CIDR range"),
        ("10.0.0.0/8, not a host", "'not a host' is neither a host name"),
        (["169.254.169.254"], "'169.254.169.254' includes link-local or cloud metadata"),
        (["0.0.0.0/0"], "'0.0.0.0/0' includes link-local or cloud metadata"),
        (["10.1.2.3/8"], "did you mean 10.0.0.0/8?"),
    ],
)
def test_a_bad_value_is_refused_by_name_and_nothing_is_saved(
    admin: Api, td: Tokendesk, typed: Any, named: str
) -> None:
    admin.put("/settings/egress", json={"allowlist": ["idp.corp.example"]})
    before = stored(td)

    response = admin.put("/settings/egress", json={"allowlist": typed})

    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "allowlist"
    assert named in response.json()["error"]["message"]
    assert stored(td) == before


@pytest.mark.parametrize("body", [{}, {"allowlist": [1]}, {"allowlist": "x", "extra": 1},
                                  {"environment_allowlist": ["10.0.0.0/8"], "allowlist": []}])
def test_wrong_shapes_are_refused_and_change_nothing(admin: Api, td: Tokendesk,
                                                     body: dict[str, Any]) -> None:
    response = admin.put("/settings/egress", json=body)

    assert response.status_code == 422
    assert stored(td) is None


def test_only_network_settings_permission_reads_or_changes_it(admin: Api, td: Tokendesk) -> None:
    other = Api(admin.http, make_user(td, "other", permissions=[
        "administration.users", "administration.roles", "oauth_connections.manage"]))
    network = Api(admin.http, make_user(td, "net", permissions=["administration.settings"]))

    read = other.get("/settings/egress")
    changed = other.put("/settings/egress", json={"allowlist": ["10.0.0.0/8"]})
    allowed = network.put("/settings/egress", json={"allowlist": ["10.0.0.0/8"]})

    for response in (read, changed):
        assert response.status_code == 403
        assert "Network settings" in response.json()["error"]["message"]
    assert allowed.status_code == 200 and allowed.json()["updated_by"] == "net"


def test_a_private_token_url_is_accepted_at_once_after_it_is_allowlisted_and_not_after_removal(
    admin: Api,
) -> None:
    refused = admin.post("/connections", json=on_premises_connection())
    admin.put("/settings/egress", json={"allowlist": ["10.20.0.0/16"]})
    accepted = admin.post("/connections", json=on_premises_connection())
    admin.put("/settings/egress", json={"allowlist": []})
    refused_again = admin.post("/connections", json=on_premises_connection(name="Second"))
    edited = admin.patch("/connections/On-premises IdP",
                         json={"token_url": "https://10.20.30.41/oauth/token"})

    assert refused.status_code == 422
    assert "TOKENDESK_EGRESS_ALLOWLIST" in refused.json()["error"]["message"]
    assert "Network settings" in refused.json()["error"]["message"]
    assert accepted.status_code == 201, accepted.text
    for response in (refused_again, edited):
        assert response.status_code == 422
        assert response.json()["error"]["field"] == "token_url"


def test_the_environment_part_stays_allowed_whatever_is_stored(admin: Api) -> None:
    admin.put("/settings/egress", json={"allowlist": ["10.0.0.0/8"]})
    admin.put("/settings/egress", json={"allowlist": []})

    created = admin.post("/connections", json=on_premises_connection(
        token_url="https://192.168.7.7/token"))

    assert created.status_code == 201, created.text


def test_another_replica_applies_a_change_on_its_very_next_use(
    admin: Api, td: Tokendesk, replica: Tokendesk
) -> None:
    def replica_route_allows(address: str) -> bool:
        with replica.transaction() as tx:
            policy = replica.proxy.route(tx).egress
        assert policy is not None
        return policy.address_allowed(ipaddress.ip_address(address))

    before = replica_route_allows("10.20.30.40")
    admin.put("/settings/egress", json={"allowlist": ["10.20.0.0/16"]})
    after = replica_route_allows("10.20.30.40")
    admin.put("/settings/egress", json={"allowlist": []})
    removed = replica_route_allows("10.20.30.40")

    assert (before, after, removed) == (False, True, False)
    assert replica_route_allows("192.168.7.7")  # the environment's part, always


def test_another_replica_checks_connections_against_the_stored_allowlist(
    admin: Api, replica: Tokendesk
) -> None:
    data = ConnectionCreate.model_validate(on_premises_connection())
    with pytest.raises(ValidationError), replica.transaction() as tx:
        replica.connections.create(tx, command_line_principal(), data)

    admin.put("/settings/egress", json={"allowlist": ["10.20.30.40"]})
    with replica.transaction() as tx:
        created = replica.connections.create(tx, command_line_principal(), data)

    assert created.token_url == ON_PREMISES_TOKEN_URL


def test_a_refused_save_is_audited_as_denied_with_the_reason(admin: Api, td: Tokendesk) -> None:
    response = admin.put("/settings/egress", json={"allowlist": ["2002:a9fe::/32"]})
    td.audit_buffer.flush()  # the refused transaction rolled back; the refusal is written apart

    assert response.status_code == 422
    with td.engine.connect() as conn:
        refused = conn.execute(select(audit_events).where(
            audit_events.c.action == "settings.egress_allowlist.update")).one()
    assert (refused.actor, refused.outcome, refused.target) == ("admin", "denied",
                                                                "egress_allowlist")
    assert "includes link-local or cloud metadata" in refused.details["reason"]
