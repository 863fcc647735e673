"""Client assertions for ``private_key_jwt`` (RFC 7523 §2.2, §3; OpenID Connect Core §9):
a short-lived, single-use JWT signed with the client's private key."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from cryptography.hazmat.primitives.asymmetric import rsa
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from tokendesk.domain.client_keys import certificate_info, load_client_key, signing_algorithm
from tokendesk.domain.secret import Secret

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# Short: the assertion is good for one request (Microsoft accepts up to 10 minutes).
ASSERTION_LIFETIME_S = 120
CertificateHeader = Literal["x5t#S256", "x5t"]


@dataclass(frozen=True, slots=True)
class ClientKey:
    """The client's private key (a Secret) and, when the provider needs it, its certificate."""

    private_key: Secret
    certificate: str | None = None
    # The JWS header that names the certificate, as the provider's catalog entry says.
    certificate_header: CertificateHeader | None = None


def client_assertion(client_id: str, audience: str, key: ClientKey, now: datetime) -> str:
    """A signed client assertion (RFC 7523 §3): iss = sub = client_id, aud = the token URL,
    a fresh ``jti``, ``exp`` ASSERTION_LIFETIME_S after ``now``.

    The header carries the certificate's thumbprint when ``key.certificate_header`` names one
    (RFC 7515 §4.1.7/§4.1.8). Raises ValidationError when the key cannot sign.
    """
    signing_key = load_client_key(key.private_key.reveal(), stored=True)
    issued = int(now.timestamp())
    claims: dict[str, str | int] = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "jti": secrets.token_urlsafe(24),
        "iat": issued,
        "nbf": issued,
        "exp": issued + ASSERTION_LIFETIME_S,
    }
    header: dict[str, str] = {"alg": signing_algorithm(signing_key), "typ": "JWT"}
    if key.certificate and key.certificate_header:
        info = certificate_info(key.certificate)
        header[key.certificate_header] = (
            info.thumbprint_sha256 if key.certificate_header == "x5t#S256" else info.thumbprint_sha1
        )
    jwk = (
        RSAKey.import_key(signing_key)
        if isinstance(signing_key, rsa.RSAPrivateKey)
        else ECKey.import_key(signing_key)
    )
    return jwt.encode(header, claims, jwk, algorithms=[header["alg"]])
