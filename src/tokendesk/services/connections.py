"""Use cases for connections: register, list, show, edit and delete OAuth applications."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.catalog import Catalog
from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import (
    DESCRIPTION_MAX,
    Connection,
    ConnectionStatus,
    GrantType,
)
from tokendesk.domain.names import has_control_characters, name_key, validate_name, validate_text
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.errors import ConnectionNotFound, DuplicateName
from tokendesk.oauth.client import ClientSpec
from tokendesk.services.accounts import AccountService
from tokendesk.services.audit import AuditService
from tokendesk.services.client_credentials import (
    client_key,
    client_secret,
    client_spec,
    reveal,
    seal_secret,
)
from tokendesk.services.client_keys import (
    KeyState,
    credential_changes,
    credential_edit,
    given_certificate,
    given_key,
    key_columns,
    uses_key,
)
from tokendesk.services.connection_checks import ConnectionChecks
from tokendesk.services.connection_proxy import proxy_columns
from tokendesk.services.connection_rules import (
    columns,
    endpoints,
    field_changes,
    moved_endpoints,
    stored_fields,
)
from tokendesk.services.egress import EgressService
from tokendesk.services.events import EventOutbox
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate
from tokendesk.services.secret_expiry import audit_details, checked_expiry, expiry_changes
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.ids import new_id
from tokendesk.storage.tokens import TokenRepository

# Changing one of these moves the connection to another server or client: tokens retire.
REBINDING_FIELDS = ("token_url", "authorization_url", "client_id")


@dataclass(frozen=True, slots=True)
class ConnectionFilter:
    provider: str | None = None
    name_contains: str | None = None
    # The whole name, compared without regard to case (a search for an exact phrase).
    name_equals: str | None = None


class ConnectionService:
    def __init__(
        self,
        catalog: Catalog,
        keyring: KeyRing,
        accounts: AccountService,
        audit: AuditService,
        clock: Callable[[], datetime],
        allow_http_loopback: bool,
        egress: EgressService,
        events: EventOutbox | None = None,
    ) -> None:
        self.catalog = catalog
        # Where connection.misconfigured / connection.recovered go, in the same transaction.
        self.events = events or EventOutbox(clock)
        self.keyring = keyring
        self.accounts = accounts
        self.audit = audit
        self.clock = clock
        self.allow_http_loopback = allow_http_loopback
        self.egress = egress
        # What create and update check, also asked one step at a time (the wizard, desk files).
        self.checks = ConnectionChecks(catalog, keyring, allow_http_loopback, egress, self.get)

    # --- reading ----------------------------------------------------------------------

    def search(
        self, tx: Tx, actor: Principal, where: ConnectionFilter | None = None
    ) -> list[Connection]:
        """The connections the actor may see: all with *View connections*, else invited ones."""
        where = where or ConnectionFilter()
        provider = self.catalog.get(where.provider).key if where.provider else None
        if where.name_contains and has_control_characters(where.name_contains):
            return []
        found = ConnectionRepository(tx).search(
            provider=provider, name_contains=where.name_contains or where.name_equals
        )
        if where.name_equals is not None:
            found = [c for c in found if name_key(c.name) == name_key(where.name_equals)]
        return [c for c in found if self.may_see(actor, c)]

    def usable_by(self, tx: Tx, actor: Principal) -> list[Connection]:
        """The connections whose tokens ``actor`` may use: those inviting one of his roles."""
        found = ConnectionRepository(tx).search()
        return [c for c in found if c.invites(actor)]

    def get(self, tx: Tx, actor: Principal, name: str) -> Connection:
        """The connection named ``name``; one the actor may not see is 'not found'."""
        connection = (
            None if has_control_characters(name) else (ConnectionRepository(tx).get_by_name(name))
        )
        if connection is None or not self.may_see(actor, connection):
            raise ConnectionNotFound(f"There is no connection named '{name}'.")
        return connection

    def get_by_id(self, tx: Tx, connection_id: str) -> Connection | None:
        """For internal use after a permission check: the connection as stored now."""
        return ConnectionRepository(tx).get(connection_id)

    @staticmethod
    def may_see(actor: Principal, connection: Connection) -> bool:
        return actor.can(Permission.VIEW_CONNECTIONS) or connection.invites(actor)

    @staticmethod
    def may_see_settings(actor: Principal) -> bool:
        """Client ID, URLs, scopes, invited roles and activity are for *View connections*;
        an invited user without it sees what he needs to use a connection, no more."""
        return actor.can(Permission.VIEW_CONNECTIONS)

    def client_secret(self, tx: Tx, connection: Connection) -> Secret | None:
        """The decrypted client secret, for the OAuth layer only; never for output."""
        return client_secret(tx, self.keyring, connection)

    def client_key(self, tx: Tx, connection: Connection) -> Secret | None:
        """The decrypted client key (PEM) of private_key_jwt; never for output."""
        return client_key(tx, self.keyring, connection)

    def client_spec(self, tx: Tx, connection: Connection) -> ClientSpec:
        """What the OAuth layer needs to call this connection's provider (secret included).

        Raises DecryptionError when the stored client secret cannot be opened.
        """
        return client_spec(tx, self.catalog, self.keyring, connection)

    def mark_status(
        self, tx: Tx, connection: Connection, status: ConnectionStatus, last_error: str | None
    ) -> None:
        """Record that the provider accepted (``ok``) or refused (``misconfigured``) the client."""
        if connection.status != status or connection.last_error != last_error:
            repo = ConnectionRepository(tx)
            # Told when the stored status moves, not when ``connection`` (read before a
            # provider call) says it differs: two refreshes refused alike tell it once.
            moved = repo.move_status(connection.id, status)
            repo.set_status(connection.id, status, last_error)
            if moved:
                self.events.connection_status(tx, connection, status, last_error)

    # --- changing ---------------------------------------------------------------------

    def create(
        self, tx: Tx, actor: Principal, data: ConnectionCreate, *, connection_id: str | None = None
    ) -> Connection:
        """Register a connection (with ``connection_id`` when its callback URL was shown
        before it existed, as the console wizard does). Raises ValidationError, DuplicateName,
        PermissionDenied."""
        actor.require(Permission.MANAGE_CONNECTIONS)
        repo = ConnectionRepository(tx)
        provider = self.catalog.get(data.provider)
        name = validate_name(data.name, field="name", what="connection")
        if repo.name_taken(name):
            raise DuplicateName(f"A connection named '{name}' already exists.", field="name")
        rules = self.checks.rules(tx)
        fields = rules.validate(
            provider,
            data.grant_type,
            data.client_id,
            data.authorization_url,
            data.token_url,
            data.scopes,
            data.pkce,
            data.placeholders,
        )
        invited = self.accounts.resolve_roles(
            tx, data.invited_roles, field="invited_roles", custom_only=True
        )
        connection_id, now = connection_id or new_id(), self.clock()
        method = data.client_auth_method or provider.client_auth_method
        secret = data.client_secret.get_secret_value()
        key, certificate = given_key(data.client_key), given_certificate(data.client_certificate)
        credential = key_columns(
            self.keyring,
            provider,
            connection_id,
            KeyState(method, key, key is not None, certificate, certificate is not None),
        )
        proxy, _ = proxy_columns(self.keyring, connection_id, None, data)
        self.checks.check_proxy_address(tx, proxy)
        repo.insert(
            {
                **proxy,
                "id": connection_id,
                "name": name,
                "provider": provider.key,
                "description": validate_text(
                    data.description,
                    field="description",
                    label="Description",
                    max_length=DESCRIPTION_MAX,
                ),
                # private_key_jwt needs no secret; one given is kept for a switch back.
                "client_secret_ct": seal_secret(self.keyring, connection_id, secret)
                if secret.strip() or not uses_key(method)
                else None,
                **credential,
                **columns(fields),
                "client_auth_method": data.client_auth_method,
                "client_secret_expires_on": checked_expiry(
                    data.client_secret_expires_on, method=method
                ),
                "revocation_url": rules.optional_url(data.revocation_url, "revocation_url"),
                "api_base_url": rules.optional_url(data.api_base_url, "api_base_url"),
                "created_at": now,
                "updated_at": now,
                "created_by": actor.username,
                "updated_by": actor.username,
            }
        )
        repo.set_invited_roles(connection_id, [r.id for r in invited])
        self.audit.record(
            tx,
            actor,
            "connection.create",
            target_type="connection",
            target=name,
            connection_id=connection_id,
            details={
                "provider": provider.key,
                "grant_type": fields.grant_type.value,
                "invited_roles": [r.name for r in invited],
                "proxy_mode": proxy["proxy_mode"],
            },
        )
        return self._reload(repo, connection_id)

    def update(self, tx: Tx, actor: Principal, name: str, data: ConnectionUpdate) -> Connection:
        """Edit a connection; absent fields, the secret included, keep their stored value.

        The stored client secret goes only to the origins it was given for: an edit that
        moves an endpoint to another origin without a new secret raises ClientSecretRequired;
        one that moves the token or revocation URL retires the tokens, sending them nowhere.
        Raises ValidationError, DuplicateName, PermissionDenied, ConnectionNotFound.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        repo, current = ConnectionRepository(tx), self.get(tx, actor, name)
        provider = self.catalog.get(current.provider)
        given = data.model_dump(exclude_unset=True)
        changed = sorted(k for k, v in given.items() if v is not None)
        values: dict[str, Any] = {"updated_at": self.clock(), "updated_by": actor.username}
        values.update(self._renamed(repo, current, data))
        values.update(self.checks.rules(tx).validate_update(provider, current, data))
        moved = moved_endpoints(
            endpoints(provider, stored_fields(current)),
            endpoints(provider, {**stored_fields(current), **values}),
        )
        method = values.get("client_auth_method", current.client_auth_method)
        edit = credential_edit(current, data, method or provider.client_auth_method)
        # Fails closed before anything is written.
        values.update(
            credential_changes(
                self.keyring, provider, current.id, edit, moved,
                lambda: reveal(self.client_key(tx, current)),
            )
        )
        proxy, proxy_audit = proxy_columns(self.keyring, current.id, current.proxy, data)
        self.checks.check_proxy_address(tx, proxy)
        values.update(proxy)
        if edit.secret is not None:
            values["client_secret_ct"] = seal_secret(self.keyring, current.id, edit.secret)
        values.update(expiry_changes(
            current.client_secret_expires_on, data.client_secret_expires_on,
            given_set="client_secret_expires_on" in data.model_fields_set,
            secret_typed=edit.secret is not None, method=edit.method,
        ))
        if {
            "client_id", "client_secret", "client_auth_method", "token_url", "client_key",
            "client_certificate",
        } & set(changed):
            # The refusal was of the old client.
            values.update(status=ConnectionStatus.OK.value, last_error=None)
            if current.misconfigured:
                self.events.connection_status(
                    tx, current, ConnectionStatus.OK, None, cause="credentials_changed"
                )
        if _client_changed(current, values):
            values["client_changed_at"] = values["updated_at"]  # a refusal's diagnosis reads it
        repo.update(current.id, values)
        self._retire_tokens_if_rebound(tx, actor, current, values, moved)
        invited_before = sorted(current.invited_roles)
        if data.invited_roles is not None:
            invited = self.accounts.resolve_roles(
                tx, data.invited_roles, field="invited_roles", custom_only=True
            )
            repo.set_invited_roles(current.id, [r.id for r in invited])
            values["invited_roles"] = sorted(r.name for r in invited)
        self.audit.record(
            tx,
            actor,
            "connection.update",
            target_type="connection",
            target=values.get("name", current.name),
            connection_id=current.id,
            details={
                "changed": changed,
                "changes": field_changes(
                    {**stored_fields(current), "invited_roles": invited_before}, values
                ) | audit_details(current.client_secret_expires_on, values)
                | ({"proxy": proxy_audit} if proxy_audit else {}),
            },
        )
        return self._reload(repo, current.id)

    @staticmethod
    def _renamed(repo: ConnectionRepository, current: Connection, data: ConnectionUpdate
                 ) -> dict[str, Any]:
        """The new name and description, validated; nothing for what was not given."""
        values: dict[str, Any] = {}
        if data.name is not None:
            new_name = validate_name(data.name, field="name", what="connection")
            if repo.name_taken(new_name, except_id=current.id):
                raise DuplicateName(
                    f"A connection named '{new_name}' already exists.", field="name"
                )
            values["name"] = new_name
        if data.description is not None:
            values["description"] = validate_text(
                data.description,
                field="description",
                label="Description",
                max_length=DESCRIPTION_MAX,
            )
        return values

    def _retire_tokens_if_rebound(
        self,
        tx: Tx,
        actor: Principal,
        current: Connection,
        values: dict[str, Any],
        moved: list[str],
    ) -> None:
        """After the token URL, authorization URL or client ID changed, or the revocation URL
        moved to another origin, existing tokens must not go to the new endpoint or client
        (RFC 6819 §4.5.4): they are forgotten, not revoked, and need a new consent.
        Client-credentials tokens are simply dropped and requested anew."""
        rebound = sorted(
            {k for k in REBINDING_FIELDS if k in values and values[k] != getattr(current, k)}
            | ({"revocation_url"} & set(moved))
        )
        if not rebound:
            return
        retired = TokenRepository(tx).retire_for_connection(
            current.id,
            drop=current.grant_type is GrantType.CLIENT_CREDENTIALS,
            reason=f"The connection's {', '.join(rebound)} changed; authenticate again.",
        )
        if retired:
            self.audit.record(
                tx,
                actor,
                "connection.tokens_retired",
                target_type="connection",
                target=current.name,
                connection_id=current.id,
                details={"changed": rebound, "tokens": retired},
            )

    def delete(self, tx: Tx, actor: Principal, name: str) -> Connection:
        """Delete a connection, its invitations and its tokens (in ``tx``).

        Revoking the tokens at the provider is the token lifecycle's part: callers go
        through tokendesk.tokens.removal, which queues the revocations in the same ``tx``.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        connection = self.get(tx, actor, name)
        ConnectionRepository(tx).delete(connection.id)
        self.audit.record(
            tx,
            actor,
            "connection.delete",
            target_type="connection",
            target=connection.name,
            connection_id=connection.id,
        )
        return connection

    @staticmethod
    def _reload(repo: ConnectionRepository, connection_id: str) -> Connection:
        connection = repo.get(connection_id)
        assert connection is not None  # written in this transaction
        return connection


def _client_changed(current: Connection, values: dict[str, Any]) -> bool:
    """True when an edit's ``values`` give a client another secret, key, ID or token URL."""
    return (
        "client_secret_ct" in values
        or "client_key_ct" in values
        or values.get("client_id", current.client_id) != current.client_id
        or values.get("token_url", current.token_url) != current.token_url
    )
