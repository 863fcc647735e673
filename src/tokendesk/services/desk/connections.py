"""The connections of a desk file, planned and made: each compared with the stored one
through the connection service's own rules, then created or changed by that service."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Connection as Tx

from tokendesk.domain.client_keys import public_certificate
from tokendesk.domain.connection_proxy import ProxyMode
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.errors import DecryptionError, DeskFileInvalid
from tokendesk.services.accounts import AccountService
from tokendesk.services.connection_proxy import proxy_fields, settled_proxy
from tokendesk.services.connection_rules import stored_fields
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.file import DeskConnection
from tokendesk.services.desk.plan import FieldChange, PlannedChange, SecretVerdict, differences
from tokendesk.services.desk.references import SecretReader, same_secret
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate
from tokendesk.services.proxy import ProxyService

# Changing one of these may move an endpoint to another server: the secret is given again.
ENDPOINT_FIELDS = ("authorization_url", "token_url", "revocation_url", "api_base_url",
                   "placeholders")
CORE_FIELDS = ("grant_type", "client_id", "authorization_url", "token_url", "scopes", "pkce",
               "placeholders")
# An empty URL removes it (the provider's default again); None would keep the stored one.
REMOVABLE_URLS = ("revocation_url", "api_base_url")
EXPIRY = "client_secret_expires_on"


class DeskConnections:
    """Creates and changes the connections of a desk file, in the caller's transaction."""

    def __init__(self, connections: ConnectionService, accounts: AccountService,
                 proxy: ProxyService) -> None:
        self.connections = connections
        self.accounts = accounts
        self.proxy = proxy

    def create(self, tx: Tx, actor: Principal, given: DeskConnection, reader: SecretReader,
               where: str) -> PlannedChange:
        """Create the connection ``given``; returns what was made, secrets as ``set``."""
        secrets = _Secrets.read(reader, given, where)
        connection_id = self._free_id(tx, given)
        created = self.connections.create(
            tx, actor, _as_create(given, secrets), connection_id=connection_id)
        made = {**_comparable(created), **proxy_fields(created.proxy)}
        if created.proxy.mode is ProxyMode.GLOBAL:
            del made["proxy_mode"]  # the default, said by nothing in the file
        fields = [FieldChange(k, None, v) for k, v in made.items() if v not in (None, "", [], {})]
        fields += [FieldChange(name, secret="set") for name, value in secrets.named()
                   if value is not None]
        return PlannedChange("create", "connection", created.name, tuple(fields))

    def update(self, tx: Tx, actor: Principal, current: Connection, given: DeskConnection,
               reader: SecretReader, where: str) -> PlannedChange | None:
        """Change ``current`` to what ``given`` says; None when it already does."""
        if self.connections.catalog.get(given.provider).key != current.provider:
            raise DeskFileInvalid(
                f"{where}.provider: the provider of an existing connection cannot change (it is "
                f"'{current.provider}'); give the new one another name, and delete the old one "
                "with --prune.", field=f"{where}.provider")
        secrets = _Secrets.read(reader, given, where)
        wanted = self._wanted(tx, given)
        before = _comparable(current)
        # Left out, the method is the provider's: compare the methods in force.
        default = self.connections.catalog.get(current.provider).client_auth_method
        before["client_auth_method"] = before["client_auth_method"] or default
        wanted["client_auth_method"] = wanted["client_auth_method"] or default
        changes = list(differences(before, wanted))
        changed = {c.field for c in changes}
        wanted_proxy = proxy_fields(settled_proxy(_as_create(given, secrets)))
        proxy_changes = differences(proxy_fields(current.proxy), wanted_proxy)
        verdicts = self._verdicts(tx, current, secrets, wanted_proxy)
        if not changed and not proxy_changes and all(
                v in (None, "unchanged") for v in verdicts.values()):
            return None
        update = self._edit(wanted, changed, verdicts, secrets, given)
        if proxy_changes or verdicts["proxy_password"] in ("changed", "removed"):
            update.update(_proxy_edit(wanted_proxy, secrets.proxy_password))
        self.connections.update(tx, actor, current.name, ConnectionUpdate(**update))
        changes += [*proxy_changes, *(FieldChange(n, secret=v) for n, v in verdicts.items()
                                      if v is not None)]
        return PlannedChange("update", "connection", wanted["name"], tuple(changes))

    def _wanted(self, tx: Tx, given: DeskConnection) -> dict[str, Any]:
        """What ``given`` would be stored as, under the names of :func:`_comparable`."""
        wanted = self.connections.checks.settled(tx, _as_create(given, _Secrets()))
        wanted["invited_roles"] = sorted(r.name for r in self.accounts.resolve_roles(
            tx, given.invited_roles, field="invited_roles", custom_only=True))
        if given.client_certificate is not None:
            wanted["client_certificate"] = public_certificate(given.client_certificate)
        wanted[EXPIRY] = _day(given.client_secret_expires_on)
        return wanted

    def _verdicts(self, tx: Tx, current: Connection, secrets: _Secrets,
                  wanted_proxy: dict[str, Any]) -> dict[str, SecretVerdict | None]:
        """Each secret the file gives, ``changed`` or ``unchanged``; the stored proxy
        password ``removed`` when the file's proxy has no user for it."""
        proxy_password = _verdict(secrets.proxy_password,
                                  lambda: self.proxy.connection_password(tx, current))
        if (proxy_password is None and current.proxy.has_password
                and (wanted_proxy["proxy_mode"] != ProxyMode.OWN.value
                     or not wanted_proxy["proxy_username"])):
            proxy_password = "removed"
        return {
            "client_secret": _verdict(secrets.client_secret,
                                      lambda: self.connections.client_secret(tx, current)),
            "client_key": _verdict(secrets.client_key,
                                   lambda: self.connections.client_key(tx, current)),
            "proxy_password": proxy_password,
        }

    @staticmethod
    def _edit(wanted: dict[str, Any], changed: set[str],
              verdicts: dict[str, SecretVerdict | None], secrets: _Secrets,
              given: DeskConnection) -> dict[str, Any]:
        """The ConnectionUpdate fields that make the stored connection what ``wanted`` says."""
        update: dict[str, Any] = {k: wanted[k] for k in changed}
        for name in REMOVABLE_URLS:
            if name in update and update[name] is None:
                update[name] = ""
        if changed & set(CORE_FIELDS):
            # The rules refill URLs and scopes from the provider for fields left out.
            update.update({k: wanted[k] for k in CORE_FIELDS})
        moved = bool(changed & set(ENDPOINT_FIELDS))
        for name, value in (("client_secret", secrets.client_secret),
                            ("client_key", secrets.client_key)):
            if value is not None and (verdicts[name] == "changed" or moved):
                update[name] = SecretStr(value.reveal())
        if EXPIRY in changed or "client_secret" in update:
            # A new secret without its day would forget the day: the file's day is given.
            update[EXPIRY] = given.client_secret_expires_on
        return update

    def _free_id(self, tx: Tx, given: DeskConnection) -> str | None:
        """The id the file gives, when no other connection has it."""
        if given.id is None:
            return None
        other = self.connections.get_by_id(tx, given.id)
        if other is not None:
            raise DeskFileInvalid(
                f"the id {given.id} belongs to the connection "
                f"'{other.name}'; leave the id out to create a new connection.", field="id")
        return given.id


class _Secrets:
    """The secrets a connection entry gives, read from their references (None: not given)."""

    def __init__(self, client_secret: Secret | None = None, client_key: Secret | None = None,
                 proxy_password: Secret | None = None) -> None:
        self.client_secret = client_secret
        self.client_key = client_key
        self.proxy_password = proxy_password

    @classmethod
    def read(cls, reader: SecretReader, given: DeskConnection, where: str) -> _Secrets:
        def one(reference: Any, field: str) -> Secret | None:
            return None if reference is None else reader.read(reference, f"{where}.{field}")

        return cls(one(given.client_secret, "client_secret"),
                   one(given.client_key, "client_key"),
                   one(given.proxy_password, "proxy_password"))

    def named(self) -> tuple[tuple[str, Secret | None], ...]:
        return (("client_secret", self.client_secret), ("client_key", self.client_key),
                ("proxy_password", self.proxy_password))


def _verdict(given: Secret | None, stored: Callable[[], Secret | None]
             ) -> SecretVerdict | None:
    """``changed`` or ``unchanged`` for a secret the file gives (None when it gives none),
    comparing digests of the given and the stored value (trimmed, as it is stored)."""
    if given is None:
        return None
    try:
        held = stored()
    except DecryptionError:
        return "changed"  # what cannot be read is replaced
    return "unchanged" if same_secret(given.reveal().strip(), held) else "changed"


def _comparable(connection: Connection) -> dict[str, Any]:
    """A stored connection's settings as a desk file's entry is compared with them."""
    return {**stored_fields(connection), "invited_roles": sorted(connection.invited_roles),
            "client_certificate": connection.client_certificate,
            EXPIRY: _day(connection.client_secret_expires_on)}


def _day(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _proxy_edit(wanted: dict[str, Any], password: Secret | None) -> dict[str, Any]:
    """The ConnectionUpdate proxy fields for the proxy choice ``wanted``."""
    if wanted["proxy_mode"] != ProxyMode.OWN.value:
        return {"proxy_mode": wanted["proxy_mode"]}
    edit = dict(wanted)
    if password is not None:  # given again whenever the proxy changes: it may have moved
        edit["proxy_password"] = SecretStr(password.reveal())
    return edit


def _as_create(given: DeskConnection, secrets: _Secrets) -> ConnectionCreate:
    def revealed(secret: Secret | None) -> SecretStr | None:
        return SecretStr(secret.reveal()) if secret is not None else None

    return ConnectionCreate(
        name=given.name,
        description=given.description,
        provider=given.provider,
        grant_type=given.grant_type,
        client_id=given.client_id,
        client_secret=revealed(secrets.client_secret) or SecretStr(""),
        client_secret_expires_on=given.client_secret_expires_on,
        authorization_url=given.authorization_url,
        token_url=given.token_url,
        scopes=given.scopes,
        pkce=given.pkce,
        client_auth_method=given.client_auth_method,
        client_key=revealed(secrets.client_key),
        client_certificate=given.client_certificate,
        revocation_url=given.revocation_url,
        api_base_url=given.api_base_url,
        placeholders=given.placeholders,
        invited_roles=given.invited_roles,
        proxy_mode=given.proxy_mode,
        proxy_url=given.proxy_url,
        proxy_username=given.proxy_username,
        proxy_password=revealed(secrets.proxy_password),
        proxy_bypass=given.proxy_bypass,
    )
