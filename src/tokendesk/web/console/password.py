"""My settings > Password: change one's own password, the current one required.

At the first sign-in with the generated initial password every other page leads here (see
``base.current_viewer``); once changed, ``data/initial-admin-password`` is removed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.errors import ValidationError
from tokendesk.web.console.base import (
    PASSWORD_PATH,
    ConsoleRoute,
    CurrentViewer,
    Form,
    PostedForm,
    Viewer,
    notify,
    page,
    redirect,
    tokendesk,
)
from tokendesk.web.deps import SESSION_COOKIE, cookie_name
from tokendesk.wiring import forget_initial_password

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get(PASSWORD_PATH)
def password_page(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


def _page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
          status: int = 200) -> Response:
    return page(request, viewer, "console/my_password.html", status=status,
                errors=errors or {}, forced=viewer.must_change_password)


def _missing(form: Form) -> dict[str, str]:
    """What the form left out or typed twice differently, all at once."""
    errors: dict[str, str] = {}
    if not form.text("current_password"):
        errors["current_password"] = "Enter your current password."
    if not form.text("new_password"):
        errors["new_password"] = "Enter a new password."
    if form.text("confirm_password") != form.text("new_password"):
        errors["confirm_password"] = "Type the same new password again."
    return errors


@router.post(PASSWORD_PATH)
def change_password(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    errors = _missing(form)
    if errors:
        return _page(request, viewer, errors=errors, status=422)
    td = tokendesk(request)
    session_id = request.cookies.get(cookie_name(request, SESSION_COOKIE), "")
    try:
        with td.transaction() as tx:
            td.accounts.change_own_password(
                tx, viewer.principal, form.text("current_password"), form.text("new_password"),
                keep_session=td.auth.session_hash(session_id))
    except ValidationError as exc:
        return _page(request, viewer, errors={exc.field or "new_password": exc.message},
                     status=422)
    if viewer.must_change_password:
        forget_initial_password(td)
    notify(request, viewer, "ok", "Your password was changed; your other sessions were ended.")
    return redirect("/" if viewer.must_change_password else PASSWORD_PATH)
