"""``/api/v1/users``, ``/api/v1/roles`` and ``/api/v1/keys``."""

from __future__ import annotations

from fastapi import APIRouter, Response

from tokendesk.services.inputs import ApiKeyCreate, RoleCreate, RoleUpdate, UserCreate, UserUpdate
from tokendesk.views.accounts import ApiKeyOut, NewApiKeyOut, RoleOut, UserOut
from tokendesk.web.api.responses import error_responses
from tokendesk.web.deps import App, Caller

router = APIRouter(tags=["users, roles and keys"], responses=error_responses())


@router.get("/users")
def list_users(td: App, caller: Caller) -> list[UserOut]:
    with td.transaction(read_only=True) as tx:
        users, names = td.accounts.list_users(tx, caller), td.accounts.role_names(tx)
    return [UserOut.of(u, names) for u in users]


@router.post("/users", status_code=201)
def create_user(td: App, caller: Caller, body: UserCreate) -> UserOut:
    with td.transaction() as tx:
        user, names = td.accounts.create_user(tx, caller, body), td.accounts.role_names(tx)
    return UserOut.of(user, names)


@router.patch("/users/{username}")
def edit_user(td: App, caller: Caller, username: str, body: UserUpdate) -> UserOut:
    with td.transaction() as tx:
        user = td.accounts.update_user(tx, caller, username, body)
        names = td.accounts.role_names(tx)
    return UserOut.of(user, names)


@router.get("/roles")
def list_roles(td: App, caller: Caller, custom_only: bool = False) -> list[RoleOut]:
    with td.transaction(read_only=True) as tx:
        roles = td.accounts.list_roles(tx, caller, custom_only=custom_only)
    return [RoleOut.of(r) for r in roles]


@router.post("/roles", status_code=201)
def create_role(td: App, caller: Caller, body: RoleCreate) -> RoleOut:
    with td.transaction() as tx:
        return RoleOut.of(td.accounts.create_role(tx, caller, body))


@router.patch("/roles/{name}")
def edit_role(td: App, caller: Caller, name: str, body: RoleUpdate) -> RoleOut:
    with td.transaction() as tx:
        return RoleOut.of(td.accounts.update_role(tx, caller, name, body))


@router.delete("/roles/{name}", status_code=204)
def delete_role(td: App, caller: Caller, name: str) -> Response:
    with td.transaction() as tx:
        td.accounts.delete_role(tx, caller, name)
    return Response(status_code=204)


@router.get("/keys")
def list_keys(td: App, caller: Caller) -> list[ApiKeyOut]:
    td.audit_buffer.flush()  # "last used" times are written in batches: read your own
    with td.transaction(read_only=True) as tx:
        keys, owners = td.auth.list_api_keys(tx, caller), td.accounts.usernames(tx)
    return [ApiKeyOut.of(k, owners.get(k.user_id, "")) for k in keys]


@router.post("/keys", status_code=201)
def create_key(td: App, caller: Caller, body: ApiKeyCreate) -> NewApiKeyOut:
    with td.transaction() as tx:
        created, owners = td.auth.create_api_key(tx, caller, body), td.accounts.usernames(tx)
    shown = ApiKeyOut.of(created.record, owners.get(created.record.user_id, ""))
    return NewApiKeyOut(key=created.key, **shown.model_dump())


@router.delete("/keys/{key_id}")
def revoke_key(td: App, caller: Caller, key_id: str) -> ApiKeyOut:
    with td.transaction() as tx:
        revoked, owners = td.auth.revoke_api_key(tx, caller, key_id), td.accounts.usernames(tx)
    return ApiKeyOut.of(revoked, owners.get(revoked.user_id, ""))
