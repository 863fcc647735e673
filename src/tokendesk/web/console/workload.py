"""Administration > Workload issuers: the trusted issuers, each rule in plain words, and a
box where an administrator pastes a workload token to see which rule maps it, whom it acts
as, and why each other rule does not."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.errors import TokendeskError, WorkloadTokenRejected
from tokendesk.web.console.base import (
    ConsoleRoute,
    CurrentViewer,
    PostedForm,
    Viewer,
    page,
    tokendesk,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
TOKEN_MAX = 16_000


@router.get("/admin/workload-issuers")
def workload_issuers(request: Request, viewer: CurrentViewer) -> Response:
    return _page(request, viewer)


@router.post("/admin/workload-issuers/check")
def check_token(request: Request, viewer: CurrentViewer, form: PostedForm) -> Response:
    """Check a pasted token; the token is never shown back, logged or kept."""
    td = tokendesk(request)
    name, token = form.text("issuer"), form.text("token").strip()
    if not token or len(token) > TOKEN_MAX:
        return _page(request, viewer, errors={"token": "Paste the workload's token (a JWT)."},
                     chosen=name, status=422)
    try:
        found = td.workload_identity.check(viewer.principal, name, token)
    except WorkloadTokenRejected as exc:
        return _page(request, viewer, errors={"token": f"The exchange would refuse this "
                                              f"token: {exc.message}"}, chosen=name, status=422)
    except TokendeskError as exc:
        return _page(request, viewer, errors={"token": exc.message}, chosen=name, status=422)
    result = {"subject": found.subject,
              "matched": found.matched.words() if found.matched else None,
              "acts_as": found.matched.principal_words() if found.matched else None,
              "others": [(rule.words(), why) for rule, why in found.others]}
    return _page(request, viewer, result=result, chosen=name)


def _page(request: Request, viewer: Viewer, *, errors: dict[str, str] | None = None,
          result: dict[str, Any] | None = None, chosen: str = "", status: int = 200) -> Response:
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        issuers = td.workloads.search(tx, viewer.principal)
    return page(request, viewer, "console/admin_workload_issuers.html", status=status,
                issuers=issuers, errors=errors or {}, result=result, chosen=chosen)
