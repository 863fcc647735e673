"""Security headers, CSRF on every form, and links that never come from the Host header."""

from __future__ import annotations

import re
from pathlib import Path

from console_support import PUBLIC_URL, Console

from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk

TEMPLATES = Path(__file__).resolve().parents[2] / "src" / "tokendesk" / "web" / "templates"


def test_console_pages_carry_the_security_headers(admin: Console) -> None:
    response = admin.get("/connections")

    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_static_files_are_cacheable_and_not_sniffed(admin: Console) -> None:
    css = admin.http.get("/static/tokendesk.css")
    script = admin.http.get("/static/console.js")

    assert css.status_code == script.status_code == 200
    assert "no-store" not in css.headers.get("cache-control", "")
    assert css.headers["x-content-type-options"] == "nosniff"
    assert "javascript" in script.headers["content-type"]


def test_no_template_has_inline_script_style_or_event_handlers() -> None:
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert not re.search(r"<style|\sstyle\s*=", text), template


def test_a_form_posted_without_its_csrf_token_changes_nothing(admin: Console,
                                                              td: Tokendesk) -> None:
    role = {"name": "Sales bots", "description": "", "permission": []}
    missing = admin.post("/admin/roles", role, csrf=False)
    wrong = admin.post("/admin/roles", {**role, "csrf_token": "x" * 43})
    foreign = admin.post("/sign-out", {"csrf_token": ""})

    assert [missing.status_code, wrong.status_code, foreign.status_code] == [403, 403, 403]
    assert "reload the page" in missing.text
    with td.transaction() as tx:
        names = {r.name for r in td.accounts.list_roles(tx, command_line_principal())}
    assert "Sales bots" not in names
    assert admin.get("/connections", follow_redirects=False).status_code == 200  # still in


def test_every_form_of_every_page_carries_the_csrf_token(admin: Console) -> None:
    token = admin.http.cookies["__Host-tokendesk_csrf"]
    wizard = admin.get("/wizard/new")
    pages = [admin.get(path).text for path in (
        "/connections", "/my/connections", "/api-keys", "/admin/users", "/admin/users/admin",
        "/admin/roles", "/admin/network")] + [wizard.text]

    for html in pages:
        for form in re.findall(r"<form[^>]*>.*?</form>", html, re.S):
            if 'method="get"' in form:
                continue
            assert f'name="csrf_token" value="{token}"' in form, form[:300]


def test_the_callback_url_and_links_ignore_the_host_header(admin: Console) -> None:
    poisoned = {"Host": "evil.example", "X-Forwarded-Host": "evil.example",
                "X-Forwarded-Proto": "http"}
    start = admin.http.get("/wizard/new", headers=poisoned, follow_redirects=False)
    wizard = admin.http.get(start.headers["location"], headers=poisoned)

    assert start.headers["location"].startswith("/wizard/")
    assert f'value="{PUBLIC_URL}/oauth/callback/' in wizard.text  # the connection's own
    assert "evil.example" not in wizard.text
