"""The OAuth callbacks ``/oauth/callback[/<connection id>]``, one-time links, the result page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tokendesk.domain.principal import Principal
from tokendesk.errors import AuthenticationRequired, AuthorizationRejected
from tokendesk.tokens.consent_flow import LinkFor
from tokendesk.web.deps import SESSION_COOKIE, cookie_name, get_tokendesk
from tokendesk.web.pages import render
from tokendesk.wiring import Tokendesk

FLOW_COOKIE = "tokendesk_flow"
# Nothing here may be cached, and the callback URL (code, state) must not leak by Referer.
SENSITIVE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "Pragma": "no-cache"}

router = APIRouter(prefix="/oauth", include_in_schema=False)


@router.get("/start/{link}")
def open_link(request: Request, link: str) -> Response:
    """A one-time link: a user-specific token's link first shows whom and what it is for
    (and asks its own user to sign in); any other goes on to the provider at once."""
    td = get_tokendesk(request)
    try:
        with td.transaction() as tx:
            found = td.consent.link_for(tx, link)
    except AuthorizationRejected as exc:
        return _page(request, ok=False, message=exc.message, status=400)
    if not found.bound_to_user:
        return _go_to_provider(request, link, None)
    viewer = _session_principal(td, request)
    if viewer is None or viewer.user_id != found.user_id:
        step, status = ("sign_in", 401) if viewer is None else ("other_user", 403)
        return _link_page(request, found, step, status, you=viewer.username if viewer else "")
    return _link_page(request, found, "confirm", 200)


@router.post("/start/{link}")
def confirm_link(request: Request, link: str) -> Response:
    """The link's own user confirmed: bind it to this browser and go to the provider."""
    principal = _session_principal(get_tokendesk(request), request)
    return _go_to_provider(request, link, principal.user_id if principal else None)


def _go_to_provider(request: Request, link: str, session_user: str | None) -> Response:
    td = get_tokendesk(request)
    try:
        with td.transaction() as tx:
            flow = td.consent.open_link(tx, link, request.cookies.get(FLOW_COOKIE),
                                        session_user)
    except AuthorizationRejected as exc:
        return _page(request, ok=False, message=exc.message, status=400)
    response = RedirectResponse(flow.provider_url, status_code=303, headers=SENSITIVE)
    set_flow_cookie(td, response, flow.browser_binding)
    return response


def _link_page(request: Request, link: LinkFor, step: str, status: int, *,
               you: str = "") -> HTMLResponse:
    html = render("consent_link.html", link=link, step=step, you=you, here=request.url.path)
    return HTMLResponse(html, status_code=status, headers=SENSITIVE)


@router.get("/callback")
def callback(request: Request) -> Response:
    """The shared redirect URI of connections created before callback URLs were per
    connection."""
    return _callback(request, None)


@router.get("/callback/{connection_id}")
def connection_callback(request: Request, connection_id: str) -> Response:
    """A connection's own redirect URI: the answer must belong to a flow of that connection."""
    return _callback(request, connection_id)


def _callback(request: Request, connection_id: str | None) -> Response:
    """The provider's redirect: exchange the code once, then show a clean result URL."""
    td = get_tokendesk(request)
    binding = request.cookies.get(FLOW_COOKIE)
    session_user = _session_user(td, request)
    try:
        outcome = td.consent.complete(dict(request.query_params), browser_binding=binding,
                                      session_user_id=session_user,
                                      connection_id=connection_id)
    except AuthorizationRejected as exc:
        return _page(request, ok=False, message=exc.message, status=400)
    return RedirectResponse(f"/oauth/done/{outcome.request_id}", status_code=303,
                            headers=SENSITIVE)


@router.get("/done/{request_id}")
def done(request: Request, request_id: str) -> Response:
    td = get_tokendesk(request)
    try:
        with td.transaction() as tx:
            outcome = td.consent.outcome(tx, request_id, request.cookies.get(FLOW_COOKIE))
    except AuthorizationRejected as exc:
        return _page(request, ok=False, message=exc.message, status=404)
    return _page(request, ok=outcome.ok, message=outcome.message, connection=outcome.connection)


def set_flow_cookie(td: Tokendesk, response: Response, value: str) -> None:
    response.set_cookie(FLOW_COOKIE, value, max_age=3600, path="/oauth", httponly=True,
                        samesite="lax", secure=td.settings.secure_cookies)


def _session_user(td: Tokendesk, request: Request) -> str | None:
    principal = _session_principal(td, request)
    return principal.user_id if principal else None


def _session_principal(td: Tokendesk, request: Request) -> Principal | None:
    session_id = request.cookies.get(cookie_name(request, SESSION_COOKIE))
    if not session_id:
        return None
    try:
        with td.transaction() as tx:
            principal, _ = td.auth.authenticate_session(tx, session_id)
    except AuthenticationRequired:
        return None  # an ended session is simply no session
    return principal


def _page(request: Request, *, ok: bool, message: str, status: int = 200,
          connection: str | None = None) -> HTMLResponse:
    html = render("oauth_result.html", ok=ok, message=message, connection=connection)
    return HTMLResponse(html, status_code=status, headers=SENSITIVE)
