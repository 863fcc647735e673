"""Users, roles and API keys as the API and the CLI show them; an API key's secret only in
the answer to its creation (``NewApiKeyOut``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from tokendesk.domain.accounts import ApiKey, Role, User


class UserOut(BaseModel):
    username: str
    display_name: str
    disabled: bool
    roles: list[str]
    created_at: datetime
    email: str | None = None

    @classmethod
    def of(cls, user: User, role_names: dict[str, str]) -> UserOut:
        return cls(
            username=user.username,
            display_name=user.display_name,
            email=user.email,
            disabled=user.disabled,
            roles=sorted((role_names.get(r, r) for r in user.role_ids), key=str.casefold),
            created_at=user.created_at,
        )


class RoleOut(BaseModel):
    name: str
    description: str
    system: bool
    permissions: list[str]

    @classmethod
    def of(cls, role: Role) -> RoleOut:
        return cls(
            name=role.name,
            description=role.description,
            system=role.system,
            permissions=sorted(p.value for p in role.permissions),
        )


class ApiKeyOut(BaseModel):
    id: str
    prefix: str
    name: str
    user: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, username: str) -> ApiKeyOut:
        return cls(
            id=key.id,
            prefix="td_" + key.prefix,
            name=key.name,
            user=username,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class NewApiKeyOut(ApiKeyOut):
    key: str
