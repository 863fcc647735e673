"""Users, roles, role permissions, memberships, API keys and console sessions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx
from sqlalchemy import Row, bindparam, delete, insert, or_, select, update

from tokendesk.domain.accounts import ApiKey, Role, User
from tokendesk.domain.names import name_key
from tokendesk.domain.permissions import Permission
from tokendesk.storage.tables import (
    api_keys,
    console_sessions,
    role_permissions,
    roles,
    user_roles,
    users,
)


class UserRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self, user_id: str) -> User | None:
        row = self.tx.execute(select(users).where(users.c.id == user_id)).first()
        return self._with_roles([row])[0] if row else None

    def get_by_username(self, username: str) -> User | None:
        row = self.tx.execute(
            select(users).where(users.c.username_key == name_key(username))
        ).first()
        return self._with_roles([row])[0] if row else None

    def password_hash(self, user_id: str) -> str | None:
        return self.tx.execute(
            select(users.c.password_hash).where(users.c.id == user_id)
        ).scalar_one_or_none()

    def search(self) -> list[User]:
        return self._with_roles(self.tx.execute(select(users).order_by(users.c.username_key)).all())

    def count(self) -> int:
        return len(self.tx.execute(select(users.c.id)).all())

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(users).values(**values, username_key=name_key(values["username"])))

    def update(self, user_id: str, values: Mapping[str, Any]) -> None:
        self.tx.execute(update(users).where(users.c.id == user_id).values(**values))

    def delete(self, user_id: str) -> None:
        self.tx.execute(delete(users).where(users.c.id == user_id))

    def set_roles(self, user_id: str, role_ids: Iterable[str]) -> None:
        self.tx.execute(delete(user_roles).where(user_roles.c.user_id == user_id))
        rows = [{"user_id": user_id, "role_id": rid} for rid in sorted(set(role_ids))]
        if rows:
            self.tx.execute(insert(user_roles), rows)

    def _with_roles(self, rows: Sequence[Row[Any]]) -> list[User]:
        ids = [row.id for row in rows]
        memberships: dict[str, set[str]] = {}
        if ids:
            for m in self.tx.execute(select(user_roles).where(user_roles.c.user_id.in_(ids))):
                memberships.setdefault(m.user_id, set()).add(m.role_id)
        return [
            User(
                id=row.id,
                username=row.username,
                display_name=row.display_name,
                disabled=row.disabled,
                role_ids=frozenset(memberships.get(row.id, ())),
                password_change_required=row.password_change_required,
                created_at=row.created_at,
                updated_at=row.updated_at,
                email=row.email,
            )
            for row in rows
        ]


class RoleRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def get(self, role_id: str) -> Role | None:
        row = self.tx.execute(select(roles).where(roles.c.id == role_id)).first()
        return self._with_permissions([row])[0] if row else None

    def get_by_name(self, name: str) -> Role | None:
        row = self.tx.execute(select(roles).where(roles.c.name_key == name_key(name))).first()
        return self._with_permissions([row])[0] if row else None

    def search(self, *, ids: Iterable[str] | None = None) -> list[Role]:
        query = select(roles).order_by(roles.c.system.desc(), roles.c.name_key)
        if ids is not None:
            query = query.where(roles.c.id.in_(list(ids)))
        return self._with_permissions(self.tx.execute(query).all())

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(roles).values(**values, name_key=name_key(values["name"])))

    def update(self, role_id: str, values: Mapping[str, Any]) -> None:
        extra = {"name_key": name_key(values["name"])} if "name" in values else {}
        self.tx.execute(update(roles).where(roles.c.id == role_id).values(**values, **extra))

    def delete(self, role_id: str) -> None:
        self.tx.execute(delete(roles).where(roles.c.id == role_id))

    def set_permissions(self, role_id: str, permissions: Iterable[Permission]) -> None:
        self.tx.execute(delete(role_permissions).where(role_permissions.c.role_id == role_id))
        rows = [{"role_id": role_id, "permission": p.value} for p in sorted(set(permissions))]
        if rows:
            self.tx.execute(insert(role_permissions), rows)

    def _with_permissions(self, rows: Sequence[Row[Any]]) -> list[Role]:
        ids = [row.id for row in rows]
        granted: dict[str, set[Permission]] = {}
        if ids:
            query = select(role_permissions).where(role_permissions.c.role_id.in_(ids))
            for p in self.tx.execute(query):
                if p.permission in Permission._value2member_map_:
                    granted.setdefault(p.role_id, set()).add(Permission(p.permission))
        return [
            Role(
                id=row.id,
                name=row.name,
                description=row.description,
                system=row.system,
                permissions=frozenset(granted.get(row.id, ())),
                created_at=row.created_at,
                updated_at=row.updated_at,
            )
            for row in rows
        ]


class ApiKeyRepository:
    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(api_keys).values(**values))

    def find_by_prefix(self, prefix: str) -> tuple[ApiKey, str] | None:
        """The key with ``prefix`` and its stored secret hash."""
        row = self.tx.execute(select(api_keys).where(api_keys.c.prefix == prefix)).first()
        return (_to_key(row), row.secret_hash) if row else None

    def get(self, key_id: str) -> ApiKey | None:
        row = self.tx.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        return _to_key(row) if row else None

    def search(self, *, user_id: str | None = None) -> list[ApiKey]:
        query = select(api_keys).order_by(api_keys.c.created_at)
        if user_id:
            query = query.where(api_keys.c.user_id == user_id)
        return [_to_key(row) for row in self.tx.execute(query)]

    def touch_many(self, last_uses: Mapping[str, datetime]) -> None:
        """Move the "last used" time of each key forward to its moment (never back)."""
        if not last_uses:
            return
        self.tx.execute(
            update(api_keys)
            .where(api_keys.c.id == bindparam("key_id"),
                   or_(api_keys.c.last_used_at.is_(None),
                       api_keys.c.last_used_at < bindparam("at")))
            .values(last_used_at=bindparam("at")),
            [{"key_id": key_id, "at": at} for key_id, at in last_uses.items()],
        )

    def revoke(self, key_id: str, at: datetime) -> None:
        self.tx.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=at)
        )


def _to_key(row: Row[Any]) -> ApiKey:
    return ApiKey(
        id=row.id,
        prefix=row.prefix,
        name=row.name,
        user_id=row.user_id,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )


class SessionRepository:
    """Console sessions, stored by the hash of their cookie value."""

    def __init__(self, tx: Tx) -> None:
        self.tx = tx

    def insert(self, values: Mapping[str, Any]) -> None:
        self.tx.execute(insert(console_sessions).values(**values))

    def find(self, id_hash: str, now: datetime) -> Row[Any] | None:
        return self.tx.execute(
            select(console_sessions).where(
                console_sessions.c.id_hash == id_hash, console_sessions.c.expires_at > now
            )
        ).first()

    def delete(self, id_hash: str) -> None:
        self.tx.execute(delete(console_sessions).where(console_sessions.c.id_hash == id_hash))

    def delete_for_user(self, user_id: str, *, except_hash: str | None = None) -> None:
        """End every session of a user, but the one whose id hash is ``except_hash``."""
        query = delete(console_sessions).where(console_sessions.c.user_id == user_id)
        if except_hash is not None:
            query = query.where(console_sessions.c.id_hash != except_hash)
        self.tx.execute(query)
