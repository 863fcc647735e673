"""Sign in, sign out, and the start page."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from tokendesk.domain.sign_in import client_address
from tokendesk.errors import InvalidCredentials
from tokendesk.services.sign_in import SignInLimits
from tokendesk.web.console.base import (
    CSRF_COOKIE,
    SIGN_IN_PATH,
    ConsoleRoute,
    Form,
    PostedForm,
    console_store,
    find_viewer,
    form_data,
    page,
    redirect,
    session_key,
    tokendesk,
)
from tokendesk.web.console.security import safe_next, same_token
from tokendesk.web.deps import SESSION_COOKIE, cookie_name

LOGIN_CSRF_COOKIE = "tokendesk_login_csrf"
USERNAME_MAX = 200
PASSWORD_MAX = 2000

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/")
def home(request: Request) -> Response:
    viewer = find_viewer(request)
    if viewer is None:
        return redirect(SIGN_IN_PATH)
    # The start page: what needs attention (an administrator's whole list, a user's part).
    return redirect("/attention")


@router.get(SIGN_IN_PATH)
def sign_in_page(request: Request, next: str = "/") -> Response:
    """The sign-in form (also when signed in already: to sign in as someone else)."""
    return _sign_in_form(request, next=safe_next(next))


@router.post(SIGN_IN_PATH)
def sign_in(request: Request, data: Annotated[FormData, Depends(form_data)]) -> Response:
    form = Form(data)
    td = tokendesk(request)
    username = form.text("username")[:USERNAME_MAX]
    password = form.text("password")[:PASSWORD_MAX]
    target = safe_next(form.text("next"))
    if not same_token(form.text("csrf_token"), request.cookies.get(LOGIN_CSRF_COOKIE, "")):
        return _sign_in_form(request, next=target, username=username, status=403,
                             error="The sign-in form expired; please try again.")
    limiter = _limiter(request)
    address = _client_address(request)
    throttled = limiter.check(username, address)
    if throttled is not None:
        minutes = max(1, round(throttled.retry_after_s / 60))
        return _sign_in_form(request, next=target, username=username, status=429,
                             error=f"Too many failed sign-ins. Try again in {minutes} "
                                   f"minute{'s' if minutes != 1 else ''}.",
                             headers={"Retry-After": str(throttled.retry_after_s)})
    old_session = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    try:
        with td.transaction() as tx:
            if old_session:  # no fixation: whatever id the browser had is ended, never reused
                td.auth.sign_out(tx, old_session)
            new = td.auth.sign_in(tx, username, password)
    except InvalidCredentials as exc:
        limiter.failed(username, address)
        return _sign_in_form(request, next=target, username=username, status=401,
                             error=exc.message)
    limiter.succeeded(username, address)
    if old_session:
        console_store(request).forget_session(session_key(old_session))
    response = redirect(target)
    _set_session_cookies(request, response, new.session_id, new.csrf_token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=SIGN_IN_PATH)
    return response


@router.post("/sign-out")
def sign_out(request: Request, form: PostedForm) -> Response:
    td = tokendesk(request)
    session_id = request.cookies.get(cookie_name(request, SESSION_COOKIE), "")
    with td.transaction() as tx:
        td.auth.sign_out(tx, session_id)
    console_store(request).forget_session(session_key(session_id))
    response = redirect(SIGN_IN_PATH)
    secure = td.settings.secure_cookies
    for name in (cookie_name(request, SESSION_COOKIE), cookie_name(request, CSRF_COOKIE)):
        response.delete_cookie(name, path="/", secure=secure, httponly=True, samesite="lax")
    return response


def _sign_in_form(request: Request, *, next: str, username: str = "",
                  error: str | None = None, status: int = 200,
                  headers: dict[str, str] | None = None) -> Response:
    td = tokendesk(request)
    token = secrets.token_urlsafe(32)
    response = page(request, None, "console/sign_in.html", status=status, headers=headers,
                    next=next, username=username, error=error, login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, max_age=3600, path=SIGN_IN_PATH,
                        httponly=True, samesite="strict", secure=td.settings.secure_cookies)
    return response


def _set_session_cookies(request: Request, response: RedirectResponse, session_id: str,
                         csrf_token: str) -> None:
    """HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET that must
    carry the session), Secure and ``__Host-`` prefixed when the public URL is https."""
    td = tokendesk(request)
    for name, value in ((cookie_name(request, SESSION_COOKIE), session_id),
                        (cookie_name(request, CSRF_COOKIE), csrf_token)):
        response.set_cookie(name, value, max_age=td.settings.session_max_age_s, path="/",
                            httponly=True, samesite="lax", secure=td.settings.secure_cookies)


def _limiter(request: Request) -> SignInLimits:
    return tokendesk(request).sign_in


def _client_address(request: Request) -> str:
    """The client's address; ``X-Forwarded-For`` only from TOKENDESK_TRUSTED_PROXIES."""
    peer = request.client.host if request.client else "unknown"
    trusted = request.app.state.trusted_proxies
    return client_address(peer, request.headers.getlist("x-forwarded-for"), trusted)
