"""Administration > Network settings > Egress allowlist, through the console: the environment's
part shown read-only, the stored part edited with errors next to the field, CSRF and
permission checked, and the change in force for the next connection saved."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from typing import Any

import pytest
from console_support import Console, add_user, field_error

from support.api import connection_body
from tokendesk.config import Settings
from tokendesk.domain.audit import AuditFilter
from tokendesk.domain.principal import command_line_principal
from tokendesk.errors import ValidationError
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.wiring import Tokendesk


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"egress_allowlist": "192.168.7.7"})


def stored(td: Tokendesk) -> tuple[str, ...]:
    with td.transaction() as tx:
        return td.egress.get(tx).stored


def check(td: Tokendesk, body: dict[str, Any]) -> str | None:
    """The message refusing ``body`` as a new connection, or None when it would be saved."""
    try:
        with td.transaction() as tx:
            td.connections.checks.check_details(tx, command_line_principal(),
                                                ConnectionCreate.model_validate(body))
    except ValidationError as exc:
        return exc.message
    return None


def allowlist_field(page: str) -> str:
    found = re.search(r'<textarea id="f-allowlist"[^>]*>(.*?)</textarea>', page, re.S)
    assert found is not None
    return html.unescape(found.group(1))


def test_the_environment_part_is_shown_read_only_with_where_it_comes_from(
    admin: Console,
) -> None:
    page = admin.get("/admin/network").text
    egress = page[page.index('id="egress"'):]

    assert "<code>192.168.7.7</code>" in egress
    assert "(read-only)" in egress and "TOKENDESK_EGRESS_ALLOWLIST" in egress
    assert 'name="allowlist"' in egress and "192.168.7.7" not in allowlist_field(page)


def test_an_administrator_saves_the_allowlist_and_it_applies_to_the_next_connection(
    admin: Console, td: Tokendesk,
) -> None:
    private = connection_body(name="On-premises", provider="custom",
                              grant_type="client_credentials", placeholders={},
                              token_url="https://10.20.30.40/token")
    before = check(td, private)

    saved = admin.post("/admin/network/egress", {"allowlist": "10.20.0.0/16\r\nidp.corp.example"})
    page = admin.follow(saved)

    assert before is not None and "TOKENDESK_EGRESS_ALLOWLIST" in before
    assert check(td, private) is None
    assert stored(td) == ("10.20.0.0/16", "idp.corp.example")
    assert allowlist_field(page.text) == "10.20.0.0/16\nidp.corp.example"
    assert "The egress allowlist was saved" in page.text
    assert "by admin" in page.text[page.text.index('id="egress"'):]
    with td.transaction() as tx:
        events = td.audit.search(tx, command_line_principal(),
                                 AuditFilter(action="settings.egress_allowlist.update"))
    assert [(e.actor, e.details["old"], e.details["new"]) for e in events] == [
        ("admin", [], ["10.20.0.0/16", "idp.corp.example"])]


def test_a_bad_value_is_shown_next_to_the_field_as_typed_and_nothing_is_saved(
    admin: Console, td: Tokendesk,
) -> None:
    admin.post("/admin/network/egress", {"allowlist": "10.20.0.0/16"})

    refused = admin.post("/admin/network/egress",
                         {"allowlist": "10.20.0.0/16\n10.0.0.0/33\nidp.corp.example"})

    assert refused.status_code == 422
    assert html.unescape(field_error(refused.text, "allowlist") or "") == (
        "'10.0.0.0/33' is not a valid CIDR range.")
    assert allowlist_field(refused.text) == "10.20.0.0/16\n10.0.0.0/33\nidp.corp.example"
    assert stored(td) == ("10.20.0.0/16",)


def test_without_its_csrf_token_the_form_changes_nothing(admin: Console, td: Tokendesk) -> None:
    missing = admin.post("/admin/network/egress", {"allowlist": "10.0.0.0/8"}, csrf=False)
    wrong = admin.post("/admin/network/egress", {"allowlist": "10.0.0.0/8",
                                                 "csrf_token": "x" * 43})

    assert [missing.status_code, wrong.status_code] == [403, 403]
    assert stored(td) == ()


def test_only_network_settings_permission_sees_or_changes_it(
    td: Tokendesk, browser: Callable[[], Console],
) -> None:
    add_user(td, "uma", "administration.users", "oauth_connections.manage")
    add_user(td, "nina", "administration.settings")
    uma, nina = browser(), browser()
    uma.sign_in("uma")
    nina.sign_in("nina")

    assert uma.get("/admin/network").status_code == 403
    assert uma.post("/admin/network/egress", {"allowlist": "10.0.0.0/8"}).status_code == 403
    assert stored(td) == ()
    assert nina.post("/admin/network/egress", {"allowlist": "10.0.0.0/8"}).status_code == 303
    assert stored(td) == ("10.0.0.0/8",)
