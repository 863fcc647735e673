"""The client credential of a connection that signs assertions (``private_key_jwt``,
RFC 7523 §2.2): which credential an edit must give again, and the key and certificate
checked, sealed and kept as column values. Takes no transaction; raises ValidationError."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from tokendesk.catalog import Provider
from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.client_keys import (
    PRIVATE_KEY_JWT,
    check_key_matches,
    load_client_key,
    public_certificate,
)
from tokendesk.domain.connections import Connection
from tokendesk.errors import ClientKeyRequired, ValidationError
from tokendesk.services.connection_rules import check_secret, moved_sentence, require_secret_for
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate

CLIENT_KEY_REF = ("connections", "client_key_ct")


@dataclass(frozen=True, slots=True)
class KeyState:
    """What a connection holds (or an edit gives) of the assertion credential."""

    method: str  # the client auth method in force
    key: str | None  # the private key PEM in force (given, else the stored one opened)
    key_given: bool
    certificate: str | None  # the certificate PEM in force
    certificate_given: bool


def uses_key(method: str | None) -> bool:
    return method == PRIVATE_KEY_JWT


def key_columns(
    keyring: KeyRing, provider: Provider, connection_id: str, state: KeyState
) -> dict[str, Any]:
    """The ``client_key_ct`` and ``client_certificate`` values to write for ``state``.

    Raises ValidationError naming ``client_key`` or ``client_certificate``: a key given with
    a secret method, no key for private_key_jwt, a key that is not a usable PEM private
    key, a certificate that is not the key's, or none where the provider needs one.
    """
    values: dict[str, Any] = {}
    if not uses_key(state.method):
        if state.key_given or state.certificate_given:
            raise ValidationError(
                "A client key or certificate is used only with the client authentication "
                "method private_key_jwt.",
                field="client_auth_method",
            )
        return values
    if not state.key:
        raise ValidationError(
            "Enter the client key (PEM) for private_key_jwt.", field="client_key"
        )
    load_client_key(state.key)  # refuses a non-PEM, encrypted or unsupported key
    if state.key_given:
        values["client_key_ct"] = keyring.encrypt(
            state.key.strip(), RowRef(*CLIENT_KEY_REF, connection_id)
        )
    if state.certificate:
        check_key_matches(state.key, state.certificate)
        if state.certificate_given:
            values["client_certificate"] = public_certificate(state.certificate)
    elif provider.assertion_certificate_header:
        raise ValidationError(
            f"{provider.name} identifies the key by its certificate: enter the client "
            "certificate (PEM).",
            field="client_certificate",
        )
    return values


def given_key(key: SecretStr | None) -> str | None:
    """A typed key, or None when none was typed (an edit keeps the stored one)."""
    if key is None or not key.get_secret_value().strip():
        return None
    return key.get_secret_value()


def given_certificate(certificate: str | None) -> str | None:
    if certificate is None or not certificate.strip():
        return None
    return certificate


def require_key_for(moved: list[str]) -> None:
    """Fail closed when endpoints of a private_key_jwt connection moved to another server
    and the client key was not given again: the assertions it signs go only to the
    origins it was given for. Raises ClientKeyRequired."""
    if not moved:
        return
    raise ClientKeyRequired(
        moved_sentence(moved, "the client key"), field="client_key", moved=moved
    )


@dataclass(frozen=True, slots=True)
class CredentialEdit:
    """An edit's view of the client credential: the method in force after it, what it gives
    and what the connection stores."""

    method: str
    secret: str | None  # typed (non-empty) secret, else None
    key: str | None  # typed key, else None
    certificate: str | None  # typed certificate, else None
    has_secret: bool
    has_key: bool
    stored_certificate: str | None


def credential_changes(
    keyring: KeyRing,
    provider: Provider,
    connection_id: str,
    edit: CredentialEdit,
    moved: list[str],
    stored_key: Callable[[], str | None],
) -> dict[str, Any]:
    """Column values for the credential part of an edit; fails closed before anything is
    written. The credential in force must be given again when an endpoint ``moved``
    (ClientSecretRequired / ClientKeyRequired); the other, stored credential is then
    forgotten, so that a later switch of method cannot send it to the new origin.
    """
    values: dict[str, Any] = {}
    if uses_key(edit.method):
        if edit.key is None:
            require_key_for(moved)
        if moved and edit.secret is None and edit.has_secret:
            values["client_secret_ct"] = None
        state = KeyState(
            edit.method,
            edit.key if edit.key is not None else (stored_key() if edit.has_key else None),
            edit.key is not None,
            edit.certificate or edit.stored_certificate,
            edit.certificate is not None,
        )
        return {**values, **key_columns(keyring, provider, connection_id, state)}
    if edit.secret is None:
        require_secret_for(moved)
        if not edit.has_secret:
            check_secret("")  # a connection switched from private_key_jwt needs a secret
    elif moved and edit.has_key:
        values.update(client_key_ct=None, client_certificate=None)
    state = KeyState(edit.method, None, edit.key is not None, None, edit.certificate is not None)
    return {**values, **key_columns(keyring, provider, connection_id, state)}


def credential_edit(current: Connection, data: ConnectionUpdate, method: str) -> CredentialEdit:
    """What ``data`` gives of the client credential of ``current``; an empty secret with
    private_key_jwt is no secret (a form sends one)."""
    secret = None if data.client_secret is None else data.client_secret.get_secret_value()
    if secret is not None and not secret.strip() and uses_key(method):
        secret = None
    return CredentialEdit(
        method=method,
        secret=secret,
        key=given_key(data.client_key),
        certificate=given_certificate(data.client_certificate),
        has_secret=current.has_client_secret,
        has_key=current.has_client_key,
        stored_certificate=current.client_certificate,
    )


def check_key(
    keyring: KeyRing,
    provider: Provider,
    data: ConnectionCreate,
    current: Connection | None,
    moved: list[str],
    stored_key: Callable[[], str | None],
) -> None:
    """The key and certificate of ``data`` checked as create (``current`` None) or the
    update of ``current`` would check them; stores nothing. Raises ValidationError."""
    key, cert = given_key(data.client_key), given_certificate(data.client_certificate)
    if current is None:
        state = KeyState(PRIVATE_KEY_JWT, key, key is not None, cert, cert is not None)
        key_columns(keyring, provider, "check", state)
        return
    edit = CredentialEdit(
        PRIVATE_KEY_JWT, None, key, cert, current.has_client_secret,
        current.has_client_key, current.client_certificate,
    )
    credential_changes(keyring, provider, current.id, edit, moved, stored_key)
