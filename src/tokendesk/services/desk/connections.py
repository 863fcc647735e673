"""The connections of a desk file, planned and made: each compared with the stored one
through the connection service's own rules, then created or changed by that service."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr
from sqlalchemy import Connection as Tx

from tokendesk.domain.client_keys import public_certificate
from tokendesk.domain.connections import Connection
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.errors import DecryptionError, DeskFileInvalid
from tokendesk.services.accounts import AccountService
from tokendesk.services.connection_rules import stored_fields
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.file import DeskConnection
from tokendesk.services.desk.plan import FieldChange, PlannedChange, SecretVerdict, differences
from tokendesk.services.desk.references import SecretReader, same_secret
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate

# Changing one of these may move an endpoint to another server: the secret is given again.
ENDPOINT_FIELDS = ("authorization_url", "token_url", "revocation_url", "placeholders")
CORE_FIELDS = ("grant_type", "client_id", "authorization_url", "token_url", "scopes", "pkce",
               "placeholders")


class DeskConnections:
    """Creates and changes the connections of a desk file, in the caller's transaction."""

    def __init__(self, connections: ConnectionService, accounts: AccountService) -> None:
        self.connections = connections
        self.accounts = accounts

    def create(self, tx: Tx, actor: Principal, given: DeskConnection, reader: SecretReader,
               where: str) -> PlannedChange:
        """Create the connection ``given``; returns what was made, secrets as ``set``."""
        secret = _read(reader, given.client_secret, f"{where}.client_secret")
        key = _read(reader, given.client_key, f"{where}.client_key")
        connection_id = self._free_id(tx, given)
        created = self.connections.create(
            tx, actor, _as_create(given, secret, key), connection_id=connection_id)
        made = {**stored_fields(created), "invited_roles": sorted(created.invited_roles)}
        fields = [FieldChange(k, None, v) for k, v in made.items() if v not in (None, "", [], {})]
        fields += [FieldChange(name, secret="set") for name, value in
                   (("client_secret", secret), ("client_key", key)) if value is not None]
        return PlannedChange("create", "connection", created.name, tuple(fields))

    def update(self, tx: Tx, actor: Principal, current: Connection, given: DeskConnection,
               reader: SecretReader, where: str) -> PlannedChange | None:
        """Change ``current`` to what ``given`` says; None when it already does."""
        if self.connections.catalog.get(given.provider).key != current.provider:
            raise DeskFileInvalid(
                f"{where}.provider: the provider of an existing connection cannot change (it is "
                f"'{current.provider}'); give the new one another name, and delete the old one "
                "with --prune.", field=f"{where}.provider")
        secret = _read(reader, given.client_secret, f"{where}.client_secret")
        key = _read(reader, given.client_key, f"{where}.client_key")
        wanted = self.connections.settled(tx, _as_create(given, None, None))
        wanted["invited_roles"] = sorted(r.name for r in self.accounts.resolve_roles(
            tx, given.invited_roles, field="invited_roles", custom_only=True))
        if given.client_certificate is not None:
            wanted["client_certificate"] = public_certificate(given.client_certificate)
        before = {**stored_fields(current), "invited_roles": sorted(current.invited_roles),
                  "client_certificate": current.client_certificate}
        # Left out, the method is the provider's: compare the methods in force.
        default = self.connections.catalog.get(current.provider).client_auth_method
        before["client_auth_method"] = before["client_auth_method"] or default
        wanted["client_auth_method"] = wanted["client_auth_method"] or default
        changes = list(differences(before, wanted))
        changed = {c.field for c in changes}
        verdicts = {
            "client_secret": _verdict(secret, lambda: self.connections.client_secret(tx, current)),
            "client_key": _verdict(key, lambda: self.connections.client_key(tx, current)),
        }
        moved = bool(changed & set(ENDPOINT_FIELDS))
        if not changed and all(v in (None, "unchanged") for v in verdicts.values()):
            return None
        update: dict[str, Any] = {k: wanted[k] for k in changed}
        if "revocation_url" in update and update["revocation_url"] is None:
            update["revocation_url"] = ""  # an empty URL removes it; None would keep it
        if changed & set(CORE_FIELDS):
            # The rules refill URLs and scopes from the provider for fields left out.
            update.update({k: wanted[k] for k in CORE_FIELDS})
        for name, value in (("client_secret", secret), ("client_key", key)):
            if value is not None and (verdicts[name] == "changed" or moved):
                update[name] = SecretStr(value.reveal())
        self.connections.update(tx, actor, current.name, ConnectionUpdate(**update))
        changes += [FieldChange(n, secret=v) for n, v in verdicts.items() if v is not None]
        return PlannedChange("update", "connection", wanted["name"], tuple(changes))

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


def _read(reader: SecretReader, reference: Any, where: str) -> Secret | None:
    return None if reference is None else reader.read(reference, where)


def _verdict(given: Secret | None, stored: Any) -> SecretVerdict | None:
    """``changed`` or ``unchanged`` for a secret the file gives (None when it gives none),
    comparing digests of the given and the stored value (trimmed, as it is stored)."""
    if given is None:
        return None
    try:
        held: Secret | None = stored()
    except DecryptionError:
        return "changed"  # what cannot be read is replaced
    return "unchanged" if same_secret(given.reveal().strip(), held) else "changed"


def _as_create(given: DeskConnection, secret: Secret | None, key: Secret | None
               ) -> ConnectionCreate:
    return ConnectionCreate(
        name=given.name,
        description=given.description,
        provider=given.provider,
        grant_type=given.grant_type,
        client_id=given.client_id,
        client_secret=SecretStr(secret.reveal() if secret is not None else ""),
        authorization_url=given.authorization_url,
        token_url=given.token_url,
        scopes=given.scopes,
        pkce=given.pkce,
        client_auth_method=given.client_auth_method,
        client_key=SecretStr(key.reveal()) if key is not None else None,
        client_certificate=given.client_certificate,
        revocation_url=given.revocation_url,
        placeholders=given.placeholders,
        invited_roles=given.invited_roles,
    )
