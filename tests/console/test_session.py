"""Signing in and out: cookie flags, no session fixation, no open redirect, rate limiting."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from console_support import PASSWORD, Console, field_error
from fastapi.testclient import TestClient

from support.api import keyring_spec
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.audit import AuditFilter
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.sign_in import FAILURES_PER_USER_AND_ADDRESS, LOGIN_WINDOW_S
from tokendesk.web.app import create_app
from tokendesk.wiring import Tokendesk, build


def cookie_headers(response: object) -> dict[str, str]:
    headers = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    return {h.split("=", 1)[0]: h for h in headers}


def test_signing_in_sets_httponly_samesite_secure_cookies_and_goes_to_the_console(
    browser: Callable[[], Console],
) -> None:
    console = browser()
    response = console.sign_in("admin")

    assert response.status_code == 303
    assert response.headers["location"] == "/"
    cookies = cookie_headers(response)
    for name in ("__Host-tokendesk_session", "__Host-tokendesk_csrf"):
        flags = cookies[name].lower()
        assert "httponly" in flags and "samesite=lax" in flags and "secure" in flags
        assert "path=/" in flags
        assert "domain=" not in flags  # __Host-: this host only, never a parent domain
    assert "tokendesk_session" not in cookies  # https: only the __Host- prefixed cookie
    landing = console.follow(response)  # / -> /attention, the start page
    assert landing.url.path == "/attention"
    assert "Needs attention" in landing.text


def test_cookies_are_not_secure_on_a_plain_http_loopback_address(
    database_url: str, tmp_path: Path,
) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path / "d",
                        public_url="http://127.0.0.1:8400",
                        encryption_keys=keyring_spec(KeyRing.generate()))  # type: ignore[arg-type]
    td = build(settings)
    try:
        with td.transaction() as tx:
            td.accounts.bootstrap_admin(tx, command_line_principal(), "admin", PASSWORD)
        with TestClient(create_app(td), base_url="http://127.0.0.1:8400") as http:
            response = Console(http).sign_in("admin")
    finally:
        td.close()
    assert response.status_code == 303
    assert "secure" not in cookie_headers(response)["tokendesk_session"].lower()
    assert "__Host-tokendesk_session" not in cookie_headers(response)  # needs https


def test_signing_in_always_gives_a_new_session_id(browser: Callable[[], Console]) -> None:
    console = browser()
    console.http.cookies.set("__Host-tokendesk_session", "planted-by-an-attacker",
                             domain="tokendesk.example.test")
    console.sign_in("admin")
    first = console.session_cookie()
    console.sign_in("admin")
    second = console.session_cookie()

    assert first not in (None, "planted-by-an-attacker")
    assert second not in (None, first)
    stale = browser()
    stale.http.cookies.set("__Host-tokendesk_session", first or "", domain="tokendesk.example.test")
    stale.http.cookies.set("__Host-tokendesk_csrf", console.http.cookies["__Host-tokendesk_csrf"],
                           domain="tokendesk.example.test")
    assert stale.get("/connections", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_said_next_to_the_password_field(
    browser: Callable[[], Console],
) -> None:
    console = browser()
    response = console.sign_in("admin", "not the password")

    assert response.status_code == 401
    assert field_error(response.text, "password") == "The username or password is not right."
    assert console.session_cookie() is None
    assert "not the password" not in response.text


def test_refused_sign_ins_of_a_known_user_are_audited_without_the_password(
    browser: Callable[[], Console], td: Tokendesk,
) -> None:
    console = browser()
    assert console.sign_in("admin", "not the password").status_code == 401
    assert console.sign_in("nobody-by-that-name", "maybe a password").status_code == 401
    td.audit_buffer.flush()

    with td.transaction() as tx:
        events = td.audit.search(tx, command_line_principal(),
                                 AuditFilter(action="session.sign_in"))
    [refused] = events  # the unknown name may be a mistyped password: not recorded
    assert (refused.actor, refused.outcome, refused.target) == ("admin", "denied", "admin")
    assert refused.target_type == "user"  # as on a successful sign-in
    assert refused.details == {"reason": "wrong password"}
    assert "not the password" not in str(refused) and "maybe a password" not in str(refused)


def test_after_sign_in_only_local_paths_are_followed(browser: Callable[[], Console]) -> None:
    console = browser()
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example",
                   "http:/evil.example", "javascript:alert(1)", "/\r\nSet-Cookie:x=1"):
        response = console.sign_in("admin", next_path=target)

        assert response.status_code == 303, target
        assert response.headers["location"] == "/", target


def test_after_sign_in_the_page_asked_for_is_shown(browser: Callable[[], Console]) -> None:
    console = browser()
    bounced = console.get("/admin/audit?actor=admin", follow_redirects=False)
    assert bounced.headers["location"] == "/sign-in?next=%2Fadmin%2Faudit%3Factor%3Dadmin"

    response = console.sign_in("admin", next_path="/admin/audit?actor=admin")

    assert response.headers["location"] == "/admin/audit?actor=admin"


def test_the_sign_in_form_needs_its_own_csrf_cookie(browser: Callable[[], Console]) -> None:
    console = browser()
    response = console.post("/sign-in", {"username": "admin", "password": PASSWORD,
                                         "csrf_token": "guessed"}, csrf=False)

    assert response.status_code == 403
    assert console.session_cookie() is None


def test_failed_sign_ins_are_rate_limited_until_the_window_passes(
    browser: Callable[[], Console], td: Tokendesk, monkeypatch: pytest.MonkeyPatch,
) -> None:
    attacker = browser()
    for _ in range(FAILURES_PER_USER_AND_ADDRESS):
        assert attacker.sign_in("admin", "guess").status_code == 401

    blocked = attacker.sign_in("admin", PASSWORD)  # even the right password waits now
    elsewhere = browser().sign_in("admin", PASSWORD)

    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Too many failed sign-ins" in blocked.text
    assert elsewhere.status_code == 429
    with td.transaction() as tx:
        signed_in = td.audit.search(tx, command_line_principal(),
                                    AuditFilter(action="session.sign_in"))
    assert [event for event in signed_in if event.outcome == "success"] == []
    limiter = td.sign_in  # the limiter the console uses, built by the wiring
    later = td.clock() + timedelta(seconds=LOGIN_WINDOW_S + 1)
    monkeypatch.setattr(limiter, "_clock", lambda: later)  # the clock is the one thing mocked
    assert attacker.sign_in("admin", PASSWORD).status_code == 303


def test_signing_out_ends_the_session(admin: Console) -> None:
    session, csrf = admin.session_cookie(), admin.http.cookies.get("__Host-tokendesk_csrf")
    response = admin.post("/sign-out")

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in"
    assert admin.session_cookie() is None
    for name, value in (("__Host-tokendesk_session", session), ("__Host-tokendesk_csrf", csrf)):
        admin.http.cookies.set(name, value or "", domain="tokendesk.example.test")
    replay = admin.http.get("/connections", follow_redirects=False)
    assert replay.status_code == 303
