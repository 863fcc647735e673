"""Consents started from the console: send the browser to the provider, and read the verdict
when it comes back through ``/oauth/callback``."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import RedirectResponse

from tokendesk.errors import AuthorizationRejected
from tokendesk.tokens.consent_flow import Purpose
from tokendesk.web.console.base import Viewer, console_store, tokendesk
from tokendesk.web.console.store import PendingConsent, Verdict
from tokendesk.web.oauth import SENSITIVE, set_flow_cookie


def start_consent(request: Request, viewer: Viewer, name: str, purpose: Purpose, *,
                  return_to: str, draft_id: str | None = None) -> RedirectResponse:
    """Start the authorization code flow of ``name`` in this browser and go to the provider.

    The flow cookie lives on ``/oauth`` only, so console pages cannot read it: a new binding
    is made each time (a flow begun earlier in this browser then has to be started again).
    Raises what ConsentService.start raises (ConnectionNotFound, PermissionDenied,
    ValidationError for a client credentials connection).
    """
    td = tokendesk(request)
    with td.transaction() as tx:
        flow = td.consent.start(tx, viewer.principal, name, purpose)
    console_store(request).remember_consent(
        viewer.session_key, name,
        PendingConsent(flow.request_id, flow.browser_binding, return_to, draft_id))
    response = RedirectResponse(flow.provider_url, status_code=303, headers=SENSITIVE)
    set_flow_cookie(td, response, flow.browser_binding)
    return response


def finished_consent(request: Request, viewer: Viewer, name: str) -> Verdict | None:
    """The verdict of the last consent this session started for ``name``, once it is known.

    Returns None while none was started or the provider has not answered yet; a verdict is
    given once and then forgotten.
    """
    store, td = console_store(request), tokendesk(request)
    pending = store.consent(viewer.session_key, name)
    if pending is None:
        return None
    try:
        with td.transaction() as tx:
            outcome = td.consent.outcome(tx, pending.request_id, pending.browser_binding)
    except AuthorizationRejected:
        return None  # not finished (yet); the flow expires by itself after ten minutes
    store.forget_consent(viewer.session_key, name)
    return Verdict(outcome.ok, outcome.message)


def return_path(request: Request, viewer: Viewer, name: str, default: str) -> str:
    pending = console_store(request).consent(viewer.session_key, name)
    return pending.return_to if pending else default
