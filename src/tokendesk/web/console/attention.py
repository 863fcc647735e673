"""The console's start page: what needs attention, with counts by state (thin: one service
call, then the template)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tokendesk.domain.attention import STATE_LABELS, AttentionState
from tokendesk.domain.permissions import Permission
from tokendesk.services.connections import ConnectionFilter
from tokendesk.web.console.base import ConsoleRoute, CurrentViewer, Viewer, page, tokendesk
from tokendesk.web.console.connections import shared_states
from tokendesk.web.console.views import STATUS_FILTERS

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
    administrator = viewer.can(Permission.VIEW_CONNECTIONS)
    return page(request, viewer, "console/attention.html", found=found, tones=TONES,
                labels=STATE_LABELS, administrator=administrator,
                connection_counts=connection_counts(request, viewer) if administrator else [])


# The badge colour of a shared token's state (the filters of the connections list).
SHARED_TONES = {"valid": "ok", "refreshing_soon": "ok", "attention": "bad", "none": "none"}


def connection_counts(request: Request, viewer: Viewer) -> list[tuple[str, str, str, int]]:
    """How many connections' shared tokens are in each state of the connections list's
    filter (key, label, badge colour, count); connections whose token the viewer may not
    see are not counted."""
    rows = shared_states(tokendesk(request), viewer, ConnectionFilter())
    return [(key, label, SHARED_TONES[key], sum(1 for _, s in rows if s.key == key))
            for key, label in STATUS_FILTERS]
