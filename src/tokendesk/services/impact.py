"""What a destructive action would break, for the console's confirmation pages.

Each method takes a transaction, reads, and returns an :class:`Impact`: who would lose what.
Nothing here changes anything; the action itself stays with its own service.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Connection as Tx

from tokendesk.domain.accounts import ApiKey, User
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.errors import ApiKeyNotFound, ConnectionNotFound, RoleNotFound, UserNotFound
from tokendesk.storage.accounts import ApiKeyRepository, RoleRepository, UserRepository
from tokendesk.storage.connections import ConnectionRepository


@dataclass(frozen=True, slots=True)
class Impact:
    """Who an action reaches: enabled ``users``, of them ``bots`` (users holding an active
    API key), active ``api_keys`` in all, and the ``connections`` concerned by name."""

    users: int = 0
    bots: int = 0
    api_keys: int = 0
    connections: tuple[str, ...] = field(default_factory=tuple)


class ImpactService:
    """Counts for confirmation pages (Disconnect, Delete role, Disable user, Revoke API key)."""

    def of_shared_token(self, tx: Tx, actor: Principal, connection_name: str) -> Impact:
        """Who uses a connection's shared token: the enabled users of its invited roles.

        Raises PermissionDenied without *Manage connections*, ConnectionNotFound.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        connection = ConnectionRepository(tx).get_by_name(connection_name)
        if connection is None:
            raise ConnectionNotFound(f"There is no connection named '{connection_name}'.")
        return _members(tx, connection.invited_role_ids, (connection.name,))

    def of_role(self, tx: Tx, actor: Principal, role_name: str) -> Impact:
        """Who holds a role, and which connections invite it.

        Raises PermissionDenied without *Manage roles*, RoleNotFound.
        """
        actor.require(Permission.MANAGE_ROLES)
        role = RoleRepository(tx).get_by_name(role_name)
        if role is None:
            raise RoleNotFound(f"There is no role named '{role_name}'.")
        inviting = tuple(c.name for c in ConnectionRepository(tx).search()
                         if role.id in c.invited_role_ids)
        return _members(tx, {role.id}, inviting)

    def of_user(self, tx: Tx, actor: Principal, username: str) -> Impact:
        """The active API keys of one user (they stop working when he is disabled).

        Raises PermissionDenied without *Manage users*, UserNotFound.
        """
        actor.require(Permission.MANAGE_USERS)
        user = UserRepository(tx).get_by_username(username)
        if user is None:
            raise UserNotFound(f"There is no user named '{username}'.")
        keys = [k for k in ApiKeyRepository(tx).search(user_id=user.id) if k.revoked_at is None]
        return Impact(users=1, bots=1 if keys else 0, api_keys=len(keys))

    def api_key(self, tx: Tx, actor: Principal, key_id: str) -> tuple[ApiKey, str]:
        """An API key the actor may revoke, with its user's name.

        Raises ApiKeyNotFound for a key that is not there or not the actor's to see (his own
        keys, or anyone's with *Manage users*).
        """
        key = ApiKeyRepository(tx).get(key_id)
        own = key is not None and key.user_id == actor.user_id
        if key is None or not (own or actor.can(Permission.MANAGE_USERS)):
            raise ApiKeyNotFound("There is no such API key.")
        owner = UserRepository(tx).get(key.user_id)
        return key, owner.username if owner else "unknown"


def _members(tx: Tx, role_ids: Iterable[str], connections: tuple[str, ...]) -> Impact:
    wanted = set(role_ids)
    members: list[User] = [u for u in UserRepository(tx).search()
                           if not u.disabled and not wanted.isdisjoint(u.role_ids)]
    ids = {u.id for u in members}
    keys = [k for k in ApiKeyRepository(tx).search() if k.user_id in ids and k.revoked_at is None]
    return Impact(users=len(members), bots=len({k.user_id for k in keys}), api_keys=len(keys),
                  connections=connections)
