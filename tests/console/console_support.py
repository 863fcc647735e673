"""Helpers of the console tests: a person's browser on the console, users, field errors."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi.testclient import TestClient

from support.api import ADMIN_PASSWORD
from tokendesk.domain.principal import command_line_principal
from tokendesk.services.inputs import RoleCreate, UserCreate
from tokendesk.wiring import Tokendesk

PUBLIC_URL = "https://tokendesk.example.test"
PASSWORD = ADMIN_PASSWORD
CSRF_FIELD_RE = re.compile(r'name="csrf_token" value="([^"]*)"')


@dataclass
class Console:
    """One person's browser on the console: cookies, and forms posted with their CSRF token."""

    http: TestClient
    pages: list[str] = field(default_factory=list)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = self.http.get(path, **kwargs)
        self.pages.append(response.text)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             **kwargs: Any) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.http.cookies.get("__Host-tokendesk_csrf", ""))
        response = self.http.post(path, data=body, follow_redirects=False, **kwargs)
        self.pages.append(response.text)
        return response

    def follow(self, response: httpx.Response) -> httpx.Response:
        assert response.status_code == 303, (response.status_code, response.text[:2000])
        return self.get(response.headers["location"])

    def sign_in(self, username: str, password: str = PASSWORD,
                next_path: str = "/") -> httpx.Response:
        form = self.get("/sign-in")
        token = CSRF_FIELD_RE.search(form.text)
        assert token is not None
        return self.post("/sign-in", {"username": username, "password": password,
                                      "next": next_path, "csrf_token": token.group(1)},
                         csrf=False)

    def session_cookie(self) -> str | None:
        return self.http.cookies.get("__Host-tokendesk_session")

    def every_page(self) -> str:
        """Everything this browser was shown, to look for secrets in."""
        return "\n".join(self.pages)


def add_user(td: Tokendesk, username: str, *permissions: str, roles: tuple[str, ...] = (),
             role: str | None = None) -> None:
    """A user with a custom role (``role`` or ``<username>-role``) granting ``permissions``."""
    actor = command_line_principal()
    role_name = role or f"{username}-role"
    with td.transaction() as tx:
        if role_name not in {r.name for r in td.accounts.list_roles(tx, actor)}:
            td.accounts.create_role(tx, actor, RoleCreate(name=role_name,
                                                          permissions=list(permissions)))  # type: ignore[arg-type]
        td.accounts.create_user(tx, actor, UserCreate(username=username, password=PASSWORD,  # type: ignore[arg-type]
                                                      roles=[role_name, *roles]))


def field_error(html: str, name: str) -> str | None:
    """The error shown right under the field ``name`` (inside its ``data-field`` block)."""
    block = re.search(
        rf'data-field="{re.escape(name)}"(.*?)(?=data-field="|</form>)', html, re.S)
    if block is None:
        return None
    error = re.search(r'class="field-error"[^>]*>(.*?)</p>', block.group(1), re.S)
    return error.group(1).strip() if error else None
