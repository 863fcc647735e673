"""Administration > Audit log: filters, pages of events, and a JSON Lines export."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.errors import ConnectionNotFound, ValidationError
from tokendesk.services.audit import AUDIT_PAGE_MAX
from tokendesk.web.console.base import ConsoleRoute, CurrentViewer, Viewer, page, tokendesk
from tokendesk.wiring import Tokendesk

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50
EXPORT_MAX = 100_000
FILTER_MAX = 200
TIME_FORMATS = ("%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d")


def _filters(request: Request) -> dict[str, str]:
    query = request.query_params
    return {key: (query.get(key) or "").strip()[:FILTER_MAX]
            for key in ("actor", "action", "connection", "since", "until", "before")}


def _moment(text: str, field: str) -> datetime | None:
    """A time typed in the filter (UTC): ``2025-03-01T14:05`` or ``2025-03-01``."""
    if not text:
        return None
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise ValidationError("Enter a time as YYYY-MM-DD or YYYY-MM-DDTHH:MM (UTC).", field=field)


def _where(td: Tokendesk, viewer: Viewer, filters: dict[str, str], limit: int) -> AuditFilter:
    """The filter the form describes; raises ValidationError or ConnectionNotFound."""
    before = filters["before"]
    with td.transaction() as tx:
        connection_id = (td.audit.connection_id(tx, viewer.principal, filters["connection"])
                         if filters["connection"] else None)
    return AuditFilter(actor=filters["actor"] or None, action=filters["action"] or None,
                       connection_id=connection_id, since=_moment(filters["since"], "since"),
                       until=_moment(filters["until"], "until"), limit=limit,
                       before_id=int(before) if before.isdigit() and len(before) < 10 else None)


@router.get("/admin/audit")
def audit_log(request: Request, viewer: CurrentViewer) -> Response:
    td = tokendesk(request)
    filters = _filters(request)
    errors: dict[str, str] = {}
    events: list[AuditEvent] = []
    try:
        where = _where(td, viewer, filters, PAGE_SIZE + 1)
        with td.transaction() as tx:
            events = td.audit.search(tx, viewer.principal, where)
    except ValidationError as exc:
        errors[exc.field or "actor"] = exc.message
    except ConnectionNotFound as exc:
        errors["connection"] = exc.message
    older = events[PAGE_SIZE - 1].id if len(events) > PAGE_SIZE else None
    query = {k: v for k, v in filters.items() if v and k != "before"}
    return page(request, viewer, "console/admin_audit.html", events=events[:PAGE_SIZE],
                filters=filters, errors=errors, older=older, query=query,
                details=_details_text)


@router.get("/admin/audit/export")
def export_audit_log(request: Request, viewer: CurrentViewer) -> Response:
    """Every matching event, newest first, one JSON object a line (JSON Lines)."""
    td = tokendesk(request)
    where = _where(td, viewer, _filters(request), AUDIT_PAGE_MAX)
    with td.transaction() as tx:
        first = td.audit.search(tx, viewer.principal, where)  # permission checked up front

    def lines() -> Iterator[bytes]:
        batch, sent = first, 0
        while batch and sent < EXPORT_MAX:
            for event in batch:
                yield (json.dumps(_event_json(event), ensure_ascii=False) + "\n").encode()
            sent += len(batch)
            if len(batch) < AUDIT_PAGE_MAX:
                return
            with td.transaction() as tx:
                batch = td.audit.search(tx, viewer.principal,
                                        replace(where, before_id=batch[-1].id))

    stamp = td.clock().strftime("%Y%m%dT%H%M%SZ")
    return StreamingResponse(lines(), media_type="application/jsonl", headers={
        "Content-Disposition": f'attachment; filename="tokendesk-audit-{stamp}.jsonl"'})


def _event_json(event: AuditEvent) -> dict[str, Any]:
    return {"id": event.id, "at": event.at.isoformat(), "actor": event.actor, "via": event.via,
            "action": event.action, "target_type": event.target_type, "target": event.target,
            "outcome": event.outcome, "details": event.details}


def _details_text(details: dict[str, Any]) -> str:
    return ", ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in details.items())
