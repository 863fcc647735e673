"""The current desk as a desk file: secrets as references with suggested names, never values."""

from __future__ import annotations

from sqlalchemy import Connection as Tx

from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.domain.proxy import ForwardProxy
from tokendesk.services.accounts import AccountService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.file import (
    DESK_FILE_VERSION,
    DeskConnection,
    DeskFile,
    DeskProxy,
    DeskRole,
    SecretReference,
)
from tokendesk.services.desk.references import suggested_env_name
from tokendesk.services.egress import EgressService
from tokendesk.services.proxy import ProxyService


def export_desk(
    tx: Tx,
    actor: Principal,
    accounts: AccountService,
    connections: ConnectionService,
    egress: EgressService,
    proxy: ProxyService,
) -> DeskFile:
    """The desk as a desk file. Raises PermissionDenied for an actor who may not read all of
    it (the caller checks he is an administrator)."""
    taken: set[str] = set()
    roles = [
        DeskRole(name=r.name, description=r.description,
                 permissions=sorted(r.permissions, key=lambda p: p.value))
        for r in accounts.list_roles(tx, actor, custom_only=True)
    ]
    found = sorted(connections.search(tx, actor), key=lambda c: c.name.lower())
    return DeskFile(
        version=DESK_FILE_VERSION,
        roles=roles,
        connections=[_connection(c, taken) for c in found],
        egress_allowlist=list(egress.get(tx, actor).stored),
        proxy=_proxy(proxy.get(tx, actor), taken),
    )


def _connection(connection: Connection, taken: set[str]) -> DeskConnection:
    secret = (SecretReference(env=suggested_env_name(connection.name, taken=taken))
              if connection.has_client_secret else None)
    key = (SecretReference(env=suggested_env_name(connection.name, "key", taken=taken))
           if connection.has_client_key else None)
    return DeskConnection(
        name=connection.name,
        id=connection.id,
        description=connection.description,
        provider=connection.provider,
        grant_type=connection.grant_type,
        client_id=connection.client_id,
        client_secret=secret,
        authorization_url=connection.authorization_url or None,
        token_url=connection.token_url,
        revocation_url=connection.revocation_url,
        scopes=list(connection.scopes),
        pkce=connection.pkce,
        client_auth_method=connection.client_auth_method,
        client_key=key,
        client_certificate=connection.client_certificate,
        placeholders=dict(connection.placeholders),
        invited_roles=sorted(connection.invited_roles),
    )


def _proxy(settings: ForwardProxy, taken: set[str]) -> DeskProxy:
    password = (SecretReference(env=suggested_env_name("proxy", "password", taken=taken))
                if settings.has_password else None)
    return DeskProxy(
        enabled=settings.enabled,
        scheme=settings.scheme,
        host=settings.host,
        port=settings.port,
        auth=settings.auth,
        username=settings.username,
        password=password,
        bypass=list(settings.bypass),
    )
