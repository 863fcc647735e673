"""Client authentication by a signed assertion (private_key_jwt, RFC 7523 §2.2, §3): what
Tokendesk sends, checked against the public key and certificate it was given."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from urllib.parse import parse_qsl

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from oauth_fakes import CLIENT_ID, NOW, TOKEN_URL, FakeTokenEndpoint, client_spec, oauth_error

from support.client_keys import ec_key_pem, jws_parts, key_pair
from tokendesk.domain.secret import Secret
from tokendesk.errors import ProviderError
from tokendesk.oauth.assertion import (
    ASSERTION_LIFETIME_S,
    CLIENT_ASSERTION_TYPE,
    ClientKey,
    client_assertion,
)
from tokendesk.oauth.client import ClientSpec, OAuthClient


def pkjwt_spec() -> ClientSpec:
    pair = key_pair()
    return client_spec(
        client_secret=None,
        client_auth_method="private_key_jwt",
        client_key=ClientKey(Secret(pair.key_pem), pair.certificate_pem, "x5t#S256"),
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_the_assertion_is_signed_by_the_key_and_names_the_client_and_the_token_endpoint() -> None:
    pair = key_pair()
    token = client_assertion(CLIENT_ID, TOKEN_URL, ClientKey(Secret(pair.key_pem)), NOW)

    claims = jwt.decode(token, RSAKey.import_key(pair.private_key.public_key())).claims

    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == TOKEN_URL
    assert claims["iat"] == int(NOW.timestamp())
    assert claims["exp"] == int((NOW + timedelta(seconds=ASSERTION_LIFETIME_S)).timestamp())
    assert ASSERTION_LIFETIME_S <= 300  # short-lived
    assert len(claims["jti"]) >= 22


def test_every_assertion_has_its_own_jti() -> None:
    key = ClientKey(Secret(key_pair().key_pem))

    jtis = {jws_parts(client_assertion(CLIENT_ID, TOKEN_URL, key, NOW))[1]["jti"]
            for _ in range(20)}

    assert len(jtis) == 20


def test_the_header_names_the_certificate_by_its_sha256_thumbprint_for_microsoft() -> None:
    pair = key_pair()
    der = pair.certificate().public_bytes(serialization.Encoding.DER)

    header, _ = jws_parts(client_assertion(
        CLIENT_ID, TOKEN_URL, ClientKey(Secret(pair.key_pem), pair.certificate_pem, "x5t#S256"),
        NOW))

    assert header["alg"] == "RS256"
    assert header["x5t#S256"] == b64url(hashlib.sha256(der).digest())
    assert header["x5t#S256"] == b64url(pair.certificate().fingerprint(hashes.SHA256()))
    assert "x5t" not in header


def test_the_sha1_header_x5t_when_the_catalog_asks_for_it() -> None:
    pair = key_pair()
    der = pair.certificate().public_bytes(serialization.Encoding.DER)

    header, _ = jws_parts(client_assertion(
        CLIENT_ID, TOKEN_URL, ClientKey(Secret(pair.key_pem), pair.certificate_pem, "x5t"), NOW))

    assert header["x5t"] == b64url(hashlib.sha1(der).digest())  # noqa: S324 - x5t is SHA-1
    assert "x5t#S256" not in header


def test_no_thumbprint_without_a_certificate_header() -> None:
    pair = key_pair()

    header, _ = jws_parts(client_assertion(
        CLIENT_ID, TOKEN_URL, ClientKey(Secret(pair.key_pem), pair.certificate_pem, None), NOW))

    assert not {"x5t", "x5t#S256"} & set(header)


def test_an_ec_key_signs_es256() -> None:
    pem = ec_key_pem()
    token = client_assertion(CLIENT_ID, TOKEN_URL, ClientKey(Secret(pem)), NOW)

    header, _ = jws_parts(token)
    public = serialization.load_pem_private_key(pem.encode(), None).public_key()

    assert header["alg"] == "ES256"
    assert jwt.decode(token, ECKey.import_key(public)).claims["sub"] == CLIENT_ID


@pytest.mark.parametrize("grant", ["client_credentials", "refresh", "exchange_code"])
def test_every_token_request_authenticates_with_a_fresh_assertion_and_no_secret(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint, grant: str
) -> None:
    spec = pkjwt_spec()
    for _ in range(2):
        if grant == "client_credentials":
            oauth.client_credentials(spec)
        elif grant == "refresh":
            oauth.refresh(spec, Secret("rt-1"))
        else:
            oauth.exchange_code(spec, code=Secret("code-1"), redirect_uri="https://d/cb",
                                code_verifier=None)

    first, second = endpoint.form(0), endpoint.form(1)
    assert first["client_assertion_type"] == CLIENT_ASSERTION_TYPE
    assert first["client_id"] == CLIENT_ID
    assert "client_secret" not in first and "authorization" not in endpoint.last.headers
    _, claims = jws_parts(first["client_assertion"])
    assert claims["aud"] == TOKEN_URL
    assert jws_parts(second["client_assertion"])[1]["jti"] != claims["jti"]


def test_a_refusal_echoing_the_assertion_does_not_carry_it_into_the_error(
    oauth: OAuthClient, endpoint: FakeTokenEndpoint
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        assertion = dict(parse_qsl(request.content.decode()))["client_assertion"]
        return oauth_error(401, "invalid_client", f"bad assertion {assertion}")

    endpoint.answer(echo)

    with pytest.raises(ProviderError) as caught:
        oauth.client_credentials(pkjwt_spec())

    assertion = endpoint.form()["client_assertion"]
    assert assertion not in str(caught.value) + repr(caught.value.details)
