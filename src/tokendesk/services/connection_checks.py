"""Checking a connection before saving it (the console wizard, one step at a time; a desk
file compared with what is stored): the same checks create and update make, storing
nothing. Every check takes the caller's transaction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection as Tx

from tokendesk.catalog import Catalog, Provider
from tokendesk.crypto import KeyRing
from tokendesk.domain.connections import DESCRIPTION_MAX, Connection
from tokendesk.domain.names import validate_name, validate_text
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.secret import Secret
from tokendesk.errors import DuplicateName, ValidationError
from tokendesk.oauth.client import ClientSpec
from tokendesk.services.client_credentials import client_key, reveal
from tokendesk.services.client_keys import check_key, given_certificate, given_key, uses_key
from tokendesk.services.client_specs import build_client_spec
from tokendesk.services.connection_rules import (
    ConnectionRules,
    check_secret,
    columns,
    endpoints,
    moved_endpoints,
    require_secret_for,
    stored_fields,
)
from tokendesk.services.egress import EgressService
from tokendesk.services.inputs import ConnectionCreate
from tokendesk.storage.connections import ConnectionRepository

# The connection named so, as the actor may see it (ConnectionService.get).
Find = Callable[[Tx, Principal, str], Connection]


class ConnectionChecks:
    def __init__(
        self,
        catalog: Catalog,
        keyring: KeyRing,
        allow_http_loopback: bool,
        egress: EgressService,
        find: Find,
    ) -> None:
        self.catalog = catalog
        self.keyring = keyring
        self.allow_http_loopback = allow_http_loopback
        self.egress = egress
        self.find = find

    def check_settings(
        self,
        tx: Tx,
        actor: Principal,
        *,
        provider: str,
        name: str,
        description: str,
        current: str | None = None,
    ) -> None:
        """Check provider, name and description as create (or update of ``current``) would.

        Stores nothing. Raises PermissionDenied, UnknownProvider, ValidationError or
        DuplicateName, each naming its field.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        self.catalog.get(provider)
        valid = validate_name(name, field="name", what="connection")
        existing = ConnectionRepository(tx).get_by_name(current) if current else None
        if ConnectionRepository(tx).name_taken(valid, except_id=existing.id if existing else None):
            raise DuplicateName(f"A connection named '{valid}' already exists.", field="name")
        validate_text(
            description, field="description", label="Description", max_length=DESCRIPTION_MAX
        )

    def check_details(
        self,
        tx: Tx,
        actor: Principal,
        data: ConnectionCreate,
        *,
        secret_stored: bool = False,
        editing: str | None = None,
    ) -> None:
        """Check the authentication details of ``data`` as create (or the update of the
        connection named ``editing``) would; stores nothing.

        An empty client secret passes when ``secret_stored`` (an edit keeps the stored one),
        unless an endpoint of ``editing`` moves to another origin. Raises PermissionDenied,
        ClientSecretRequired, or ValidationError naming the field.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        provider, rules = self.catalog.get(data.provider), self.rules(tx)
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
        revocation_url = rules.optional_url(data.revocation_url, "revocation_url")
        secret = data.client_secret.get_secret_value()
        after = {
            **columns(fields),
            "revocation_url": revocation_url,
            "api_base_url": rules.optional_url(data.api_base_url, "api_base_url"),
        }
        if uses_key(data.client_auth_method or provider.client_auth_method):
            self._check_key(tx, actor, provider, data, editing, after)
        elif secret or not secret_stored:
            check_secret(secret)
        elif editing is not None:
            before = stored_fields(self.find(tx, actor, editing))
            require_secret_for(
                moved_endpoints(endpoints(provider, before), endpoints(provider, after))
            )

    def detail_problems(
        self,
        tx: Tx,
        actor: Principal,
        data: ConnectionCreate,
        *,
        secret_stored: bool = False,
        editing: str | None = None,
    ) -> list[ValidationError]:
        """Every problem :meth:`check_details` finds, at once where the fields are independent
        (client ID, client secret, URLs); the checks that need them all run once these pass.

        Returns the problems (empty when the details are acceptable); raises PermissionDenied.
        """
        actor.require(Permission.MANAGE_CONNECTIONS)
        provider, rules = self.catalog.get(data.provider), self.rules(tx)
        found = rules.problems(provider, data.grant_type, data.client_id,
                               data.authorization_url, data.token_url, data.placeholders)
        secret = data.client_secret.get_secret_value()
        separate: list[Callable[[], object]] = [
            lambda: rules.optional_url(data.revocation_url, "revocation_url")]
        if not uses_key(data.client_auth_method or provider.client_auth_method) and (
                secret or not secret_stored):
            separate.append(lambda: check_secret(secret))
        if not found:
            separate.append(lambda: self.check_details(
                tx, actor, data, secret_stored=secret_stored, editing=editing))
        for check in separate:
            try:
                check()
            except ValidationError as exc:
                found.append(exc)
        return found

    def _check_key(
        self,
        tx: Tx,
        actor: Principal,
        provider: Provider,
        data: ConnectionCreate,
        editing: str | None,
        after: dict[str, Any],
    ) -> None:
        """check_details for private_key_jwt, as create (or the update of ``editing``) would."""
        current = self.find(tx, actor, editing) if editing is not None else None
        moved = (
            moved_endpoints(endpoints(provider, stored_fields(current)), endpoints(provider, after))
            if current is not None
            else []
        )
        check_key(
            self.keyring, provider, data, current, moved,
            lambda: reveal(client_key(tx, self.keyring, current) if current else None),
        )

    def unsaved_spec(self, tx: Tx, actor: Principal, data: ConnectionCreate) -> ClientSpec:
        """The ClientSpec that create would give ``data``, storing nothing: the wizard tests
        a connection before the administrator chooses to save it.

        Raises what check_details raises.
        """
        self.check_details(tx, actor, data)
        provider, rules = self.catalog.get(data.provider), self.rules(tx)
        fields = rules.validate(provider, data.grant_type, data.client_id,
                                data.authorization_url, data.token_url, data.scopes, data.pkce,
                                data.placeholders)
        secret, key = data.client_secret.get_secret_value(), given_key(data.client_key)
        return build_client_spec(
            provider, client_id=fields.client_id,
            client_secret=Secret(secret) if secret else None, token_url=fields.token_url,
            authorization_url=fields.authorization_url,
            revocation_url=rules.optional_url(data.revocation_url, "revocation_url"),
            scopes=fields.scopes, placeholders=fields.placeholders,
            client_auth_method=data.client_auth_method, client_key=Secret(key) if key else None,
            client_certificate=given_certificate(data.client_certificate), pkce=fields.pkce)

    def settled(self, tx: Tx, data: ConnectionCreate) -> dict[str, Any]:
        """The settings ``data`` would be stored with, under the names of ``stored_fields``
        (URLs filled from the provider's templates, default scopes and PKCE), so that a desk
        file can be compared with a stored connection; stores nothing, checks no secret.

        Raises UnknownProvider or ValidationError naming the field.
        """
        provider, rules = self.catalog.get(data.provider), self.rules(tx)
        fields = rules.validate(
            provider, data.grant_type, data.client_id, data.authorization_url, data.token_url,
            data.scopes, data.pkce, data.placeholders,
        )
        return {
            "name": validate_name(data.name, field="name", what="connection"),
            "description": validate_text(
                data.description, field="description", label="Description",
                max_length=DESCRIPTION_MAX,
            ),
            **columns(fields),
            "client_auth_method": data.client_auth_method,
            "revocation_url": rules.optional_url(data.revocation_url, "revocation_url"),
            "api_base_url": rules.optional_url(data.api_base_url, "api_base_url"),
        }

    def check_proxy_address(self, tx: Tx, proxy: dict[str, Any]) -> None:
        """The connection's own proxy is connected to as any provider is: the addresses the
        egress policy refuses are refused for it too (ValidationError naming proxy_url)."""
        if proxy.get("proxy_url"):
            host = urlsplit(proxy["proxy_url"]).hostname or ""
            self.egress.policy(tx).check_literal(host, field="proxy_url")

    def rules(self, tx: Tx) -> ConnectionRules:
        """The field rules, with the egress allowlist as stored right now."""
        return ConnectionRules(self.allow_http_loopback, self.egress.policy(tx))
