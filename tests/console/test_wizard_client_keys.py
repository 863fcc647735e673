"""Certificate credentials (private_key_jwt) in the console: the wizard takes a private key
and a certificate, the connection page shows the certificate's thumbprint and expiry, and the
key never appears on any page -- not even in Edit, which keeps it unless a new one is pasted."""

from __future__ import annotations

import hashlib

from console_support import Console, field_error
from cryptography.hazmat.primitives import serialization

from support.client_keys import NOT_AFTER, encrypted_pem, key_pair
from tokendesk.domain.principal import command_line_principal
from tokendesk.wiring import Tokendesk

NAME = "Graph app-only"


def start(console: Console) -> str:
    return console.get("/wizard/new").url.path.rsplit("/", 1)[0]


def key_details(**overrides: str) -> dict[str, str]:
    pair = key_pair()
    return {"grant_type": "client_credentials", "client_id": "graph-app",
            "client_secret": "", "token_url": "https://auth.example.test/token",
            "scopes": "api:read", "client_auth_method": "private_key_jwt",
            "client_key": pair.key_pem, "client_certificate": pair.certificate_pem,
            "go": "next", **overrides}


def key_body() -> str:
    return "".join(line for line in key_pair().key_pem.splitlines() if "-----" not in line)


def stored_key(td: Tokendesk) -> str | None:
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), NAME)
        key = td.connections.client_key(tx, connection)
    return key.reveal() if key else None


def create(admin: Console) -> None:
    wizard = start(admin)
    steps = [
        (f"{wizard}/settings", {"provider": "custom", "name": NAME, "go": "next"}),
        (f"{wizard}/authentication", key_details()),
        (f"{wizard}/test", {"go": "next"}),
        (f"{wizard}/roles", {"go": "next"}),
        (f"{wizard}/review", {"go": "create"}),
    ]
    for path, data in steps:
        moved = admin.post(path, data)
        assert moved.status_code == 303, (path, moved.text[:3000])


def test_the_wizard_takes_a_key_and_certificate_and_the_page_shows_thumbprint_and_expiry(
    admin: Console, td: Tokendesk
) -> None:
    der = key_pair().certificate().public_bytes(serialization.Encoding.DER)

    create(admin)
    page = admin.get("/connections/Graph%20app-only")

    assert "private_key_jwt" in page.text
    assert hashlib.sha1(der).hexdigest().upper() in page.text  # noqa: S324 - as Entra shows it
    assert f"expires {NOT_AFTER:%Y-%m-%d %H:%M} UTC" in page.text
    assert "Private key" in page.text and "stored" in page.text
    assert stored_key(td) == key_pair().key_pem.strip()
    assert key_body()[:40] not in admin.every_page()
    assert "PRIVATE KEY" not in admin.every_page()


def test_a_bad_key_is_shown_next_to_its_field_and_not_echoed(admin: Console) -> None:
    wizard = start(admin)
    admin.post(f"{wizard}/settings", {"provider": "custom", "name": NAME, "go": "next"})
    pem = encrypted_pem(key_pair())

    refused = admin.post(f"{wizard}/authentication", key_details(client_key=pem))

    assert refused.status_code == 422
    error = field_error(refused.text, "client_key")
    assert error is not None and "passphrase" in error
    body = "".join(line for line in pem.splitlines() if "-----" not in line)
    assert body[:40] not in refused.text


def test_edit_shows_no_key_keeps_the_stored_one_and_prefills_the_certificate(
    admin: Console, td: Tokendesk
) -> None:
    create(admin)
    edit = admin.get("/connections/Graph%20app-only/edit")
    wizard = edit.url.path.rsplit("/", 1)[0]
    admin.post(f"{wizard}/settings", {"name": NAME, "description": "certificate", "go": "next"})

    details = admin.get(f"{wizard}/authentication")
    saved = admin.post(f"{wizard}/authentication", key_details(client_key=""))

    assert "A private key is held for this connection" in details.text
    assert "BEGIN CERTIFICATE" in details.text  # public: shown for editing
    assert key_body()[:40] not in details.text
    assert saved.status_code == 303, saved.text[:3000]
    assert stored_key(td) == key_pair().key_pem.strip()
