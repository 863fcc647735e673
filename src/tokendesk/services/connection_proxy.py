"""A connection's proxy fields, as create and update store them: validated, the password
sealed with the key ring like the client secret and never read back. Takes no transaction."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.connection_proxy import (
    GLOBAL_PROXY,
    ConnectionProxy,
    ProxyMode,
    proxy_bypass,
    proxy_origin,
    validate_proxy_url,
    validate_proxy_username,
)
from tokendesk.domain.secret import Secret
from tokendesk.errors import ProxyPasswordRequired, ValidationError
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate

PROXY_FIELDS = ("proxy_mode", "proxy_url", "proxy_username", "proxy_password", "proxy_bypass")


def proxy_password_ref(connection_id: str) -> RowRef:
    return RowRef("connections", "proxy_password_ct", connection_id)


@dataclass(frozen=True, slots=True)
class ProxyEdit:
    """The proxy fields an input gives; None: not given (an update keeps the stored value)."""

    mode: str | None
    url: str | None
    username: str | None
    password: str | None
    bypass: list[str] | str | None

    @classmethod
    def of(cls, data: ConnectionCreate | ConnectionUpdate) -> ProxyEdit:
        return cls(data.proxy_mode, data.proxy_url, data.proxy_username,
                   _typed(data.proxy_password), data.proxy_bypass)

    @property
    def given(self) -> bool:
        return any(v is not None for v in (self.mode, self.url, self.username, self.password,
                                           self.bypass))


def unsaved_proxy(data: ConnectionCreate) -> tuple[ConnectionProxy, Secret | None]:
    """The proxy ``data`` describes, validated, with its typed password (the wizard tests and
    the issuer's metadata is read before the connection is stored).

    Raises ValidationError naming the proxy field at fault.
    """
    proxy, password = _resolved(ProxyEdit.of(data), GLOBAL_PROXY)
    if proxy.mode is ProxyMode.OWN and proxy.username and password is None:
        raise _password_missing()
    return proxy, Secret(password) if password else None


def settled_proxy(data: ConnectionCreate) -> ConnectionProxy:
    """The proxy choice ``data`` describes, validated as a new connection's would be, but
    with no password required (an edit may keep the stored one): what a desk file's entry is
    compared with. Raises ValidationError naming the proxy field at fault."""
    proxy, _ = _resolved(ProxyEdit.of(data), GLOBAL_PROXY)
    return proxy


def proxy_fields(proxy: ConnectionProxy) -> dict[str, Any]:
    """A proxy choice under the API's field names (the password left out)."""
    return {"proxy_mode": proxy.mode.value, "proxy_url": proxy.url,
            "proxy_username": proxy.username, "proxy_bypass": list(proxy.bypass)}


def proxy_columns(
    keyring: KeyRing, connection_id: str, stored: ConnectionProxy | None,
    data: ConnectionCreate | ConnectionUpdate,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``connections`` columns to write for ``data``'s proxy fields (``stored`` None for
    a new connection), and what changed for the audit log (never the password).

    A stored password stays when no new one is typed, but goes only to the proxy it was typed
    for: moving an own proxy to another URL without typing it again raises
    ProxyPasswordRequired. Raises ValidationError naming the proxy field at fault.
    """
    edit = ProxyEdit.of(data)
    if stored is not None and not edit.given:
        return {}, {}
    before = stored or GLOBAL_PROXY
    proxy, password = _resolved(edit, before)
    values: dict[str, Any] = {
        "proxy_mode": proxy.mode.value, "proxy_url": proxy.url,
        "proxy_username": proxy.username, "proxy_bypass": list(proxy.bypass) or None,
    }
    if password is not None:
        values["proxy_password_ct"] = keyring.encrypt(password, proxy_password_ref(connection_id))
        change = "set"
    elif not proxy.username:
        values["proxy_password_ct"] = None
        change = "cleared" if before.has_password else "none"
    elif (before.mode is ProxyMode.OWN and before.has_password
          and proxy_origin(before.url) == proxy_origin(proxy.url)):
        change = "kept"
    elif before.has_password and before.mode is ProxyMode.OWN:
        raise ProxyPasswordRequired(
            "The connection's proxy now points at another server; enter its password again.",
            field="proxy_password")
    else:
        raise _password_missing()
    audit = {"mode": proxy.mode.value, "url": proxy.url, "username": proxy.username,
             "bypass": len(proxy.bypass), "password": change}
    return values, audit


def _resolved(edit: ProxyEdit, before: ConnectionProxy) -> tuple[ConnectionProxy, str | None]:
    """The proxy after ``edit`` of ``before``, and the password typed (None: none typed)."""
    mode = _mode(edit.mode) if edit.mode is not None else before.mode
    if mode is not ProxyMode.OWN:
        for name, value in (("proxy_url", edit.url), ("proxy_username", edit.username),
                            ("proxy_password", edit.password), ("proxy_bypass", edit.bypass)):
            if value:  # Fail closed: a setting that would silently be dropped is a mistake.
                raise ValidationError(
                    f"{name} is used only when proxy_mode is 'own'; set proxy_mode to 'own' "
                    "or leave it out.", field=name)
        return ConnectionProxy(mode=mode), None
    kept = before.mode is ProxyMode.OWN
    url = edit.url if edit.url is not None else (before.url if kept else None)
    if not url:
        raise ValidationError("Enter the URL of the connection's own proxy, e.g. "
                              "http://proxy.corp.example:3128.", field="proxy_url")
    username = validate_proxy_username(
        edit.username if edit.username is not None else (before.username if kept else ""))
    if edit.password and not username:
        raise ValidationError("A proxy password goes with a proxy username: enter the "
                              "username too, or leave the password out.",
                              field="proxy_username")
    bypass = (proxy_bypass(edit.bypass) if edit.bypass is not None
              else (before.bypass if kept else ()))
    proxy = ConnectionProxy(ProxyMode.OWN, validate_proxy_url(url), username,
                            before.has_password and kept, bypass)
    return proxy, edit.password or None


def _mode(value: str) -> ProxyMode:
    try:
        return ProxyMode(value.strip().lower())
    except ValueError:
        raise ValidationError("The proxy mode is 'global' (the forward proxy of the network "
                              "settings), 'none' (directly) or 'own' (the connection's own "
                              "proxy).", field="proxy_mode") from None


def _typed(secret: SecretStr | None) -> str | None:
    if secret is None:
        return None
    return secret.get_secret_value() or None


def _password_missing() -> ValidationError:
    return ValidationError("Enter the password of the connection's proxy for its username.",
                           field="proxy_password")
