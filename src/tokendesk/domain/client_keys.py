"""Client keys for ``private_key_jwt`` (RFC 7523 §2.2): the private key an administrator gives
(write-only) and the public certificate some providers need, with its thumbprints and expiry.

Pure: parses PEM text and answers, raises ValidationError naming the field; no I/O.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tokendesk.errors import ValidationError

PRIVATE_KEY_JWT = "private_key_jwt"
CLIENT_KEY_MAX = 20_000
CLIENT_CERTIFICATE_MAX = 20_000
# RSA keys sign RS256 (Microsoft accepts only these), EC keys ES256/384/512 by curve.
MIN_RSA_BITS = 2048
_EC_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True, slots=True)
class CertificateInfo:
    """What may be shown of a client certificate: its thumbprints and validity."""

    thumbprint_sha1: str  # base64url, no padding: the JWS "x5t" header (RFC 7515 §4.1.7)
    thumbprint_sha256: str  # the "x5t#S256" header (RFC 7515 §4.1.8)
    not_before: datetime
    not_after: datetime

    @property
    def sha1_hex(self) -> str:
        """The SHA-1 thumbprint in hex, upper case, as Microsoft Entra lists it."""
        return _b64url_decode(self.thumbprint_sha1).hex().upper()


def load_client_key(pem: str, *, stored: bool = False) -> SigningKey:
    """The private key of a PEM text; raises ValidationError (field ``client_key``) for
    anything else, an encrypted PEM, or an unsupported key type or size.

    ``stored``: the key comes out of storage, where it went only after this function checked
    it (and AES-GCM authenticates it), so the RSA consistency check (~60 ms) is skipped.
    """
    text = pem.strip()
    if not text or len(text) > CLIENT_KEY_MAX or "-----BEGIN" not in text:
        raise ValidationError(
            "The client key must be a private key in PEM form (-----BEGIN PRIVATE KEY-----).",
            field="client_key",
        )
    if "ENCRYPTED" in text.split("-----", 2)[1]:
        raise ValidationError(
            "The client key is encrypted; give the private key without a passphrase "
            "(e.g. openssl pkey -in key.pem -out plain.pem).",
            field="client_key",
        )
    try:
        key = serialization.load_pem_private_key(
            text.encode(), password=None, unsafe_skip_rsa_key_validation=stored
        )
    except TypeError:  # a passphrase is needed
        raise ValidationError(
            "The client key is encrypted; give the private key without a passphrase.",
            field="client_key",
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValidationError(
            "The client key is not a readable PEM private key.", field="client_key"
        ) from None
    return _supported(key)


def signing_algorithm(key: SigningKey) -> str:
    """The JWS algorithm (RFC 7518 §3.1) for ``key``: RS256, or ES256/384/512 by curve."""
    if isinstance(key, rsa.RSAPrivateKey):
        return "RS256"
    return _EC_ALGORITHMS[key.curve.name]


def load_certificate(pem: str) -> x509.Certificate:
    """The X.509 certificate of a PEM text; raises ValidationError (field
    ``client_certificate``) for anything else."""
    text = pem.strip()
    if not text or len(text) > CLIENT_CERTIFICATE_MAX or "-----BEGIN CERTIFICATE" not in text:
        raise ValidationError(
            "The client certificate must be a certificate in PEM form "
            "(-----BEGIN CERTIFICATE-----).",
            field="client_certificate",
        )
    try:
        return x509.load_pem_x509_certificate(text.encode())
    except ValueError:
        raise ValidationError(
            "The client certificate is not a readable PEM certificate.",
            field="client_certificate",
        ) from None


def certificate_info(pem: str) -> CertificateInfo:
    """Thumbprints (SHA-1 and SHA-256 of the DER certificate, base64url) and validity."""
    cert = load_certificate(pem)
    return CertificateInfo(
        thumbprint_sha1=_b64url(cert.fingerprint(hashes.SHA1())),  # noqa: S303 - x5t is SHA-1
        thumbprint_sha256=_b64url(cert.fingerprint(hashes.SHA256())),
        not_before=cert.not_valid_before_utc.astimezone(UTC),
        not_after=cert.not_valid_after_utc.astimezone(UTC),
    )


def check_key_matches(key_pem: str, certificate_pem: str) -> None:
    """Raise ValidationError (field ``client_certificate``) when the certificate is not the
    key's: the provider would check the assertion against another public key."""
    key = load_client_key(key_pem)
    cert_key = load_certificate(certificate_pem).public_key()
    own = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        theirs = cert_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    except ValueError:  # pragma: no cover - every public key type serialises to SPKI
        theirs = b""
    if own != theirs:
        raise ValidationError(
            "The client certificate does not belong to the client key.",
            field="client_certificate",
        )


def public_certificate(pem: str) -> str:
    """The certificate re-encoded as one clean PEM block (what is stored and shown)."""
    return load_certificate(pem).public_bytes(serialization.Encoding.PEM).decode()


def _supported(key: object) -> SigningKey:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < MIN_RSA_BITS:
            raise ValidationError(
                f"The client key is an RSA key of {key.key_size} bits; use at least "
                f"{MIN_RSA_BITS}.",
                field="client_key",
            )
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name in _EC_ALGORITHMS:
        return key
    raise ValidationError(
        "The client key must be an RSA key (RS256) or an EC key on P-256, P-384 or P-521.",
        field="client_key",
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
