"""The attention list and the forecasts, for the people allowed to see each item."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection as Tx

from tokendesk.catalog import Catalog
from tokendesk.domain.attention import (
    HORIZON_DAYS_MAX,
    AttentionItem,
    AttentionState,
    Facts,
    attention_items,
    counts,
)
from tokendesk.domain.connections import Connection
from tokendesk.domain.forecast import (
    DocumentedLifetimes,
    Forecast,
    connection_forecasts,
    earliest,
)
from tokendesk.domain.forecast import token_forecasts as forecasts_of_token
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal, command_line_principal
from tokendesk.domain.tokens import StoredToken, TokenKind
from tokendesk.errors import ValidationError
from tokendesk.storage.accounts import UserRepository
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.tokens import TokenRepository


@dataclass(frozen=True, slots=True)
class AttentionList:
    """The items one person may see, most urgent first, with how many of each state."""

    items: list[AttentionItem]
    counts: dict[AttentionState, int]
    horizon_days: int
    as_of: datetime

# The whole desk, as the command line (an operator on the server) sees it.
EVERYTHING = command_line_principal()


class AttentionService:
    """Reads connections and tokens in the caller's transaction; never calls a provider."""

    def __init__(
        self, catalog: Catalog, clock: Callable[[], datetime], default_horizon_days: int
    ) -> None:
        self.catalog = catalog
        self.clock = clock
        self.default_horizon_days = default_horizon_days

    def attention(self, tx: Tx, actor: Principal, horizon_days: int | None = None
                  ) -> AttentionList:
        """Everything ``actor`` may see that needs a person now or within ``horizon_days``
        (default: the setting): with *Manage connections* every connection and token; with
        *View connections* every connection and shared token; otherwise the connections
        that invite him, their shared tokens, and his own user-specific tokens.

        Raises ValidationError for a horizon outside 0..HORIZON_DAYS_MAX days.
        """
        days = self.default_horizon_days if horizon_days is None else horizon_days
        if not 0 <= days <= HORIZON_DAYS_MAX:
            raise ValidationError(
                f"The horizon must be a whole number of days from 0 to {HORIZON_DAYS_MAX}.",
                field="horizon_days",
            )
        now = self.clock()
        facts = Facts(
            connections=ConnectionRepository(tx).search(),
            tokens=TokenRepository(tx).list_all(),
            usernames={u.id: u.username for u in UserRepository(tx).search()},
            lifetimes=self.lifetimes,
        )
        items = attention_items(facts, now, timedelta(days=days), _visibility(actor))
        return AttentionList(items, counts(items), days, now)

    def due_within(self, tx: Tx, horizon_days: int | None = None) -> list[AttentionItem]:
        """Every item of the desk (no person's view: for notifications, which then choose
        whom to tell), most urgent first; ``horizon_days`` as in :meth:`attention`."""
        return self.attention(tx, EVERYTHING, horizon_days).items

    def nearest_forecasts(self, tx: Tx) -> dict[str, Forecast]:
        """Each connection's forecast due first (its client credential's, or any of its
        tokens'), by connection name; a connection with none is left out. No horizon."""
        by_id = {c.id: c for c in ConnectionRepository(tx).search()}
        found = {c.id: connection_forecasts(c) for c in by_id.values()}
        for token in TokenRepository(tx).list_all():
            owner = by_id.get(token.connection_id)
            if owner is not None:
                found[owner.id].extend(self.token_forecasts(token, owner))
        nearest = {by_id[cid].name: earliest(forecasts) for cid, forecasts in found.items()}
        return {name: forecast for name, forecast in nearest.items() if forecast is not None}

    def lifetimes(self, connection: Connection) -> DocumentedLifetimes | None:
        """What the connection's provider documents about refresh-token lifetimes."""
        provider = self.catalog.get(connection.provider)
        documented = provider.refresh_token
        if documented is None:
            return None
        return DocumentedLifetimes(
            documented_by=documented.documented_by or provider.name,
            source_url=documented.source,
            absolute_days=documented.absolute_lifetime_days,
            inactivity_days=documented.inactivity_lifetime_days,
        )

    def token_forecasts(self, token: StoredToken, connection: Connection) -> list[Forecast]:
        """When ``token`` will need consent again, earliest first (see domain.forecast)."""
        return forecasts_of_token(token, connection, self.lifetimes(connection))

    @staticmethod
    def connection_forecasts(connection: Connection) -> list[Forecast]:
        """When ``connection``'s client secret or certificate runs out, earliest first."""
        return connection_forecasts(connection)


def _visibility(actor: Principal) -> Callable[[Connection, StoredToken | None], bool]:
    """Who may see what: the same as a connection's token statuses show."""
    manager = actor.can(Permission.MANAGE_CONNECTIONS)
    viewer = actor.can(Permission.VIEW_CONNECTIONS)

    def may_see(connection: Connection, token: StoredToken | None) -> bool:
        if token is not None and token.kind is TokenKind.USER:
            return manager or token.user_id == actor.user_id
        return viewer or connection.invites(actor)

    return may_see
