"""The mailer: sends each e-mail of an event through the SMTP server of the settings, with
retries and back-off, and records every attempt.

Every replica runs it. An e-mail is sent under a lease taken in a short transaction of its
own (no transaction is open while the SMTP server is talked to, and the lease outlives the
whole conversation), so two replicas never send the same e-mail. Uses the standard library's
smtplib (RFC 5321) with STARTTLS (RFC 3207) verified against the system's or
TOKENDESK_CA_BUNDLE's certificate authorities.
"""

from __future__ import annotations

import ipaddress
import logging
import secrets
import smtplib
import socket
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage

from tokendesk.domain.egress import ALLOWLIST_WHERE, EgressPolicy, blocked_reason
from tokendesk.metrics import Metrics
from tokendesk.notifications.attempts import PurgePace, Rounds, after_attempt, clipped
from tokendesk.notifications.dispatch import OutboxDispatcher
from tokendesk.services.mail import MailService, SmtpServer
from tokendesk.storage.db import Transaction
from tokendesk.storage.mail import SENT, MailRecord, MailRepository

log = logging.getLogger(__name__)

# An SMTP conversation has up to this many steps, each with its own timeout.
SMTP_STEPS = 6
LEASE_MARGIN_S = 10.0
MAIL_BATCH = 50
DISABLED_RECHECK_S = 60.0


class Mailer:
    def __init__(
        self,
        transaction: Transaction,
        dispatcher: OutboxDispatcher,
        mail: MailService,
        metrics: Metrics,
        clock: Callable[[], datetime],
        *,
        tls: ssl.SSLContext,
        timeout_s: float,
        poll_s: float = 2.0,
    ) -> None:
        self.transaction = transaction
        self.dispatcher = dispatcher
        self.mail = mail
        self.metrics = metrics
        self.clock = clock
        self.tls = tls
        self.timeout_s = timeout_s
        self.poll_s = poll_s
        self.lease_s = timeout_s * SMTP_STEPS + LEASE_MARGIN_S
        self.owner = "m" + secrets.token_hex(8)
        self._purge = PurgePace()
        self._rounds = Rounds("mailer", self.run_once, poll_s)

    def run_once(self) -> int:
        """Dispatch the outbox, then send every e-mail due now; returns how many the SMTP
        server took."""
        self.dispatcher.dispatch()
        self._purge_if_due()
        with self.transaction(read_only=True) as tx:
            due = MailRepository(tx).due(self.clock(), MAIL_BATCH)
        return sum(1 for m in due if self.send(m.id))

    def send(self, message_id: str) -> bool:
        """One attempt at an e-mail, unless another holder has it or it is not pending;
        returns True when the SMTP server took it."""
        leased = self._lease(message_id)
        if leased is None:
            return False
        message, server, policy = leased
        error = refused_by_egress(policy, server.settings.host, server.settings.port or 587)
        if error is None:
            error = self._deliver(server, message)
        self._record(message, error)
        return error is None

    def _lease(self, message_id: str) -> tuple[MailRecord, SmtpServer, EgressPolicy] | None:
        now = self.clock()
        with self.transaction() as tx:
            repo = MailRepository(tx)
            if not repo.take_lease(message_id, self.owner, now,
                                   now + timedelta(seconds=self.lease_s)):
                return None
            message = repo.get(message_id)
            if message is None:
                return None
            server = self.mail.server(tx)
            if not server.settings.enabled or not server.settings.host:
                later = now + timedelta(seconds=DISABLED_RECHECK_S)
                repo.finish(message_id, self.owner, {"next_attempt_at": later})
                return None
            return message, server, self.mail.egress.policy(tx)

    def _deliver(self, server: SmtpServer, message: MailRecord) -> str | None:
        """Talk to the SMTP server with no transaction open; returns why it failed, in
        words that never carry the password."""
        settings = server.settings
        email = EmailMessage()
        email["From"] = settings.from_address
        email["To"] = message.to_address
        email["Subject"] = message.subject
        # The same id on every retry, so a mail system can drop a duplicate.
        email["Message-ID"] = f"<{message.id}.{message.event_id}@tokendesk.invalid>"
        email.set_content(message.body)
        try:
            with smtplib.SMTP(settings.host, settings.port or 587,
                              timeout=self.timeout_s) as smtp:
                if settings.starttls:
                    smtp.starttls(context=self.tls)
                if settings.username and server.password is not None:
                    smtp.login(settings.username, server.password.reveal())
                smtp.send_message(email)
        except smtplib.SMTPNotSupportedError:
            return "The SMTP server does not offer STARTTLS; turn STARTTLS off only if the " \
                   "server is on a trusted network."
        except smtplib.SMTPAuthenticationError as exc:
            return f"The SMTP server refused the user name or password (SMTP {exc.smtp_code})."
        except smtplib.SMTPRecipientsRefused:
            return f"The SMTP server refused the recipient {message.to_address}."
        except smtplib.SMTPResponseException as exc:
            return f"The SMTP server answered {exc.smtp_code}."
        except ssl.SSLError as exc:
            return f"STARTTLS with the SMTP server failed: {exc.reason or 'TLS error'}."
        except (smtplib.SMTPException, OSError) as exc:
            return f"The SMTP server {settings.host}:{settings.port} could not be reached " \
                   f"({type(exc).__name__})."
        return None

    def _record(self, message: MailRecord, error: str | None) -> None:
        now = self.clock()
        values, outcome = after_attempt(error, attempts=message.attempts,
                                        created_at=message.created_at, now=now,
                                        done=(SENT, "sent_at"))
        with self.transaction() as tx:
            repo = MailRepository(tx)
            repo.record_attempt({"message_id": message.id, "at": now, "outcome": outcome,
                                 "error": clipped(error)})
            if not repo.finish(message.id, self.owner, values):
                log.error("e-mail %s: its lease was lost during the call", message.id)
        self.metrics.email_attempt(outcome)

    def _purge_if_due(self) -> None:
        cutoff = self._purge.cutoff_if_due(self.clock())
        if cutoff is not None:
            with self.transaction() as tx:
                MailRepository(tx).purge_finished(cutoff)

    # --- running in the background -------------------------------------------------------

    def start(self) -> None:
        self._rounds.start()

    def stop(self) -> None:
        """Start nothing more; returns once the e-mail in flight has gone or failed."""
        self._rounds.stop(self.lease_s)


def refused_by_egress(policy: EgressPolicy, host: str, port: int) -> str | None:
    """Why the egress policy refuses the SMTP server, or None: every address the host
    resolves to must be allowed, as for a provider (an allowlisted name is allowed).

    The name is resolved again when smtplib connects: a DNS answer that changes in between
    is not seen here (smtplib offers no public way to connect to a checked address and
    still verify the certificate against the name).
    """
    if policy.host_allowed(host):
        return None
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return f"The SMTP server's name {host} could not be resolved."
    for *_rest, sockaddr in found:
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if not policy.address_allowed(address):
            return (f"The SMTP server {host} is at {address}, a {blocked_reason(address)} "
                    f"address; Tokendesk does not call such addresses unless an "
                    f"administrator adds it to {ALLOWLIST_WHERE}.")
    return None
