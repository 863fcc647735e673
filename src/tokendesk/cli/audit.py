"""``tokendesk audit``: read or export the audit log (who did what, when; never a secret)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Annotated

import typer

from tokendesk.cli.context import (
    JsonFlag,
    emit,
    open_tokendesk,
    operator,
    parse_time,
    print_json_lines,
)
from tokendesk.domain.audit import AuditEvent, AuditFilter
from tokendesk.errors import ValidationError
from tokendesk.services.audit import AUDIT_PAGE_MAX
from tokendesk.views.audit import AuditEventOut

COLUMNS = ("id", "at", "actor", "via", "action", "target", "outcome", "details")
DEFAULT_LIMIT = 100


def audit(
    actor: Annotated[str | None, typer.Option("--actor", help="Username (or 'cli').")] = None,
    action: Annotated[str | None, typer.Option(
        "--action", help="e.g. connection.create, api_key.revoke.")] = None,
    connection: Annotated[str | None, typer.Option("--connection", help="Connection name.")] = None,
    since: Annotated[str | None, typer.Option(
        "--since", metavar="ISO", help="From this time on (ISO 8601; UTC unless a zone is given).")
    ] = None,
    until: Annotated[str | None, typer.Option("--until", metavar="ISO", help="Before this time.")
                     ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many events.")
                     ] = DEFAULT_LIMIT,
    as_json: JsonFlag = False,
    jsonl: Annotated[bool, typer.Option(
        "--jsonl", help="Print JSON Lines, one event per line, for export.")] = False,
) -> None:
    """Read the audit log, newest first."""
    if as_json and jsonl:
        raise ValidationError("Give --json or --jsonl, not both.")
    start, end = parse_time(since, field="since"), parse_time(until, field="until")
    with open_tokendesk() as td, td.transaction() as tx:
        connection_id = td.connections.get(tx, operator(), connection).id if connection else None
        where = AuditFilter(actor, action, connection_id, start, end, limit)
        found = _events(lambda page: td.audit.search(tx, operator(), page), where)
        if jsonl:
            print_json_lines(AuditEventOut.of(e) for e in found)
            return
        events = [AuditEventOut.of(e) for e in found]
    emit(events, as_json, COLUMNS)


def _events(search: Callable[[AuditFilter], list[AuditEvent]],
            where: AuditFilter) -> Iterator[AuditEvent]:
    """Up to ``where.limit`` events, newest first, read page by page (the service caps a
    page at AUDIT_PAGE_MAX)."""
    left, before = where.limit, None
    while left > 0:
        page = search(replace(where, limit=min(left, AUDIT_PAGE_MAX), before_id=before))
        yield from page
        if len(page) < min(left, AUDIT_PAGE_MAX):
            return
        left, before = left - len(page), page[-1].id
