"""A connection's proxy is chosen on its page: global, none or its own; the password is
write-only there as everywhere."""

from __future__ import annotations

from collections.abc import Callable

from console_support import Console, add_user

from support.api import connection_body
from tokendesk.domain.connection_proxy import ProxyMode
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.wiring import Tokendesk

PAGE = "/connections/Salesforce%20prod"
PROXY_PASSWORD = "c0nsole-pr0xy-secret"


def salesforce(td: Tokendesk) -> None:
    with td.transaction() as tx:
        td.connections.create(tx, command_line_principal(),
                              ConnectionCreate.model_validate(connection_body()))


def stored_mode(td: Tokendesk) -> ProxyMode:
    with td.transaction() as tx:
        return td.connections.get(tx, command_line_principal(), "Salesforce prod").proxy.mode


def test_an_admin_gives_a_connection_its_own_proxy_and_the_page_never_shows_the_password(
    td: Tokendesk, admin: Console
) -> None:
    salesforce(td)

    saved = admin.follow(admin.post(PAGE + "/proxy", {
        "proxy_mode": "own", "proxy_url": "http://proxy.onprem.example:8080",
        "proxy_username": "svc-desk", "proxy_password": PROXY_PASSWORD,
        "proxy_bypass": "*.internal.example"}))

    assert "reaches its provider through http://proxy.onprem.example:8080" in saved.text
    assert 'its own: <code>http://proxy.onprem.example:8080</code> as svc-desk' in saved.text
    assert "Stored — leave empty to keep it." in saved.text
    assert PROXY_PASSWORD not in saved.text
    assert stored_mode(td) is ProxyMode.OWN
    kept = admin.follow(admin.post(PAGE + "/proxy", {
        "proxy_mode": "own", "proxy_url": "http://proxy.onprem.example:8080",
        "proxy_username": "svc-desk", "proxy_password": "", "proxy_bypass": ""}))
    assert "reaches its provider through" in kept.text
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), "Salesforce prod")
    assert connection.proxy.has_password and connection.proxy.bypass == ()


def test_a_bad_proxy_url_is_explained_and_nothing_changes(td: Tokendesk, admin: Console) -> None:
    salesforce(td)

    refused = admin.follow(admin.post(PAGE + "/proxy", {
        "proxy_mode": "own", "proxy_url": "http://user:pw@proxy.example:8080"}))

    assert "Put no user name or password in the proxy URL" in refused.text
    assert stored_mode(td) is ProxyMode.GLOBAL
    direct = admin.follow(admin.post(PAGE + "/proxy", {"proxy_mode": "none"}))
    assert "directly, without a proxy" in direct.text
    assert stored_mode(td) is ProxyMode.NONE


def test_only_a_manager_may_change_the_proxy(
    td: Tokendesk, browser: Callable[[], Console]
) -> None:
    salesforce(td)
    add_user(td, "viewer", "oauth_connections.view")
    viewer = browser()
    viewer.sign_in("viewer")

    page = viewer.get(PAGE)
    answer = viewer.post(PAGE + "/proxy", {"proxy_mode": "none"})

    assert 'id="connection-proxy-form"' not in page.text
    assert answer.status_code == 403
    assert stored_mode(td) is ProxyMode.GLOBAL
