"""``/api/v1/attention`` (everything a person must fix) and a connection's forecasts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from tokendesk.domain.attention import HORIZON_DAYS_MAX
from tokendesk.domain.tokens import TokenKind
from tokendesk.services.attention_views import (
    AttentionOut,
    ForecastOut,
    ForecastsOut,
    TokenForecastsOut,
    attention_out,
)
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(tags=["attention"], responses=error_responses())


@router.get("/attention")
def attention(
    td: App, caller: Caller,
    horizon_days: Annotated[int | None, Query(ge=0, le=HORIZON_DAYS_MAX)] = None,
) -> AttentionOut:
    """Every connection and token the caller may see that is misconfigured, needs consent, is
    damaged or backing off, or will need consent or a new client credential within
    ``horizon_days`` (default: the setting, 14 days); most urgent first."""
    with td.transaction(read_only=True) as tx:
        found = td.attention.attention(tx, caller, horizon_days)
    return attention_out(found, td.settings.public_url)


@router.get("/connections/{name}/forecasts", tags=["connections"])
def forecasts(td: App, caller: Caller, name: str) -> ForecastsOut:
    """When the connection's client credential runs out, and when each of its tokens the
    caller may see will need consent again; each date with where it comes from."""
    with td.transaction(read_only=True) as tx:
        connection = td.connections.get(tx, caller, name)
        tokens = td.tokens.statuses(tx, caller, connection.name)
    return ForecastsOut(
        connection=[ForecastOut.of(f) for f in td.attention.connection_forecasts(connection)],
        tokens=[
            TokenForecastsOut(
                kind=t.kind.value,
                user_id=t.user_id if t.kind is TokenKind.USER else None,
                forecasts=[ForecastOut.of(f) for f in td.attention.token_forecasts(t, connection)],
            )
            for t in tokens
        ],
    )
