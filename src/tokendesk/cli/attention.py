"""``tokendesk attention``: everything a person must fix, most urgent first (as the console's
start page and ``GET /api/v1/attention`` show it)."""

from __future__ import annotations

from typing import Annotated

import typer

from tokendesk.cli.context import JsonFlag, emit, open_tokendesk, operator
from tokendesk.domain.attention import HORIZON_DAYS_MAX
from tokendesk.services.attention_views import attention_out

COLUMNS = ("label", "connection", "user", "due_at", "reason", "who_can_fix", "fix_url")


def attention(
    horizon_days: Annotated[int | None, typer.Option(
        "--horizon-days", min=0, max=HORIZON_DAYS_MAX,
        help="Also list what falls due within this many days (default: the setting, 14).")
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """List what needs attention: misconfigured connections, tokens that need consent, are
    damaged or backing off, and what will need consent or a new client secret soon."""
    with open_tokendesk() as td, td.transaction(read_only=True) as tx:
        found = attention_out(td.attention.attention(tx, operator(), horizon_days),
                              td.settings.public_url)
    if as_json:
        emit(found, True)
        return
    emit(found.items, False, COLUMNS)
