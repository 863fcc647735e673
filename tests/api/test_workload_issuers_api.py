"""Trusted workload issuers and their rules through the REST API: administrators only,
validated in words a person understands, each rule shown in plain words, audited."""

from __future__ import annotations

from typing import Any

import pytest

from support.api import Api, make_user

ISSUER = "https://token.ci.example.test"


def issuer(admin: Api, **overrides: Any) -> dict[str, Any]:
    body = {"name": "ci", "issuer": ISSUER, "audiences": ["https://tokendesk.example.test"],
            **overrides}
    answer = admin.post("/workload-issuers", json=body)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_an_administrator_trusts_an_issuer_with_safe_defaults(admin: Api) -> None:
    created = issuer(admin, issuer=ISSUER + "/")

    assert created["issuer"] == ISSUER  # without the trailing slash
    assert created["algorithms"] == ["RS256", "ES256"]
    assert created["max_lifetime_s"] == 3600 and created["refuse_replay"] is False
    assert [i["name"] for i in admin.get("/workload-issuers").json()] == ["ci"]


def test_rules_map_claims_to_a_workload_with_roles_or_to_a_user(admin: Api) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    issuer(admin)

    workload = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "repository", "equals": "acme/robots"},
                       {"claim": "ref", "prefix": "refs/heads/"}],
        "acts_as": "workload", "workload": "robots", "roles": ["Sales bots"]})
    user = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "sub", "one_of": ["deployer", "releaser"]}],
        "acts_as": "user", "user": "admin"})

    assert workload.status_code == 201, workload.text
    assert workload.json()["words"] == (
        'When repository is "acme/robots" and ref starts with "refs/heads/", act as workload '
        "robots with roles: Sales bots.")
    assert user.json()["words"] == (
        'When sub is one of "deployer", "releaser", act as user admin.')
    shown = admin.get("/workload-issuers/ci").json()["rules"]
    assert [r["id"] for r in shown] == [workload.json()["id"], user.json()["id"]]
    gone = admin.delete(f"/workload-issuers/ci/rules/{user.json()['id']}")
    assert gone.status_code == 204
    assert len(admin.get("/workload-issuers/ci").json()["rules"]) == 1


def test_an_issuer_and_a_rule_are_edited_in_place_and_audited(admin: Api) -> None:
    admin.post("/roles", json={"name": "Sales bots", "permissions": []})
    issuer(admin)
    first = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "sub", "equals": "a"}], "acts_as": "workload",
        "workload": "a", "roles": []}).json()
    second = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "sub", "equals": "b"}], "acts_as": "user",
        "user": "admin"}).json()

    edited = admin.put("/workload-issuers/ci", json={
        "name": "GitHub CI", "issuer": ISSUER, "audiences": ["tokendesk"],
        "algorithms": ["ES256"], "max_lifetime_s": 600, "refuse_replay": True})
    rule = admin.put(f"/workload-issuers/GitHub CI/rules/{first['id']}", json={
        "conditions": [{"claim": "sub", "prefix": "repo:acme/"}], "acts_as": "workload",
        "workload": "acme", "roles": ["Sales bots"]})
    missing = admin.put("/workload-issuers/GitHub CI/rules/nope", json={
        "conditions": [{"claim": "sub", "equals": "x"}], "acts_as": "user", "user": "admin"})

    assert edited.status_code == 200, edited.text
    assert (edited.json()["name"], edited.json()["audiences"]) == ("GitHub CI", ["tokendesk"])
    assert (edited.json()["max_lifetime_s"], edited.json()["refuse_replay"]) == (600, True)
    assert rule.status_code == 200, rule.text
    assert rule.json()["words"] == (
        'When sub starts with "repo:acme/", act as workload acme with roles: Sales bots.')
    shown = admin.get("/workload-issuers/GitHub CI").json()["rules"]
    assert [r["id"] for r in shown] == [first["id"], second["id"]]  # the rule kept its place
    assert missing.status_code == 404
    actions = [e["action"] for e in admin.get("/audit").json()]
    assert "workload_issuer.update" in actions and "workload_rule.update" in actions


@pytest.mark.parametrize(("overrides", "field", "words"), [
    ({"algorithms": ["none"]}, "algorithms", "never none"),
    ({"algorithms": ["HS256"]}, "algorithms", "never an HMAC algorithm"),
    ({"max_lifetime_s": 10}, "max_lifetime_s", "between 60 and"),
    ({"audiences": [" "]}, "audiences", "at least one audience"),
    ({"issuer": "http://token.ci.example.test"}, "issuer", "over https"),
])
def test_an_unsafe_issuer_is_refused_in_words(admin: Api, overrides: dict[str, Any],
                                             field: str, words: str) -> None:
    answer = admin.post("/workload-issuers", json={
        "name": "ci", "issuer": ISSUER, "audiences": ["a"], **overrides})

    assert answer.status_code == 422, answer.text
    assert answer.json()["error"]["field"] == field
    assert words in answer.json()["error"]["message"]


def test_a_rule_with_a_system_role_or_an_unknown_user_is_refused(admin: Api) -> None:
    issuer(admin)

    system = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "sub", "equals": "x"}], "acts_as": "workload",
        "workload": "w", "roles": ["Administrator"]})
    nobody = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "sub", "equals": "x"}], "acts_as": "user", "user": "nobody"})
    no_test = admin.post("/workload-issuers/ci/rules", json={
        "conditions": [{"claim": "sub", "matches": ".*"}], "acts_as": "workload",
        "workload": "w"})

    assert system.status_code == 404 and "system roles" in system.json()["error"]["message"]
    assert nobody.status_code == 404
    assert no_test.status_code == 422
    assert "exactly one of equals, prefix or one_of" in no_test.json()["error"]["message"]


def test_the_same_issuer_twice_is_a_conflict(admin: Api) -> None:
    issuer(admin)

    again = admin.post("/workload-issuers", json={"name": "other", "issuer": ISSUER,
                                                  "audiences": ["a"]})

    assert again.status_code == 409


def test_only_administrators_manage_issuers(td: Any, http: Any, admin: Api) -> None:
    bot = Api(http, make_user(td, "bot"))

    assert bot.get("/workload-issuers").status_code == 403
    assert bot.post("/workload-issuers", json={"name": "ci", "issuer": ISSUER,
                                               "audiences": ["a"]}).status_code == 403


def test_changes_are_audited(admin: Api) -> None:
    issuer(admin)
    admin.delete("/workload-issuers/ci")

    actions = [e["action"] for e in admin.get("/audit").json()]
    assert "workload_issuer.create" in actions and "workload_issuer.delete" in actions
    assert admin.get("/workload-issuers/ci").status_code == 404


def test_a_jwt_bearer_is_left_to_fastapis_route_not_the_hot_paths_cache() -> None:
    from tokendesk.domain.tokens import TokenKind
    from tokendesk.web.hotpath import bot_handout

    def scope(bearer: str) -> dict[str, Any]:
        return {"type": "http", "method": "GET", "path": "/api/v1/connections/CRM/token",
                "query_string": b"", "headers": [(b"authorization", f"Bearer {bearer}".encode())]}

    assert bot_handout(scope("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln")) is None
    assert bot_handout(scope("td_0123456789ab_secret")) == (
        "td_0123456789ab_secret", "CRM", TokenKind.SHARED)


def test_a_forged_jwt_bearer_on_the_handout_is_refused_by_the_route(admin: Api, http: Any) -> None:
    answer = http.get("/api/v1/connections/CRM/token",
                      headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0."})

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "workload_token_rejected"
    assert "not a trusted workload issuer" in answer.json()["error"]["message"]
