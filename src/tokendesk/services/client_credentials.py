"""A stored connection's client credentials, opened for the OAuth layer only: its client
secret and key (sealed with the row's identity bound as associated data) and the
``ClientSpec`` built from them. Takes the caller's transaction; never for output."""

from __future__ import annotations

from sqlalchemy import Connection as Tx

from tokendesk.catalog import Catalog
from tokendesk.crypto import KeyRing, RowRef
from tokendesk.domain.connections import Connection
from tokendesk.domain.secret import Secret
from tokendesk.oauth.client import ClientSpec
from tokendesk.services.client_keys import CLIENT_KEY_REF, uses_key
from tokendesk.services.client_specs import build_client_spec
from tokendesk.services.connection_rules import check_secret
from tokendesk.storage.connections import ConnectionRepository

CLIENT_SECRET_REF = ("connections", "client_secret_ct")


def client_secret(tx: Tx, keyring: KeyRing, connection: Connection) -> Secret | None:
    """The decrypted client secret, for the OAuth layer only; never for output."""
    stored = ConnectionRepository(tx).client_secret_ciphertext(connection.id)
    if stored is None:
        return None
    return Secret(keyring.decrypt(stored, RowRef(*CLIENT_SECRET_REF, connection.id)))


def client_key(tx: Tx, keyring: KeyRing, connection: Connection) -> Secret | None:
    """The decrypted client key (PEM) of private_key_jwt; never for output."""
    stored = ConnectionRepository(tx).client_key_ciphertext(connection.id)
    if stored is None:
        return None
    return Secret(keyring.decrypt(stored, RowRef(*CLIENT_KEY_REF, connection.id)))


def client_spec(tx: Tx, catalog: Catalog, keyring: KeyRing, connection: Connection) -> ClientSpec:
    """What the OAuth layer needs to call this connection's provider (secret included).

    Raises DecryptionError when the stored client secret cannot be opened.
    """
    provider = catalog.get(connection.provider)
    method = connection.client_auth_method or provider.client_auth_method
    return build_client_spec(
        provider, client_id=connection.client_id,
        client_secret=client_secret(tx, keyring, connection), token_url=connection.token_url,
        authorization_url=connection.authorization_url,
        revocation_url=connection.revocation_url, scopes=connection.scopes,
        placeholders=connection.placeholders, client_auth_method=method,
        client_key=client_key(tx, keyring, connection) if uses_key(method) else None,
        client_certificate=connection.client_certificate, pkce=connection.pkce)


def seal_secret(keyring: KeyRing, connection_id: str, secret: str) -> str:
    """The client secret checked and sealed for the row ``connection_id``.

    Raises ValidationError (client_secret) for an unacceptable secret.
    """
    check_secret(secret)
    return keyring.encrypt(secret.strip(), RowRef(*CLIENT_SECRET_REF, connection_id))


def reveal(secret: Secret | None) -> str | None:
    return None if secret is None else secret.reveal()
