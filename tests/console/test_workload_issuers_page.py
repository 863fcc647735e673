"""Administration > Workload issuers through the console (issue 17): an administrator adds,
edits and deletes a trusted issuer and its mapping rules with forms (CSRF, a notice after
each change, an error under its field that keeps everything typed); without *Manage users*
every post is refused."""

from __future__ import annotations

import html
import re

import httpx
import pytest
from console_support import Console, add_user, field_error
from sqlalchemy import func, select

from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.workload import WorkloadIssuer
from tokendesk.services.inputs import RoleCreate
from tokendesk.storage.tables import workload_issuers, workload_rules
from tokendesk.wiring import Tokendesk

HOME = "/admin/workload-issuers"
ISSUER = {"name": "GitHub Actions", "issuer": "https://token.actions.githubusercontent.com",
          "audiences": "https://tokendesk.example.test\ntokendesk",
          "algorithms": ["RS256", "ES256"], "max_lifetime_s": "900", "refuse_replay": "on"}
RULE = {"conditions": "repository==acme/robots\nref^=refs/heads/", "acts_as": "workload",
        "workload": "robots", "roles": ["Sales bots"]}


@pytest.fixture(autouse=True)
def sales_bots(td: Tokendesk) -> None:
    with td.transaction() as tx:
        td.accounts.create_role(tx, command_line_principal(), RoleCreate(name="Sales bots"))


def stored(td: Tokendesk, name: str) -> WorkloadIssuer:
    with td.transaction(read_only=True) as tx:
        return td.workloads.get(tx, command_line_principal(), name)


def count(td: Tokendesk, table: object) -> int:
    with td.transaction(read_only=True) as tx:
        return int(tx.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def text(page: httpx.Response) -> str:
    return html.unescape(page.text)


def add_issuer(admin: Console) -> httpx.Response:
    created = admin.post(HOME, ISSUER)
    assert created.status_code == 303, created.text[:2000]
    return admin.follow(created)


def test_an_issuer_added_through_the_form_is_stored_and_shown_with_a_notice(
    admin: Console, td: Tokendesk
) -> None:
    shown = add_issuer(admin)
    listed = text(admin.get(HOME))

    issuer = stored(td, "GitHub Actions")
    assert (issuer.issuer, issuer.audiences) == (
        ISSUER["issuer"], ("https://tokendesk.example.test", "tokendesk"))
    assert (issuer.algorithms, issuer.max_lifetime_s, issuer.refuse_replay) == (
        ("RS256", "ES256"), 900, True)
    assert "The workload issuer 'GitHub Actions' is trusted" in text(shown)
    assert "No rule yet" in shown.text
    assert "/admin/workload-issuers/GitHub%20Actions" in listed


def test_a_bad_issuer_is_refused_under_its_field_keeping_what_was_typed(
    admin: Console, td: Tokendesk
) -> None:
    clear_text = admin.post(HOME, {**ISSUER, "issuer": "http://ci.example.test"})
    hmac = admin.post(HOME, {**ISSUER, "algorithms": ["HS256"]})
    lifetime = admin.post(HOME, {**ISSUER, "max_lifetime_s": "a day"})
    no_audience = admin.post(HOME, {**ISSUER, "audiences": "  \n"})
    no_algorithm = admin.post(HOME, {**ISSUER, "algorithms": []})

    assert [p.status_code for p in (clear_text, hmac, lifetime, no_audience, no_algorithm)
            ] == [422] * 5
    assert "Choose at least one" in (field_error(text(no_algorithm), "algorithms") or "")
    assert "reached over https" in (field_error(text(clear_text), "issuer") or "")
    assert 'value="http://ci.example.test"' in clear_text.text
    assert "tokendesk.example.test\ntokendesk</textarea>" in clear_text.text
    assert "never an HMAC algorithm" in (field_error(text(hmac), "algorithms") or "")
    assert "whole number" in (field_error(text(lifetime), "max_lifetime_s") or "")
    assert 'value="a day"' in lifetime.text and 'value="GitHub Actions"' in lifetime.text
    assert "Enter at least one audience" in (field_error(text(no_audience), "audiences") or "")
    assert count(td, workload_issuers) == 0


def test_a_rule_is_added_edited_in_its_place_and_deleted(admin: Console, td: Tokendesk) -> None:
    add_issuer(admin)
    path = f"{HOME}/GitHub%20Actions"
    first = text(admin.follow(admin.post(f"{path}/rules", RULE)))
    admin.follow(admin.post(f"{path}/rules", {
        "conditions": "sub in repo:acme/a,repo:acme/b", "acts_as": "user", "user": "admin"}))
    [one, two] = stored(td, "GitHub Actions").rules

    form = text(admin.get(f"{path}/rules/{one.id}"))
    edited = text(admin.follow(admin.post(f"{path}/rules/{one.id}", {
        **RULE, "conditions": "repository==acme/robots\nref==refs/heads/main"})))
    [one_after, two_after] = stored(td, "GitHub Actions").rules
    deleted = text(admin.follow(admin.post(f"{path}/rules/{one.id}/delete")))

    assert ('The rule was added: When repository is "acme/robots" and ref starts with '
            '"refs/heads/", act as workload robots with roles: Sales bots.') in first
    assert "repository==acme/robots\nref^=refs/heads/</textarea>" in form
    assert (one_after.id, two_after.id) == (one.id, two.id)  # the first match still first
    assert one_after.words() == ('When repository is "acme/robots" and ref is '
                                 '"refs/heads/main", act as workload robots with roles: '
                                 'Sales bots.')
    assert two_after.words() == ('When sub is one of "repo:acme/a", "repo:acme/b", act as '
                                 'user admin.')
    assert "The rule was saved" in edited
    assert "The rule was deleted" in deleted and "acme/robots" not in deleted
    assert [r.id for r in stored(td, "GitHub Actions").rules] == [two.id]


@pytest.mark.parametrize(("change", "field", "says"), [
    ({"roles": ["Nobody"]}, "roles", "There is no custom role named 'Nobody'"),
    ({"conditions": "repository is acme"}, "conditions", "is not a condition"),
    ({"conditions": ""}, "conditions", "Write at least one condition"),
    ({"acts_as": "user", "user": "ghost"}, "user", "There is no user named 'ghost'"),
])
def test_a_bad_rule_is_refused_under_its_field_keeping_what_was_typed(
    admin: Console, td: Tokendesk, change: dict[str, object], field: str, says: str
) -> None:
    add_issuer(admin)
    path = f"{HOME}/GitHub%20Actions"
    typed = {**RULE, **change}

    added = admin.post(f"{path}/rules", typed)

    assert added.status_code == 422
    assert says in (field_error(text(added), field) or "")
    assert f">{typed['conditions']}</textarea>" in text(added)
    assert count(td, workload_rules) == 0
    # The same refusal when a stored rule is edited: it stays as it was.
    admin.follow(admin.post(f"{path}/rules", RULE))
    [rule] = stored(td, "GitHub Actions").rules
    edited = admin.post(f"{path}/rules/{rule.id}", typed)
    assert edited.status_code == 422 and says in (field_error(text(edited), field) or "")
    assert stored(td, "GitHub Actions").rules == (rule,)


def test_an_issuer_is_renamed_and_changed_then_deleted_with_its_rules(
    admin: Console, td: Tokendesk
) -> None:
    add_issuer(admin)
    admin.follow(admin.post(f"{HOME}/GitHub%20Actions/rules", RULE))

    admin.follow(admin.post(HOME, {**ISSUER, "name": "Kubernetes",
                                   "issuer": "https://kubernetes.acme.test"}))
    too_short = admin.post(f"{HOME}/GitHub%20Actions/settings",
                           {**ISSUER, "max_lifetime_s": "5"})
    clash = admin.post(f"{HOME}/GitHub%20Actions/settings", {**ISSUER, "name": "kubernetes"})
    saved = admin.post(f"{HOME}/GitHub%20Actions/settings", {
        **ISSUER, "name": "GitHub CI", "audiences": "tokendesk", "algorithms": ["ES256"],
        "max_lifetime_s": "600"})  # refuse_replay left unticked: off
    shown = text(admin.follow(saved))
    deleted = text(admin.follow(admin.post(f"{HOME}/GitHub%20CI/delete")))

    assert too_short.status_code == 422
    assert "between 60 and" in (field_error(text(too_short), "max_lifetime_s") or "")
    assert 'value="5"' in too_short.text
    assert clash.status_code == 422 and 'value="kubernetes"' in clash.text
    assert "Another workload issuer is named 'Kubernetes'" in (
        field_error(text(clash), "name") or "")
    assert saved.headers["location"] == f"{HOME}/GitHub%20CI"
    assert "The workload issuer was saved." in shown and "When repository is" in shown
    assert "The workload issuer 'GitHub CI' is no longer trusted" in deleted
    assert "GitHub CI</a></h2>" not in deleted and "Kubernetes</a></h2>" in deleted
    assert count(td, workload_issuers) == 1 and count(td, workload_rules) == 0
    assert stored(td, "Kubernetes").issuer == "https://kubernetes.acme.test"


def test_the_check_box_is_still_there_and_refuses_a_token_it_cannot_verify(
    admin: Console
) -> None:
    add_issuer(admin)

    checked = admin.post(f"{HOME}/check", {"issuer": "GitHub Actions",
                                           "token": "eyJhbGciOiJub25lIn0.e30."})

    assert checked.status_code == 422
    assert "The exchange would refuse this token" in (field_error(text(checked), "token") or "")
    assert "eyJhbGciOiJub25lIn0.e30." not in checked.text


def test_every_form_carries_the_csrf_token_and_a_post_without_it_changes_nothing(
    admin: Console, td: Tokendesk
) -> None:
    add_issuer(admin)
    admin.follow(admin.post(f"{HOME}/GitHub%20Actions/rules", RULE))
    [rule] = stored(td, "GitHub Actions").rules
    token = admin.http.cookies["__Host-tokendesk_csrf"]
    pages = [admin.get(p).text for p in (HOME, f"{HOME}/GitHub%20Actions",
                                          f"{HOME}/GitHub%20Actions/rules/{rule.id}")]

    refused = [admin.post(HOME, {**ISSUER, "name": "Other", "issuer": "https://o.test"},
                          csrf=False),
               admin.post(f"{HOME}/GitHub%20Actions/delete", csrf=False),
               admin.post(f"{HOME}/GitHub%20Actions/rules/{rule.id}/delete", csrf=False)]

    forms = [f for page in pages for f in re.findall(r"<form[^>]*>.*?</form>", page, re.S)]
    assert len(forms) >= 7
    assert all(f'name="csrf_token" value="{token}"' in f for f in forms)
    assert [r.status_code for r in refused] == [403] * 3
    assert count(td, workload_issuers) == 1 and count(td, workload_rules) == 1


def test_without_manage_users_every_form_is_refused(
    admin: Console, td: Tokendesk, browser: object
) -> None:
    add_issuer(admin)
    add_user(td, "vera", "oauth_connections.view")
    vera = browser()  # type: ignore[operator]
    assert vera.sign_in("vera").status_code == 303

    posts = [vera.post(HOME, {**ISSUER, "name": "Other", "issuer": "https://o.test"}),
             vera.post(f"{HOME}/GitHub%20Actions/settings", ISSUER),
             vera.post(f"{HOME}/GitHub%20Actions/rules", RULE),
             vera.post(f"{HOME}/GitHub%20Actions/delete")]

    assert [p.status_code for p in posts] == [403] * 4
    assert vera.get(f"{HOME}/GitHub%20Actions").status_code == 403
    assert count(td, workload_issuers) == 1 and count(td, workload_rules) == 0
