"""Every page respects permissions: menus, controls, and 403 on posts made anyway."""

from __future__ import annotations

from collections.abc import Callable

from console_support import Console, add_user

from support.api import connection_body, key_for
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.wiring import Tokendesk


def make_connection(td: Tokendesk, **overrides: object) -> None:
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(),
                              ConnectionCreate.model_validate(connection_body(**overrides)))


def test_without_view_connections_there_is_no_connections_menu_and_no_wizard(
    td: Tokendesk, browser: Callable[[], Console],
) -> None:
    add_user(td, "sam")
    sam = browser()
    sam.sign_in("sam")

    home = sam.get("/")
    wizard = sam.get("/wizard/new")
    listing = sam.get("/connections")

    assert home.url.path == "/attention"
    assert "Your tokens and the connections shared with you" in home.text
    assert 'href="/connections"' not in home.text
    assert "Administration" not in home.text
    assert wizard.status_code == 403 and "Manage connections" in wizard.text
    assert listing.status_code == 403
    for path in ("/admin/users", "/admin/roles", "/admin/network", "/admin/audit"):
        assert sam.get(path).status_code == 403, path


def test_viewers_see_connections_without_any_control_to_change_them(
    td: Tokendesk, browser: Callable[[], Console],
) -> None:
    make_connection(td)
    add_user(td, "vera", "oauth_connections.view")
    vera = browser()
    vera.sign_in("vera")

    listing = vera.get("/connections")
    page = vera.get("/connections/Salesforce prod")

    assert "Salesforce prod" in listing.text
    assert "Create connection" not in listing.text
    for control in ("Edit", "Delete", "Refresh now", "Re-authenticate", "Test connection"):
        assert f">{control}<" not in page.text, control
    posts = [vera.post(f"/connections/Salesforce prod/{action}")
             for action in ("delete", "test", "refresh", "disconnect", "reauthenticate")]
    assert [p.status_code for p in posts] == [403] * 5
    assert vera.get("/connections/Salesforce prod/edit").status_code == 403
    assert vera.get("/connections/Salesforce prod").status_code == 200  # nothing was deleted


def test_a_draft_belongs_to_the_session_that_started_it(
    td: Tokendesk, admin: Console, browser: Callable[[], Console],
) -> None:
    add_user(td, "mia", "oauth_connections.manage")
    mia = browser()
    mia.sign_in("mia")
    draft_url = admin.get("/wizard/new").url.path

    foreign = mia.get(draft_url)
    posted = mia.post(draft_url, {"provider": "custom", "name": "Hijack"})

    assert foreign.status_code == posted.status_code == 404
    assert "expired or belongs to another session" in foreign.text


def test_an_invited_user_sees_his_connections_in_my_settings_only(
    td: Tokendesk, browser: Callable[[], Console],
) -> None:
    add_user(td, "ian", role="Sales bots")
    make_connection(td, invited_roles=["Sales bots"])
    make_connection(td, name="Other")
    ian = browser()
    ian.sign_in("ian")

    mine = ian.get("/my/connections")
    page = ian.get("/my/connections/Salesforce prod")
    other = ian.get("/my/connections/Other")

    assert "Salesforce prod" in mine.text and "Other" not in mine.text
    assert ">Login<" in page.text and "Not connected" in page.text
    assert other.status_code == 404


def test_api_keys_of_others_are_neither_listed_nor_revocable(
    td: Tokendesk, browser: Callable[[], Console],
) -> None:
    add_user(td, "ann")
    admin_key = key_for(td, "admin")
    ann = browser()
    ann.sign_in("ann")

    page = ann.get("/api-keys")
    with td.transaction() as tx:
        [record] = td.auth.list_api_keys(tx, command_line_principal())
    revoke = ann.post(f"/api-keys/{record.id}/revoke")

    assert "tests" not in page.text and admin_key[:12] not in page.text
    assert revoke.status_code == 404
