"""Connections that authenticate their client with a certificate (private_key_jwt, RFC 7523):
the private key goes in once, is stored encrypted and never comes back out; the certificate's
thumbprints and expiry are shown; bad keys are refused naming the field; the key, like the
secret, goes only to the origins it was given for.

The provider is a real HTTP server on 127.0.0.1 (Tokendesk may call it here because the
tests allow it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select

from support.api import Api
from support.client_keys import (
    NOT_AFTER,
    ec_key_pem,
    encrypted_pem,
    jws_parts,
    key_pair,
    small_rsa_key_pem,
)
from support.listener import Listener, Seen, listening
from tokendesk.config import Settings
from tokendesk.domain.principal import command_line_principal
from tokendesk.oauth.assertion import client_assertion
from tokendesk.storage.ciphertexts import count_by_key
from tokendesk.storage.tables import audit_events, connections
from tokendesk.wiring import Tokendesk

NAME = "Reports"
CLIENT_ID = "desk-cert-client"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"allow_http_loopback": True,
                                       "egress_allowlist": "127.0.0.1"})


def issue_tokens(seen: Seen) -> tuple[int, dict[str, Any]]:
    return 200, {"access_token": "at-by-assertion", "token_type": "Bearer", "expires_in": 3600}


@pytest.fixture
def provider() -> Iterator[Listener]:
    with listening(issue_tokens) as server:
        yield server


@pytest.fixture
def listener() -> Iterator[Listener]:
    with listening() as server:
        yield server


def body(server: Listener, **fields: Any) -> dict[str, Any]:
    pair = key_pair()
    return {
        "name": NAME, "provider": "custom", "grant_type": "client_credentials",
        "client_id": CLIENT_ID, "token_url": f"{server.url}/token", "scopes": "api:read",
        "client_auth_method": "private_key_jwt", "client_key": pair.key_pem,
        "client_certificate": pair.certificate_pem, **fields,
    }


def create(admin: Api, provider: Listener, **fields: Any) -> dict[str, Any]:
    response = admin.post("/connections", json=body(provider, **fields))
    assert response.status_code == 201, response.text
    return dict(response.json())


def refused(response: Any, field: str, code: str = "validation_error") -> str:
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field), error
    return str(error["message"])


def pem_body(pem: str) -> str:
    """The base64 body of a PEM block, the part that would betray the key."""
    return "".join(line for line in pem.splitlines() if "-----" not in line)


def test_a_connection_takes_a_key_and_certificate_and_shows_only_thumbprints_and_expiry(
    admin: Api, td: Tokendesk, provider: Listener
) -> None:
    pair = key_pair()
    der = pair.certificate().public_bytes(serialization.Encoding.DER)

    created = create(admin, provider)
    shown = admin.get(f"/connections/{NAME}").json()

    assert created == shown
    assert shown["client_auth_method"] == "private_key_jwt"
    assert shown["has_client_key"] is True
    assert shown["client_secret_stored"] is False
    certificate = shown["client_certificate"]
    assert certificate["thumbprint_sha1"] == hashlib.sha1(der).hexdigest().upper()  # noqa: S324
    assert certificate["expires_at"].startswith(NOT_AFTER.strftime("%Y-%m-%dT%H:%M"))
    assert "PRIVATE KEY" not in str(shown)
    with td.transaction() as tx:
        [row] = tx.execute(select(connections.c.client_key_ct)).all()
        connection = td.connections.get(tx, command_line_principal(), NAME)
        stored = td.connections.client_key(tx, connection)
    assert pem_body(pair.key_pem)[:40] not in row.client_key_ct  # sealed, not plain
    assert stored is not None and stored.reveal() == pair.key_pem.strip()


def test_testing_the_connection_sends_a_signed_assertion_for_the_token_url_and_no_secret(
    admin: Api, provider: Listener
) -> None:
    pair = key_pair()
    create(admin, provider)

    tested = admin.post(f"/connections/{NAME}/test")

    assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text
    [call] = provider.requests
    form = call.form()
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    assert "client_secret" not in form and "authorization" not in call.headers
    claims = jwt.decode(form["client_assertion"],
                        RSAKey.import_key(pair.private_key.public_key())).claims
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == f"{provider.url}/token"
    assert pem_body(pair.key_pem)[:40] not in call.text()


def test_microsoft_connections_name_the_certificate_by_its_sha256_thumbprint(
    admin: Api, td: Tokendesk, provider: Listener
) -> None:
    created = admin.post("/connections", json=body(
        provider, provider="sharepoint", token_url=None, scopes=None,
        placeholders={"tenant-id": "contoso.onmicrosoft.com",
                      "domain-name": "contoso.sharepoint.com"}))

    assert created.status_code == 201, created.text
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), NAME)
        spec = td.connections.client_spec(tx, connection)
    assert spec.client_key is not None and spec.client_key.certificate_header == "x5t#S256"
    header, _ = jws_parts(client_assertion(CLIENT_ID, spec.token_url, spec.client_key, td.clock()))
    assert header["x5t#S256"] == created.json()["client_certificate"]["x5t_s256"]


def test_microsoft_needs_the_certificate(admin: Api, provider: Listener) -> None:
    response = admin.post("/connections", json=body(
        provider, provider="microsoft_entra", token_url=None, scopes=None,
        client_certificate=None, placeholders={"tenant": "contoso.onmicrosoft.com"}))

    assert "certificate" in refused(response, "client_certificate")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"client_key": None}, "client_key"),
        ({"client_key": "not a key"}, "client_key"),
        ({"client_key": key_pair().certificate_pem}, "client_key"),
        ({"client_key": encrypted_pem(key_pair())}, "client_key"),
        ({"client_key": small_rsa_key_pem(), "client_certificate": None}, "client_key"),
        ({"client_key": ec_key_pem()}, "client_certificate"),  # not the certificate's key
        ({"client_certificate": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"},
         "client_certificate"),
        ({"client_auth_method": "client_secret_post", "client_secret": "s3cret"},
         "client_auth_method"),
    ],
    ids=["missing", "not-pem", "a-certificate", "encrypted", "rsa-1024", "mismatch",
         "bad-certificate", "key-without-private-key-jwt"],
)
def test_a_bad_key_or_certificate_is_refused_naming_the_field(
    admin: Api, provider: Listener, fields: dict[str, Any], field: str
) -> None:
    response = admin.post("/connections", json=body(provider, **fields))

    refused(response, field)
    assert "PRIVATE KEY-----\n" not in response.text
    assert admin.get(f"/connections/{NAME}").status_code == 404


def test_an_encrypted_key_is_refused_with_advice_and_the_key_is_not_echoed(
    admin: Api, provider: Listener
) -> None:
    pem = encrypted_pem(key_pair())

    message = refused(admin.post("/connections", json=body(provider, client_key=pem)),
                      "client_key")

    assert "passphrase" in message
    assert pem_body(pem)[:40] not in message


def test_an_edit_keeps_the_stored_key_and_checks_a_new_certificate_against_it(
    admin: Api, td: Tokendesk, provider: Listener
) -> None:
    create(admin, provider)
    other = key_pair("another-client")

    kept = admin.patch(f"/connections/{NAME}", json={"description": "certificate auth"})
    mismatch = admin.patch(f"/connections/{NAME}",
                           json={"client_certificate": other.certificate_pem})
    replaced = admin.patch(f"/connections/{NAME}", json={
        "client_key": other.key_pem, "client_certificate": other.certificate_pem})

    assert kept.status_code == 200 and kept.json()["has_client_key"] is True
    refused(mismatch, "client_certificate")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["client_certificate"]["x5t_s256"] != kept.json()[
        "client_certificate"]["x5t_s256"]
    with td.transaction() as tx:
        connection = td.connections.get(tx, command_line_principal(), NAME)
        stored = td.connections.client_key(tx, connection)
    assert stored is not None and stored.reveal() == other.key_pem.strip()


def test_moving_the_token_url_without_the_key_is_refused_and_nothing_reaches_the_new_origin(
    admin: Api, provider: Listener, listener: Listener
) -> None:
    create(admin, provider)

    moved = admin.patch(f"/connections/{NAME}", json={"token_url": f"{listener.url}/token"})
    tested = admin.post(f"/connections/{NAME}/test")

    message = refused(moved, "client_key", code="client_key_required")
    assert message == "The token URL now points at another server; enter the client key again."
    assert tested.json()["ok"] is True
    assert listener.requests == []
    assert len(provider.requests) == 1


def test_moving_the_token_url_with_the_key_given_again_is_accepted(
    admin: Api, provider: Listener, listener: Listener
) -> None:
    create(admin, provider)

    moved = admin.patch(f"/connections/{NAME}", json={
        "token_url": f"{listener.url}/token", "client_key": key_pair().key_pem})

    assert moved.status_code == 200, moved.text
    assert moved.json()["token_url"] == f"{listener.url}/token"


def test_switching_a_secret_connection_to_private_key_jwt_needs_the_key(
    admin: Api, provider: Listener
) -> None:
    create(admin, provider, client_auth_method="client_secret_basic", client_key=None,
           client_certificate=None, client_secret="s3cret-value")

    without = admin.patch(f"/connections/{NAME}", json={"client_auth_method": "private_key_jwt"})
    switched = admin.patch(f"/connections/{NAME}", json={
        "client_auth_method": "private_key_jwt", "client_key": key_pair().key_pem})
    tested = admin.post(f"/connections/{NAME}/test")

    refused(without, "client_key")
    assert switched.status_code == 200, switched.text
    assert tested.json()["ok"] is True, tested.text
    assert "client_assertion" in provider.requests[-1].form()


def test_switching_back_to_a_secret_method_without_a_stored_secret_needs_the_secret(
    admin: Api, provider: Listener
) -> None:
    create(admin, provider)

    response = admin.patch(f"/connections/{NAME}", json={"client_auth_method": "client_secret_post"})

    refused(response, "client_secret")


def test_the_key_never_appears_in_any_answer_or_audit_row(
    admin: Api, td: Tokendesk, provider: Listener
) -> None:
    pair = key_pair()
    answers = [admin.post("/connections", json=body(provider))]
    answers.append(admin.post("/connections", json=body(provider)))  # duplicate name
    answers.append(admin.patch(f"/connections/{NAME}", json={"client_key": pair.key_pem}))
    answers.append(admin.patch(f"/connections/{NAME}", json={"client_key": pair.key_pem + "x"}))
    answers += [admin.get("/connections"), admin.get(f"/connections/{NAME}"),
                admin.post(f"/connections/{NAME}/test"), admin.get("/audit")]
    with td.transaction() as tx:
        audit = str(tx.execute(select(audit_events)).all())

    secret_part = pem_body(pair.key_pem)
    for answer in answers:
        assert secret_part[:40] not in answer.text
        assert secret_part[-40:] not in answer.text
    assert secret_part[:40] not in audit


def test_the_sealed_key_is_counted_and_resealed_by_key_rotation(
    admin: Api, td: Tokendesk, provider: Listener
) -> None:
    create(admin, provider)  # no secret: the key is the one stored value

    with td.transaction() as tx:
        counted = count_by_key(tx, td.keyring.active_key_id)

    assert counted == 1


def test_a_stored_secret_unused_by_private_key_jwt_is_forgotten_when_the_token_url_moves(
    admin: Api, provider: Listener, listener: Listener
) -> None:
    create(admin, provider, client_secret="kept-for-a-switch-back")

    moved = admin.patch(f"/connections/{NAME}", json={
        "token_url": f"{listener.url}/token", "client_key": key_pair().key_pem})
    switched_back = admin.patch(f"/connections/{NAME}",
                                json={"client_auth_method": "client_secret_post"})

    assert moved.status_code == 200, moved.text
    assert moved.json()["client_secret_stored"] is False
    refused(switched_back, "client_secret")
    assert listener.requests == []
