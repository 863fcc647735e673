"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps every e-mail it takes: plain, or
with STARTTLS required under a self-signed certificate made here, and optionally a user name
and password it checks; it can be taken down and brought back on the same port."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from support.tokendesk_server import free_port


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    raw: bytes
    tls: bool
    login: str | None


@dataclass(frozen=True)
class SelfSignedCertificate:
    cert_file: Path
    key_file: Path

    def server_context(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert_file, self.key_file)
        return context


def self_signed_certificate(folder: Path) -> SelfSignedCertificate:
    """A certificate for 127.0.0.1, its own issuer, valid for an hour."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    cert_file, key_file = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return SelfSignedCertificate(cert_file, key_file)


class SmtpServer:
    """``start()`` listens on ``port``; ``stop()`` takes it down (connections refused)."""

    def __init__(self, *, certificate: SelfSignedCertificate | None = None,
                 login: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.certificate = certificate
        self.login = login
        self.received: list[Received] = []
        self.refused_logins = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> SmtpServer:
        kwargs: dict[str, Any] = {}
        if self.certificate is not None:
            kwargs |= {"tls_context": self.certificate.server_context(),
                       "require_starttls": True}
        if self.login is not None:
            kwargs |= {"authenticator": self._authenticate, "auth_require_tls": True}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port,
                                      **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def messages(self) -> list[Received]:
        with self._lock:
            return list(self.received)

    def _authenticate(self, _server: SMTPServer, _session: Session, _envelope: Envelope,
                      mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword) and self.login is not None and (
            auth_data.login.decode(), auth_data.password.decode()
        ) == self.login:
            return AuthResult(success=True, auth_data=self.login[0])
        with self._lock:
            self.refused_logins += 1
        return AuthResult(success=False, handled=False)

    def _take(self, session: Session, envelope: Envelope) -> None:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        login = session.auth_data if isinstance(session.auth_data, str) else None
        with self._lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos),
                                          parsed, raw, session.ssl is not None, login))


class _Handler:
    def __init__(self, server: SmtpServer) -> None:
        self.server = server

    async def handle_DATA(self, _server: SMTPServer, session: Session,
                          envelope: Envelope) -> str:
        self.server._take(session, envelope)
        return "250 Message accepted for delivery"
