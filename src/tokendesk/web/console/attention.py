"""The console's start page: what needs attention, with counts by state (thin: one service
call, then the template)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.attention import STATE_LABELS, AttentionState
from tokendesk.domain.permissions import Permission
from tokendesk.web.console.base import ConsoleRoute, CurrentViewer, page, tokendesk

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# The badge colour of each state: broken now, or due soon.
TONES = {state: "bad" for state in (AttentionState.MISCONFIGURED, AttentionState.NEEDS_CONSENT,
                                    AttentionState.DAMAGED)} | {
    state: "warn" for state in (AttentionState.BACKING_OFF, AttentionState.SECRET_EXPIRING,
                                AttentionState.CERTIFICATE_EXPIRING,
                                AttentionState.CONSENT_DUE)}


@router.get("/attention")
def attention_page(request: Request, viewer: CurrentViewer) -> Response:
    """Everything the viewer may see that needs a person, most urgent first."""
    td = tokendesk(request)
    with td.transaction(read_only=True) as tx:
        found = td.attention.attention(tx, viewer.principal)
    return page(request, viewer, "console/attention.html", found=found, tones=TONES,
                labels=STATE_LABELS,
                administrator=viewer.can(Permission.VIEW_CONNECTIONS))
