"""Connections and their invited roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, delete, func, insert, select, update

from tokendesk.domain.connection_proxy import ConnectionProxy, ProxyMode
from tokendesk.domain.connections import Connection, ConnectionStatus, GrantType
from tokendesk.domain.names import name_key
from tokendesk.storage.tables import connection_roles, connections, roles


class ConnectionRepository:
    """Reads and writes ``connections``; the client secret only as ciphertext."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get_by_name(self, name: str) -> Connection | None:
        row = self.tx.execute(
            select(connections).where(connections.c.name_key == name_key(name))
        ).first()
        return self._load(row) if row else None

    def get(self, connection_id: str) -> Connection | None:
        row = self.tx.execute(select(connections).where(connections.c.id == connection_id)).first()
        return self._load(row) if row else None

    def get_without_invitations(self, connection_id: str) -> Connection | None:
        """The connection with no invited roles read (a refresh does not need them)."""
        row = self.tx.execute(select(connections).where(connections.c.id == connection_id)).first()
        return _to_connection(row, {}) if row else None

    def search(
        self, *, provider: str | None = None, name_contains: str | None = None
    ) -> list[Connection]:
        query = select(connections).order_by(connections.c.name_key)
        if provider:
            query = query.where(connections.c.provider == provider)
        if name_contains:
            pattern = "%" + _escape_like(name_contains.casefold()) + "%"
            query = query.where(connections.c.name_key.like(pattern, escape="\\"))
        rows = self.tx.execute(query).all()
        invited = self._invited_roles([row.id for row in rows])
        return [_to_connection(row, invited.get(row.id, {})) for row in rows]

    def name_taken(self, name: str, *, except_id: str | None = None) -> bool:
        query = (
            select(func.count())
            .select_from(connections)
            .where(connections.c.name_key == name_key(name))
        )
        if except_id:
            query = query.where(connections.c.id != except_id)
        return bool(self.tx.execute(query).scalar_one())

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(connections).values(**values, name_key=name_key(values["name"])))

    def update(self, connection_id: str, values: Mapping[str, Any]) -> None:
        extra = {"name_key": name_key(values["name"])} if "name" in values else {}
        self.tx.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(**values, **extra, version=connections.c.version + 1)
        )

    def delete(self, connection_id: str) -> None:
        self.tx.execute(delete(connections).where(connections.c.id == connection_id))

    def set_status(
        self, connection_id: str, status: ConnectionStatus, last_error: str | None
    ) -> None:
        """Mark the connection ok or misconfigured without counting it as an edit."""
        self.tx.execute(
            update(connections)
            .where(connections.c.id == connection_id)
            .values(status=status.value, last_error=last_error)
        )

    def move_status(self, connection_id: str, status: ConnectionStatus) -> bool:
        """Set the status unless it is that already (as committed now, whatever a caller
        read before); True when it moved."""
        result = self.tx.execute(
            update(connections)
            .where(connections.c.id == connection_id, connections.c.status != status.value)
            .values(status=status.value)
        )
        return result.rowcount == 1

    def client_secret_ciphertext(self, connection_id: str) -> str | None:
        return self.tx.execute(
            select(connections.c.client_secret_ct).where(connections.c.id == connection_id)
        ).scalar_one_or_none()

    def client_key_ciphertext(self, connection_id: str) -> str | None:
        return self.tx.execute(
            select(connections.c.client_key_ct).where(connections.c.id == connection_id)
        ).scalar_one_or_none()

    def proxy_password_ciphertext(self, connection_id: str) -> str | None:
        return self.tx.execute(
            select(connections.c.proxy_password_ct).where(connections.c.id == connection_id)
        ).scalar_one_or_none()

    def set_invited_roles(self, connection_id: str, role_ids: Iterable[str]) -> None:
        self.tx.execute(
            delete(connection_roles).where(connection_roles.c.connection_id == connection_id)
        )
        rows = [{"connection_id": connection_id, "role_id": rid} for rid in sorted(set(role_ids))]
        if rows:
            self.tx.execute(insert(connection_roles), rows)

    def _load(self, row: Row[Any]) -> Connection:
        return _to_connection(row, self._invited_roles([row.id]).get(row.id, {}))

    def _invited_roles(self, connection_ids: Sequence[str]) -> dict[str, dict[str, str]]:
        """Per connection id: invited role id -> role name."""
        if not connection_ids:
            return {}
        rows = self.tx.execute(
            select(connection_roles.c.connection_id, roles.c.id, roles.c.name)
            .join(roles, roles.c.id == connection_roles.c.role_id)
            .where(connection_roles.c.connection_id.in_(connection_ids))
        ).all()
        found: dict[str, dict[str, str]] = {}
        for connection_id, role_id, role_name in rows:
            found.setdefault(connection_id, {})[role_id] = role_name
        return found


def _to_connection(row: Row[Any], invited: dict[str, str]) -> Connection:
    return Connection(
        id=row.id,
        name=row.name,
        description=row.description,
        provider=row.provider,
        grant_type=GrantType(row.grant_type),
        client_id=row.client_id,
        has_client_secret=row.client_secret_ct is not None,
        has_client_key=row.client_key_ct is not None,
        client_certificate=row.client_certificate,
        authorization_url=row.authorization_url,
        token_url=row.token_url,
        scopes=tuple(row.scopes),
        pkce=row.pkce,
        client_auth_method=row.client_auth_method,
        revocation_url=row.revocation_url,
        api_base_url=row.api_base_url,
        placeholders=dict(row.placeholders),
        invited_role_ids=frozenset(invited),
        invited_roles=tuple(sorted(invited.values(), key=str.casefold)),
        version=row.version,
        status=ConnectionStatus(row.status),
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
        created_by=row.created_by,
        updated_by=row.updated_by,
        shared_callback=row.shared_callback,
        client_secret_expires_on=row.client_secret_expires_on,
        client_changed_at=row.client_changed_at,
        proxy=ConnectionProxy(
            mode=ProxyMode(row.proxy_mode),
            url=row.proxy_url,
            username=row.proxy_username,
            has_password=row.proxy_password_ct is not None,
            bypass=tuple(row.proxy_bypass or ()),
        ),
    )


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
