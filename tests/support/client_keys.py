"""Client keys and certificates for private_key_jwt tests: real RSA/EC keys, self-signed
certificates, and the public JWK an authorization server registers."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from joserfc.jwk import RSAKey

NOT_BEFORE = datetime(2026, 1, 1, tzinfo=UTC)
NOT_AFTER = datetime(2028, 6, 30, 12, 0, tzinfo=UTC)


@dataclass(frozen=True)
class KeyPair:
    key_pem: str  # PKCS#8, unencrypted
    certificate_pem: str
    private_key: rsa.RSAPrivateKey

    def public_jwk(self) -> dict[str, Any]:
        """The public key as a JWK (RFC 7517), as a client registers it in ``jwks``."""
        jwk = RSAKey.import_key(self.private_key.public_key()).as_dict(private=False)
        return {**jwk, "alg": "RS256", "use": "sig"}

    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificate(self.certificate_pem.encode())


def _pem(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey,
         encryption: serialization.KeySerializationEncryption | None = None) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        encryption or serialization.NoEncryption(),
    ).decode()


def self_signed(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, name: str) -> str:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOT_BEFORE).not_valid_after(NOT_AFTER)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


@cache
def key_pair(name: str = "tokendesk-client") -> KeyPair:
    """An RSA-2048 key and its self-signed certificate (one per name per test run)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return KeyPair(_pem(key), self_signed(key, name), key)


def encrypted_pem(pair: KeyPair) -> str:
    return _pem(pair.private_key, serialization.BestAvailableEncryption(b"passphrase"))


def ec_key_pem() -> str:
    return _pem(ec.generate_private_key(ec.SECP256R1()))


def small_rsa_key_pem() -> str:
    # Deliberately weak: the desk must refuse it.
    return _pem(rsa.generate_private_key(public_exponent=65537, key_size=1024))  # noqa: S505


def jws_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, unverified."""
    import base64

    def part(text: str) -> dict[str, Any]:
        return dict(json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))))

    header, claims, _sig = token.split(".")
    return part(header), part(claims)
