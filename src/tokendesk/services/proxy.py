"""Use cases for the forward proxy settings (seed prerequisite)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection as Tx

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.connection_proxy import ConnectionProxy, ProxyMode
from tokendesk.domain.connections import Connection
from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.permissions import Permission
from tokendesk.domain.principal import Principal
from tokendesk.domain.proxy import (
    DISABLED,
    PROXY_AUTH,
    PROXY_SCHEMES,
    ForwardProxy,
    parse_bypass,
    validate_host,
)
from tokendesk.domain.secret import Secret
from tokendesk.errors import ProxyPasswordRequired, ValidationError
from tokendesk.oauth.outbound import NO_PROXY, ProxyRoute
from tokendesk.services.audit import AuditService
from tokendesk.services.connection_proxy import proxy_password_ref
from tokendesk.services.egress import EgressService
from tokendesk.services.inputs import ProxySettingsInput
from tokendesk.storage.connections import ConnectionRepository
from tokendesk.storage.settings import PROXY_ROW_ID, ProxyRepository

PASSWORD_REF = RowRef("forward_proxy", "password_ct", str(PROXY_ROW_ID))


class ProxyService:
    def __init__(self, keyring: KeyRing, audit: AuditService,
                 clock: Callable[[], datetime], egress: EgressService | None = None) -> None:
        self.keyring = keyring
        self.audit = audit
        self.clock = clock
        self.egress = egress

    def get(self, tx: Tx, actor: Principal | None = None) -> ForwardProxy:
        """The current settings (a disabled proxy when none were saved)."""
        if actor is not None:
            actor.require(Permission.MANAGE_SETTINGS)
        row = ProxyRepository(tx).get()
        if row is None:
            return DISABLED
        return ForwardProxy(
            enabled=row.enabled, scheme=row.scheme, host=row.host, port=row.port, auth=row.auth,
            username=row.username, has_password=row.password_ct is not None,
            bypass=tuple(row.bypass), updated_at=row.updated_at, updated_by=row.updated_by,
        )

    def password(self, tx: Tx) -> Secret | None:
        """The decrypted proxy password, for the outbound HTTP client only."""
        row = ProxyRepository(tx).get()
        if row is None or row.password_ct is None:
            return None
        return Secret(self.keyring.decrypt(row.password_ct, PASSWORD_REF))

    def route(self, tx: Tx) -> ProxyRoute:
        """How outbound calls reach providers now: through the proxy or direct, and which
        addresses they may connect to (the egress allowlist as stored right now)."""
        settings = self.get(tx)
        egress = self.egress.policy(tx) if self.egress is not None else None
        if not settings.enabled:
            return replace(NO_PROXY, egress=egress)
        return ProxyRoute(settings, self.password(tx) if settings.auth == "basic" else None,
                          egress)

    def route_for(self, tx: Tx, connection: Connection) -> ProxyRoute:
        """How calls for ``connection`` reach its provider: the global route (:meth:`route`),
        directly, or through the connection's own proxy with its password, under the egress
        policy stored right now."""
        return self.route_of(tx, connection.proxy, self.connection_password(tx, connection))

    def connection_password(self, tx: Tx, connection: Connection) -> Secret | None:
        """The decrypted password of the connection's own proxy, for the outbound HTTP client
        only (and a queued revocation's sealed payload)."""
        if connection.proxy.mode is not ProxyMode.OWN or not connection.proxy.has_password:
            return None
        sealed = ConnectionRepository(tx).proxy_password_ciphertext(connection.id)
        if sealed is None:
            return None
        return Secret(self.keyring.decrypt(sealed, proxy_password_ref(connection.id)))

    def route_of(self, tx: Tx, proxy: ConnectionProxy, password: Secret | None) -> ProxyRoute:
        """The route of a connection's proxy choice ``proxy`` (stored or unsaved), with
        ``password`` for its own proxy."""
        if proxy.mode is ProxyMode.GLOBAL:
            return self.route(tx)
        return own_route(proxy, password, self.egress.policy(tx) if self.egress else None)

    def save(self, tx: Tx, actor: Principal, data: ProxySettingsInput) -> ForwardProxy:
        """Validate and store; an absent password keeps the stored one, ``auth: none``
        clears it.

        Raises PermissionDenied without *Network settings*, ValidationError naming the field.
        """
        actor.require(Permission.MANAGE_SETTINGS)
        try:
            values = validated_settings(data)
            if self.egress is not None and values["host"]:
                # The proxy is connected to as any provider is: same addresses refused.
                self.egress.policy(tx).check_literal(values["host"], field="host")
        except ValidationError as exc:
            self.audit.record_refusal(actor, "settings.proxy.update", target_type="settings",
                                      target="forward_proxy",
                                      details={"field": exc.field, "reason": exc.message})
            raise
        stored = self.get(tx)
        _require_password_if_moved(stored, values, data)
        password_change = self._apply_password(values, data, stored.has_password)
        values.update(updated_at=self.clock(), updated_by=actor.username)
        ProxyRepository(tx).save(values)
        self.audit.record(tx, actor, "settings.proxy.update", target_type="settings",
                          target="forward_proxy",
                          details={"enabled": values["enabled"], "host": values["host"],
                                   "port": values["port"], "auth": values["auth"],
                                   "bypass": len(values["bypass"]), "password": password_change})
        return self.get(tx)

    def _apply_password(self, values: dict[str, Any], data: ProxySettingsInput,
                        stored: bool) -> str:
        """Put the encrypted password (or its removal) into ``values``.

        Returns what happened to it, for the audit log: set, kept, cleared or none.
        """
        password = data.password.get_secret_value() if data.password is not None else ""
        if values["auth"] == "none":
            if password:
                # Fail closed: a typed password that would silently be dropped is a mistake.
                raise ValidationError("A proxy password is used only with basic authentication; "
                                      "set auth to 'basic' or leave the password out.",
                                      field="password")
            values["password_ct"], values["username"] = None, ""
            return "cleared" if stored else "none"
        if password:
            values["password_ct"] = self.keyring.encrypt(password, PASSWORD_REF)
            return "set"
        if not stored:
            raise ValidationError("Enter the proxy password for basic authentication.",
                                  field="password")
        return "kept"


def _require_password_if_moved(
    stored: ForwardProxy, values: dict[str, Any], data: ProxySettingsInput
) -> None:
    """Fail closed when the proxy moves to another origin (scheme, host, port) keeping the
    stored password: it goes only to the proxy it was typed for.

    Raises ProxyPasswordRequired.
    """
    typed = data.password is not None and bool(data.password.get_secret_value())
    if not stored.has_password or typed or values["auth"] != "basic":
        return
    before = (stored.scheme, stored.host.lower(), stored.port)
    if (values["scheme"], values["host"].lower(), values["port"]) != before:
        raise ProxyPasswordRequired(
            "The proxy now points at another server; enter the proxy password again.",
            field="password",
        )


def validated_settings(data: ProxySettingsInput) -> dict[str, Any]:
    """The settings of ``data`` checked and normalised, as stored (the password aside).

    Raises ValidationError naming the field.
    """
    scheme, auth = data.scheme.strip().lower(), data.auth.strip().lower()
    if scheme not in PROXY_SCHEMES:
        raise ValidationError("The proxy scheme is http or https.", field="scheme")
    if auth not in PROXY_AUTH:
        raise ValidationError("Proxy authentication is 'none' or 'basic'.", field="auth")
    host = validate_host(data.host, field="host") if data.host.strip() else ""
    if data.enabled and (not host or data.port is None):
        raise ValidationError("Enter the proxy host and port to enable the proxy.",
                              field="host" if not host else "port")
    username = data.username.strip()
    if auth == "basic" and not username:
        raise ValidationError("Enter the proxy username for basic authentication.",
                              field="username")
    if ":" in username or any(ord(ch) < 32 for ch in username):
        raise ValidationError("The proxy username cannot contain ':' or control characters.",
                              field="username")
    return {"enabled": data.enabled, "scheme": scheme, "host": host, "port": data.port,
            "auth": auth, "username": username, "bypass": list(parse_bypass(data.bypass))}


def own_route(proxy: ConnectionProxy, password: Secret | None,
              egress: EgressPolicy | None) -> ProxyRoute:
    """The route of a connection that goes directly (``none``) or through its own proxy."""
    if proxy.mode is not ProxyMode.OWN:
        return replace(NO_PROXY, egress=egress)
    return ProxyRoute(proxy.forward_proxy(), password if proxy.username else None, egress)


def way_to(route: ProxyRoute, target: str) -> str:
    """How a call to ``target`` goes on ``route``, in words for a verdict: "through the proxy
    at host:port" or "directly" (never the proxy's credentials)."""
    if route.url_for(target) is None:
        return "directly"
    proxy = route.settings
    host = f"[{proxy.host}]" if ":" in proxy.host else proxy.host
    return f"through the proxy at {host}:{proxy.port}"
