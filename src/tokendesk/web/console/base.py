"""What every console page needs: who is signed in, the posted form (CSRF checked), rendering,
and Tokendesk errors shown as pages instead of JSON."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, TypeVar
from urllib.parse import quote, urlencode

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pydantic import ValidationError as InputError
from starlette.datastructures import FormData

from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import (
    AuthenticationRequired,
    PermissionDenied,
    TokendeskError,
    ValidationError,
)
from tokendesk.services.auth import csrf_matches
from tokendesk.web.console.problems import plain_problems
from tokendesk.web.console.security import safe_next
from tokendesk.web.console.store import ConsoleStore, Draft
from tokendesk.web.deps import SESSION_COOKIE, cookie_name, get_tokendesk
from tokendesk.web.pages import render
from tokendesk.wiring import Tokendesk

InputT = TypeVar("InputT", bound=BaseModel)
SIGN_IN_PATH = "/sign-in"
PASSWORD_PATH = "/my/password"
CSRF_COOKIE = "tokendesk_csrf"
CSRF_FIELD = "csrf_token"


class SignInRequired(Exception):
    """No live session: the browser is sent to the sign-in page."""


class NewPasswordFirst(Exception):
    """Signed in with the generated initial password: the browser is sent to choose one."""


class FormRejected(PermissionDenied):
    code = "csrf_failed"


@dataclass(frozen=True, slots=True)
class Viewer:
    """The signed-in person looking at a page."""

    principal: Principal
    session_key: str
    csrf_token: str
    # Signed in with a generated password: every page but My settings > Password waits.
    must_change_password: bool = False

    @property
    def username(self) -> str:
        return self.principal.username

    def can(self, permission: Permission | str) -> bool:
        return self.principal.can(Permission(permission))


def session_key(session_id: str) -> str:
    """The key of a session in the console store (never the session id itself)."""
    return hashlib.sha256(("console:" + session_id).encode()).hexdigest()


def console_store(request: Request) -> ConsoleStore:
    store: ConsoleStore = request.app.state.console_store
    return store


def hold_draft(request: Request, viewer: Viewer, draft: Draft | None) -> None:
    """Write ``draft`` back to the store when this request ends (None: nothing to write, e.g.
    after it was dropped); see ConsoleRoute."""
    request.state.console_draft = (viewer.session_key, draft) if draft else None


async def _write_held_draft(request: Request) -> None:
    held: tuple[str, Draft] | None = getattr(request.state, "console_draft", None)
    if held is not None:
        request.state.console_draft = None
        await run_in_threadpool(console_store(request).save_draft, *held)


def find_viewer(request: Request) -> Viewer | None:
    """The viewer of a live session whose CSRF cookie belongs to it, else None."""
    td = get_tokendesk(request)
    session_id = request.cookies.get(cookie_name(request, SESSION_COOKIE), "")
    csrf_token = request.cookies.get(cookie_name(request, CSRF_COOKIE), "")
    if not session_id or not csrf_token:
        return None
    try:
        with td.transaction() as tx:
            principal, csrf_hash = td.auth.authenticate_session(tx, session_id)
            must_change = td.auth.password_change_required(tx, principal)
    except AuthenticationRequired:
        return None
    if not csrf_matches(csrf_token, csrf_hash):
        return None  # a session without its own CSRF token could not post a form
    return Viewer(principal, session_key(session_id), csrf_token, must_change)


def _viewer_if_any(request: Request) -> Viewer | None:
    try:
        return find_viewer(request)
    except TokendeskError:  # e.g. the database is down: the error page shows no menu
        return None


def current_viewer(request: Request) -> Viewer:
    viewer = find_viewer(request)
    if viewer is None:
        raise SignInRequired
    if viewer.must_change_password and request.url.path != PASSWORD_PATH:
        raise NewPasswordFirst
    return viewer


class Form:
    """The text fields of a posted form (files are ignored)."""

    def __init__(self, data: FormData) -> None:
        self._data = data

    def text(self, name: str) -> str:
        value = self._data.get(name)
        return value if isinstance(value, str) else ""

    def flag(self, name: str) -> bool:
        return self.text(name) in ("on", "true", "1", "yes")

    def values(self, name: str) -> list[str]:
        return [v for v in self._data.getlist(name) if isinstance(v, str)]


async def form_data(request: Request) -> FormData:
    return await request.form()


def posted_form(viewer: Annotated[Viewer, Depends(current_viewer)],
                data: Annotated[FormData, Depends(form_data)]) -> Form:
    """The posted form, after checking its CSRF token; raises FormRejected (403)."""
    form = Form(data)
    if form.text(CSRF_FIELD) != viewer.csrf_token:
        raise FormRejected("This form has expired or did not come from a Tokendesk page; "
                           "reload the page and try again.")
    return form


CurrentViewer = Annotated[Viewer, Depends(current_viewer)]
PostedForm = Annotated[Form, Depends(posted_form)]


def build_input(model: type[InputT], values: dict[str, Any]) -> InputT:
    """A service input model from form values.

    Raises ValidationError naming the first field, in plain words, with every problem found
    in ``details["problems"]`` ({field: sentence}).
    """
    try:
        return model.model_validate(values)
    except InputError as exc:
        problems = plain_problems(exc.errors())
        field, message = next(iter(problems.items()))
        raise ValidationError(message, field=None if field == "form" else field,
                              problems=problems) from None


def when(moment: datetime | None, empty: str = "—") -> str:
    """A time for people: ``2025-03-01 14:05 UTC``."""
    if moment is None:
        return empty
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def path_of(*parts: str) -> str:
    """A local path with each part percent-encoded: ``path_of("connections", name)``."""
    return "/" + "/".join(quote(part, safe="") for part in parts)


def navigation(viewer: Viewer | None) -> list[tuple[str, list[tuple[str, str]]]]:
    """The menu sections the viewer may open, as (title, [(label, path)])."""
    if viewer is None:
        return []
    sections: list[tuple[str, list[tuple[str, str]]]] = []
    sections.append(("Start", [("Needs attention", "/attention")]))
    if viewer.can(Permission.VIEW_CONNECTIONS):
        sections.append(("Manage", [("OAuth connections", "/connections")]))
    sections.append(("My settings", [("OAuth connections", "/my/connections"),
                                     ("API keys", "/api-keys"), ("Password", PASSWORD_PATH)]))
    admin = [(label, href) for label, href, permission in (
        ("Users", "/admin/users", Permission.MANAGE_USERS),
        ("Roles", "/admin/roles", Permission.MANAGE_ROLES),
        ("Workload issuers", "/admin/workload-issuers", Permission.MANAGE_USERS),
        ("Network settings", "/admin/network", Permission.MANAGE_SETTINGS),
        ("Notifications", "/admin/notifications", Permission.MANAGE_SETTINGS),
        ("Audit log", "/admin/audit", Permission.VIEW_AUDIT),
    ) if viewer.can(permission)]
    if admin:
        sections.append(("Administration", admin))
    return sections


def page(request: Request, viewer: Viewer | None, template: str, *, status: int = 200,
         headers: dict[str, str] | None = None, **context: Any) -> HTMLResponse:
    """Render a console page for ``viewer`` with the menu, notices and CSRF token."""
    notices = console_store(request).take_notices(viewer.session_key) if viewer else []
    html = render(template, viewer=viewer, nav=navigation(viewer), notices=notices,
                  csrf_token=viewer.csrf_token if viewer else "", current=request.url.path,
                  when=when, path_of=path_of, **context)
    return HTMLResponse(html, status_code=status, headers=headers)


def redirect(path: str) -> RedirectResponse:
    """303 See Other to a local path (relative, so the Host header plays no part)."""
    return RedirectResponse(path, status_code=303)


def notify(request: Request, viewer: Viewer, tone: str, text: str) -> None:
    console_store(request).notify(viewer.session_key, tone, text)


def tokendesk(request: Request) -> Tokendesk:
    return get_tokendesk(request)


def sign_in_redirect(request: Request) -> RedirectResponse:
    if request.method != "GET":
        return redirect(SIGN_IN_PATH)
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return redirect(f"{SIGN_IN_PATH}?{urlencode({'next': safe_next(target)})}")


class ConsoleRoute(APIRoute):
    """A route whose Tokendesk errors become pages: sign-in for a missing session, and a
    plain page naming the problem (403, 404, ...) for the rest.

    A wizard draft the handler held (``hold_draft``) is written back before the answer
    leaves, so the next request, on whichever replica, sees what this one changed.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                response = await handler(request)
            except SignInRequired:
                return sign_in_redirect(request)
            except NewPasswordFirst:
                return redirect(PASSWORD_PATH)
            except TokendeskError as exc:
                await _write_held_draft(request)
                viewer = await run_in_threadpool(_viewer_if_any, request)
                return page(request, viewer, "console/error.html", status=exc.status,
                            error=exc)
            await _write_held_draft(request)
            return response

        return guarded
