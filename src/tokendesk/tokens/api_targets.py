"""Where the API proxy sends a connection's calls: its API base URL and the route to it,
read from the database once and remembered for one cache epoch.

A remembered target is good exactly as long as the hot path's handouts
(:mod:`tokendesk.tokens.handout_cache`): database triggers move the epoch on any change to
the rows it comes from -- the connection (its API base URL, its proxy choice and sealed
proxy password), the key ring that opens that password, the global forward proxy and the
egress allowlist (migration ``0023``) -- so the next call on every replica reads it again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from tokendesk.errors import ConnectionNotFound, NoApiBaseUrl
from tokendesk.oauth.outbound import ProxyRoute
from tokendesk.services.connection_rules import api_base_url_in_force
from tokendesk.services.connections import ConnectionService
from tokendesk.services.proxy import ProxyService
from tokendesk.storage.db import Transaction


@dataclass(frozen=True, slots=True)
class ApiTarget:
    """A connection's API base URL in force (its ``{fields}`` still to be filled from the
    token) and the way calls reach it (forward proxy or direct, egress policy)."""

    name: str
    template: str
    route: ProxyRoute


class ApiTargets:
    """Targets by connection id, valid for one cache epoch."""

    def __init__(
        self, transaction: Transaction, connections: ConnectionService, forward: ProxyService
    ) -> None:
        self.transaction = transaction
        self.connections = connections
        self.forward = forward
        self._epoch = -1
        self._targets: dict[str, ApiTarget] = {}
        self._lock = threading.Lock()

    def cached(self, connection_id: str, epoch: int) -> ApiTarget | None:
        """The target remembered for ``connection_id`` when ``epoch`` (read for the current
        call) is the one it was read under; None otherwise."""
        with self._lock:
            return self._targets.get(connection_id) if epoch == self._epoch else None

    def load(self, connection_id: str, name: str, epoch: int) -> ApiTarget:
        """Read the target in one short transaction and remember it under ``epoch``, which
        must have been read before this call (so what it reads is at least that recent).

        Raises ConnectionNotFound, NoApiBaseUrl, ValidationError (a placeholder unfilled).
        """
        with self.transaction(read_only=True) as tx:
            connection = self.connections.get_by_id(tx, connection_id)
            if connection is None:
                raise ConnectionNotFound(f"There is no connection named '{name}'.")
            route = self.forward.route_for(tx, connection)
        provider = self.connections.catalog.get(connection.provider)
        template = api_base_url_in_force(provider, connection)
        if template is None:
            raise NoApiBaseUrl(
                f"'{connection.name}' has no API base URL, so its API cannot be called "
                "through Tokendesk; someone who may manage connections can set one."
            )
        target = ApiTarget(connection.name, template, route)
        with self._lock:
            if epoch > self._epoch:  # a newer epoch: everything remembered before is stale
                self._targets.clear()
                self._epoch = epoch
            if epoch == self._epoch:
                self._targets[connection_id] = target
        return target
