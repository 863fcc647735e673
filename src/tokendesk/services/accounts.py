"""Use cases for users and roles."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy import Connection as Tx

from tokendesk.domain.accounts import Role, User
from tokendesk.domain.mail import validate_email
from tokendesk.domain.names import (
    has_control_characters,
    validate_name,
    validate_text,
    validate_username,
)
from tokendesk.domain.permissions import ADMINISTRATOR, SYSTEM_ROLES, Permission, expand
from tokendesk.domain.principal import Principal
from tokendesk.errors import (
    DuplicateName,
    PermissionDenied,
    RoleNotFound,
    UserNotFound,
    ValidationError,
)
from tokendesk.services.audit import AuditService
from tokendesk.services.inputs import RoleCreate, RoleUpdate, UserCreate, UserUpdate
from tokendesk.services.passwords import PRODUCTION_PASSWORDS, Passwords, check_password_policy
from tokendesk.storage.accounts import RoleRepository, SessionRepository, UserRepository
from tokendesk.storage.ids import new_id


class AccountService:
    def __init__(self, audit: AuditService, clock: Callable[[], datetime],
                 passwords: Passwords = PRODUCTION_PASSWORDS) -> None:
        self.audit = audit
        self.clock = clock
        self.passwords = passwords  # hashes new passwords; AuthService checks them with it

    # --- roles ------------------------------------------------------------------------

    def ensure_system_roles(self, tx: Tx) -> None:
        """Create or update the system roles so they carry exactly their permissions."""
        repo = RoleRepository(tx)
        now = self.clock()
        for system in SYSTEM_ROLES:
            role = repo.get_by_name(system.name)
            if role is None:
                role_id = new_id()
                repo.insert(
                    {"id": role_id, "name": system.name, "description": system.description,
                     "system": True, "created_at": now, "updated_at": now}
                )
            else:
                role_id = role.id
            repo.set_permissions(role_id, system.permissions)

    def list_roles(self, tx: Tx, actor: Principal, *, custom_only: bool = False) -> list[Role]:
        actor.require_any(Permission.MANAGE_ROLES, Permission.MANAGE_USERS,
                          Permission.MANAGE_CONNECTIONS)
        found = RoleRepository(tx).search()
        return [r for r in found if not (custom_only and r.system)]

    def get_role(self, tx: Tx, name: str) -> Role:
        role = None if has_control_characters(name) else RoleRepository(tx).get_by_name(name)
        if role is None:
            raise RoleNotFound(f"There is no role named '{name}'.")
        return role

    def create_role(self, tx: Tx, actor: Principal, data: RoleCreate) -> Role:
        actor.require(Permission.MANAGE_ROLES)
        repo = RoleRepository(tx)
        name = validate_name(data.name, field="name", what="role", max_length=64)
        if repo.get_by_name(name):
            raise DuplicateName(f"A role named '{name}' already exists.", field="name")
        _require_grantable(actor, data.permissions)
        now, role_id = self.clock(), new_id()
        repo.insert(
            {"id": role_id, "name": name, "system": False, "created_at": now, "updated_at": now,
             "description": validate_text(data.description, field="description",
                                          label="Description", max_length=500)}
        )
        repo.set_permissions(role_id, data.permissions)
        self.audit.record(tx, actor, "role.create", target_type="role", target=name,
                          details={"permissions": sorted(p.value for p in data.permissions)})
        return self._role(repo, role_id)

    def update_role(self, tx: Tx, actor: Principal, name: str, data: RoleUpdate) -> Role:
        actor.require(Permission.MANAGE_ROLES)
        repo, role = RoleRepository(tx), self.get_role(tx, name)
        if role.system:
            raise PermissionDenied(f"'{role.name}' is a system role; it cannot be changed.")
        values: dict[str, object] = {"updated_at": self.clock()}
        if data.name is not None:
            new_name = validate_name(data.name, field="name", what="role", max_length=64)
            other = repo.get_by_name(new_name)
            if other and other.id != role.id:
                raise DuplicateName(f"A role named '{new_name}' already exists.", field="name")
            values["name"] = new_name
        if data.description is not None:
            values["description"] = validate_text(
                data.description, field="description", label="Description", max_length=500
            )
        if data.permissions is not None:
            _require_grantable(actor, set(data.permissions) - role.permissions)
            repo.set_permissions(role.id, data.permissions)
        repo.update(role.id, values)
        changed = sorted(k for k, v in data.model_dump(exclude_unset=True).items() if v is not None)
        self.audit.record(tx, actor, "role.update", target_type="role", target=role.name,
                          details={"changed": changed})
        return self._role(repo, role.id)

    def delete_role(self, tx: Tx, actor: Principal, name: str) -> None:
        actor.require(Permission.MANAGE_ROLES)
        role = self.get_role(tx, name)
        if role.system:
            raise PermissionDenied(f"'{role.name}' is a system role; it cannot be deleted.")
        RoleRepository(tx).delete(role.id)
        self.audit.record(tx, actor, "role.delete", target_type="role", target=role.name)

    def resolve_roles(self, tx: Tx, names: Iterable[str], *, field: str,
                      custom_only: bool = False) -> list[Role]:
        """The roles named, refusing unknown names (and system roles when ``custom_only``)."""
        repo, found = RoleRepository(tx), []
        for name in dict.fromkeys(n.strip() for n in names if n.strip()):
            role = None if has_control_characters(name) else repo.get_by_name(name)
            if role is None:
                raise ValidationError(f"There is no role named '{name}'.", field=field)
            if custom_only and role.system:
                raise ValidationError(
                    f"'{role.name}' is a system role; only custom roles can be invited.",
                    field=field,
                )
            found.append(role)
        return found

    @staticmethod
    def _role(repo: RoleRepository, role_id: str) -> Role:
        role = repo.get(role_id)
        assert role is not None  # just written in this transaction
        return role

    # --- names for display --------------------------------------------------------------

    def role_names(self, tx: Tx) -> dict[str, str]:
        """Role id -> role name."""
        return {r.id: r.name for r in RoleRepository(tx).search()}

    def usernames(self, tx: Tx) -> dict[str, str]:
        """User id -> username."""
        return {u.id: u.username for u in UserRepository(tx).search()}

    # --- users ------------------------------------------------------------------------

    def list_users(self, tx: Tx, actor: Principal) -> list[User]:
        actor.require(Permission.MANAGE_USERS)
        return UserRepository(tx).search()

    def get_user(self, tx: Tx, username: str) -> User:
        bad = has_control_characters(username)
        user = None if bad else UserRepository(tx).get_by_username(username)
        if user is None:
            raise UserNotFound(f"There is no user named '{username}'.")
        return user

    def create_user(self, tx: Tx, actor: Principal, data: UserCreate) -> User:
        actor.require(Permission.MANAGE_USERS)
        repo = UserRepository(tx)
        username = validate_username(data.username)
        if repo.get_by_username(username):
            raise DuplicateName(f"A user named '{username}' already exists.", field="username")
        roles = self.resolve_roles(tx, data.roles, field="roles")
        _require_grantable(actor, (p for r in roles for p in r.permissions))
        check_password_policy(data.password.get_secret_value())
        now, user_id = self.clock(), new_id()
        repo.insert(
            {"id": user_id, "username": username, "created_at": now, "updated_at": now,
             "display_name": validate_text(data.display_name, field="display_name",
                                           label="Display name", max_length=200),
             "password_hash": self.passwords.hash(data.password.get_secret_value()),
             "email": _email(data.email)}
        )
        repo.set_roles(user_id, [r.id for r in roles])
        self.audit.record(tx, actor, "user.create", target_type="user", target=username,
                          details={"roles": [r.name for r in roles]})
        return self.get_user(tx, username)

    def update_user(self, tx: Tx, actor: Principal, username: str, data: UserUpdate) -> User:
        """Edit a user; absent fields keep their value.

        Raises PermissionDenied (no *Manage users*, or the user holds permissions the actor
        lacks), ValidationError (weak password, unknown role, disabling yourself, leaving no
        administrator) and UserNotFound.
        """
        actor.require(Permission.MANAGE_USERS)
        repo, user = UserRepository(tx), self.get_user(tx, username)
        self.require_may_act_for(tx, actor, user)
        if data.disabled and user.id == actor.user_id:
            raise ValidationError("You cannot disable your own account.", field="disabled")
        values = _user_values(data, self.clock(), self.passwords)
        role_ids: list[str] | None = None
        if data.roles is not None:
            roles = self.resolve_roles(tx, data.roles, field="roles")
            _require_grantable(actor, (p for r in roles for p in r.permissions))
            role_ids = [r.id for r in roles]
        self._keep_an_administrator(tx, user, role_ids, data.disabled)
        if role_ids is not None:
            repo.set_roles(user.id, role_ids)
        repo.update(user.id, values)
        if data.password is not None or data.disabled:
            SessionRepository(tx).delete_for_user(user.id)
        changed = sorted(k for k, v in data.model_dump(exclude_unset=True).items() if v is not None)
        details: dict[str, object] = {"changed": changed}
        if data.disabled is not None:
            details["disabled"] = data.disabled
        self.audit.record(tx, actor, "user.update", target_type="user", target=user.username,
                          details=details)
        return self.get_user(tx, username)

    def change_own_password(self, tx: Tx, actor: Principal, current: str, new: str, *,
                            keep_session: str | None = None) -> User:
        """Change the actor's own password, which he proves he knows; his other console
        sessions end (``keep_session``: the hash of the one to keep) and a required change
        is done.

        Returns the user. Raises ValidationError: ``current_password`` when it is not right,
        ``new_password`` when the new one breaks the policy or equals the current one.
        """
        repo = UserRepository(tx)
        user = repo.get(actor.user_id or "")
        if user is None or user.disabled:
            raise UserNotFound("Your account no longer exists; sign in again.")
        if not self.passwords.verify(repo.password_hash(user.id), current):
            raise ValidationError("Your current password is not right.",
                                  field="current_password")
        try:
            check_password_policy(new)
        except ValidationError as exc:
            raise ValidationError(exc.message, field="new_password") from None
        if new == current:
            raise ValidationError("Choose a new password that is not your current one.",
                                  field="new_password")
        repo.update(user.id, {"password_hash": self.passwords.hash(new),
                              "password_change_required": False, "updated_at": self.clock()})
        SessionRepository(tx).delete_for_user(user.id, except_hash=keep_session)
        self.audit.record(tx, actor, "user.password.change", target_type="user",
                          target=user.username,
                          details={"required": user.password_change_required})
        return self.get_user(tx, user.username)

    def permissions_of(self, tx: Tx, user: User) -> frozenset[Permission]:
        """Every permission the roles of ``user`` grant, with those they imply."""
        roles = RoleRepository(tx).search(ids=user.role_ids) if user.role_ids else []
        return expand(p for role in roles for p in role.permissions)

    def require_may_act_for(self, tx: Tx, actor: Principal, user: User) -> None:
        """Raise PermissionDenied unless ``actor`` holds every permission ``user`` holds.

        Fail closed: otherwise a user manager could reset an administrator's password or
        create a key that acts as him, and so become administrator himself.
        """
        missing = self.permissions_of(tx, user) - actor.permissions
        if missing:
            raise PermissionDenied(
                f"'{user.username}' holds permissions you do not have ({_labels(missing)}); "
                "only someone who holds them all can change this user or act for him."
            )

    def bootstrap_admin(self, tx: Tx, actor: Principal, username: str, password: str) -> User:
        """Create an administrator (``tokendesk admin create`` and first start)."""
        admin_role = self.get_role(tx, ADMINISTRATOR.name)
        data = UserCreate(username=username, password=SecretStr(password),
                          roles=[admin_role.name])
        return self.create_user(tx, actor, data)

    def _keep_an_administrator(self, tx: Tx, user: User, role_ids: list[str] | None,
                               disabled: bool | None) -> None:
        """Refuse to leave the installation without an enabled administrator."""
        admin = self.get_role(tx, ADMINISTRATOR.name)
        if admin.id not in user.role_ids or user.disabled:
            return
        loses_role = role_ids is not None and admin.id not in role_ids
        if not (loses_role or disabled):
            return
        others = [u for u in UserRepository(tx).search()
                  if admin.id in u.role_ids and u.id != user.id and not u.disabled]
        if not others:
            raise ValidationError(
                f"'{user.username}' is the last enabled administrator; make another user an "
                "administrator first.", field="roles" if loses_role else "disabled")


def _user_values(data: UserUpdate, now: datetime, passwords: Passwords) -> dict[str, object]:
    """The columns an edit changes (the password only as its argon2 hash)."""
    values: dict[str, object] = {"updated_at": now}
    if data.display_name is not None:
        values["display_name"] = validate_text(
            data.display_name, field="display_name", label="Display name", max_length=200
        )
    if data.password is not None:
        check_password_policy(data.password.get_secret_value())
        values["password_hash"] = passwords.hash(data.password.get_secret_value())
    if data.disabled is not None:
        values["disabled"] = data.disabled
    if data.email is not None:
        values["email"] = _email(data.email)
    return values


def _email(value: str | None) -> str | None:
    """A user's e-mail address; None or blank: none."""
    return validate_email(value) if value is not None and value.strip() else None


def _require_grantable(actor: Principal, permissions: Iterable[Permission]) -> None:
    """Raise PermissionDenied when ``permissions`` include one the actor does not hold.

    Fail closed: granting what you do not hold would let a user or role manager make
    himself administrator.
    """
    missing = expand(permissions) - actor.permissions
    if missing:
        raise PermissionDenied(
            f"You cannot grant permissions you do not hold yourself: {_labels(missing)}."
        )


def _labels(permissions: Iterable[Permission]) -> str:
    return ", ".join(sorted(p.label for p in permissions))
