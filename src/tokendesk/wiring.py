"""The one place where Tokendesk is put together from its settings."""

from __future__ import annotations

import os
import secrets
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection as Tx
from sqlalchemy import Engine, inspect
from sqlalchemy.exc import IntegrityError, OperationalError

from tokendesk.catalog import Catalog, load_catalog
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing, load_or_create_keyring
from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.principal import command_line_principal
from tokendesk.errors import ConfigurationError, Conflict
from tokendesk.metrics import Metrics
from tokendesk.notifications.deliverer import WebhookDeliverer
from tokendesk.notifications.dispatch import OutboxDispatcher
from tokendesk.notifications.forecasts import ForecastNotifier
from tokendesk.notifications.mailer import Mailer
from tokendesk.oauth.client import OAuthClient
from tokendesk.oauth.outbound import Outbound
from tokendesk.oauth.workload_keys import WorkloadKeys
from tokendesk.services.accounts import AccountService
from tokendesk.services.attention import AttentionService
from tokendesk.services.audit import AuditService
from tokendesk.services.audit_buffer import AuditBuffer
from tokendesk.services.auth import AuthService
from tokendesk.services.connections import ConnectionService
from tokendesk.services.desk.apply import DeskService
from tokendesk.services.egress import EgressService
from tokendesk.services.events import EventOutbox
from tokendesk.services.impact import ImpactService
from tokendesk.services.keyring import KeyRingService
from tokendesk.services.mail import MailService
from tokendesk.services.passwords import PRODUCTION_PASSWORDS, Passwords
from tokendesk.services.proxy import ProxyService
from tokendesk.services.sign_in import SignInLimits
from tokendesk.services.webhooks import WebhookService
from tokendesk.services.workload import WorkloadService
from tokendesk.storage.db import (
    READ_ONLY,
    create_db_engine,
    migrate,
    schema_needs_migrating,
    sqlite_path,
)
from tokendesk.storage.epoch import EpochReader, SharedEpochReads
from tokendesk.storage.faults import database_error
from tokendesk.storage.gauges import token_states
from tokendesk.storage.settings import KeyCheckRepository
from tokendesk.storage.tables import encryption_keys
from tokendesk.storage.webhooks import DeliveryRepository
from tokendesk.tokens.api_proxy import ApiProxy
from tokendesk.tokens.api_sender import ApiSender
from tokendesk.tokens.api_targets import ApiTargets
from tokendesk.tokens.background import BackgroundRefresher
from tokendesk.tokens.consent import ConsentService
from tokendesk.tokens.desk import DeskApplier
from tokendesk.tokens.handout import TokenService
from tokendesk.tokens.handout_cache import HandoutCache
from tokendesk.tokens.importing import TokenImporter
from tokendesk.tokens.issuer import IssuerDiscovery
from tokendesk.tokens.proxy_check import ProxyCheck
from tokendesk.tokens.refresh import LEASE_MARGIN_S, RefreshCoordinator
from tokendesk.tokens.removal import ConnectionRemoval
from tokendesk.tokens.revocations import RevocationQueue
from tokendesk.tokens.testing import ConnectionTester
from tokendesk.tokens.user_tokens import UserTokens
from tokendesk.tokens.vault import TokenVault
from tokendesk.tokens.workload import WorkloadIdentity

Clock = Callable[[], datetime]
INITIAL_ADMIN = "admin"
INITIAL_PASSWORD_FILE = "initial-admin-password"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tokendesk:
    """The running application: settings, database, key ring, catalog and use cases."""

    settings: Settings
    engine: Engine
    keyring: KeyRing
    catalog: Catalog
    clock: Clock
    metrics: Metrics
    audit: AuditService
    accounts: AccountService
    auth: AuthService
    connections: ConnectionService
    proxy: ProxyService
    egress: EgressService
    outbound: Outbound
    refresher: RefreshCoordinator
    tokens: TokenService
    consent: ConsentService
    tester: ConnectionTester
    discovery: IssuerDiscovery
    importer: TokenImporter
    revocations: RevocationQueue
    removal: ConnectionRemoval
    desk: DeskApplier
    audit_buffer: AuditBuffer
    hot: HandoutCache
    keys: KeyRingService
    background: BackgroundRefresher
    sign_in: SignInLimits  # counted in the database, so every replica sees the same failures
    events: EventOutbox
    webhooks: WebhookService
    deliverer: WebhookDeliverer
    proxy_check: ProxyCheck
    user_tokens: UserTokens  # a manager's view and revocation of one user's token
    attention: AttentionService
    workloads: WorkloadService  # trusted workload issuers and their rules
    workload_identity: WorkloadIdentity  # RFC 8693 token exchange, JWT bearers
    api_proxy: ApiProxy
    mail: MailService
    mailer: Mailer
    impact: ImpactService = field(default_factory=ImpactService)  # for confirmation pages

    def transaction(self, *, read_only: bool = False) -> AbstractContextManager[Tx]:
        """One database transaction: committed when the block ends, rolled back on error."""
        return _transaction(self.engine, read_only=read_only)

    def observe_gauges(self) -> None:
        """Set the gauges read from the database: tokens by connection and state, webhook
        deliveries by outcome, each connection's nearest forecast."""
        with self.transaction(read_only=True) as tx:
            self.metrics.set_token_states(token_states(tx))
            self.metrics.set_deliveries(DeliveryRepository(tx).counts_by_state())
            nearest = self.attention.nearest_forecasts(tx)
        now = self.clock()
        self.metrics.set_nearest_forecasts({
            name: (forecast.kind.value, (forecast.due_at - now).total_seconds())
            for name, forecast in nearest.items()
        })

    def close(self) -> None:
        self.background.stop()
        self.deliverer.stop()
        self.mailer.stop()
        self.hot.epochs.close()
        self.audit_buffer.close()
        self.outbound.close()
        self.engine.dispose()


def build(
    settings: Settings,
    *,
    create_missing: bool = True,
    clock: Clock = utc_now,
    outbound: Outbound | None = None,
    migrate_schema: bool = True,
    passwords: Passwords = PRODUCTION_PASSWORDS,
    webhook_outbound: Outbound | None = None,
) -> Tokendesk:
    """Open (and on first start create) the database and the key ring, and wire the services.

    ``migrate_schema`` brings an older schema up to date; without it an older schema is
    refused (an empty one is still created with ``create_missing``, the first set-up).

    Raises EncryptionKeyError, without changing anything, when the key ring does not belong
    to the database; SchemaBehind or SchemaAhead, without changing anything, for a schema
    this version may not use; ConfigurationError for unusable settings. ``passwords`` is the
    production argon2id hasher; only code (tests) passes a cheaper one, never a setting.
    """
    database_file = sqlite_path(settings.effective_database_url)
    if not create_missing and database_file is not None and not database_file.exists():
        # Fail closed, and change nothing: a typo in the data folder must not start afresh.
        raise ConfigurationError(
            f"There is no Tokendesk database at {database_file}; "
            "run `tokendesk init` or check TOKENDESK_DATA_DIR."
        )
    engine = create_db_engine(settings.effective_database_url)
    try:
        pending = schema_needs_migrating(engine, upgrade=migrate_schema, create=create_missing)
        keyring = _open_keyring(settings, engine, create_missing=create_missing)
        if pending:
            migrate(engine)
        catalog = load_catalog()
        app = _wire(
            settings,
            engine,
            keyring,
            catalog,
            clock,
            outbound
            or Outbound(
                verify=_trust(settings), policy=EgressPolicy.parse(settings.egress_allowlist),
                total_deadline_s=settings.provider_timeout_s,
            ),
            passwords,
            webhook_outbound
            or Outbound(
                verify=_trust(settings), policy=EgressPolicy.parse(settings.egress_allowlist),
                total_deadline_s=settings.webhook_timeout_s,
            ),
        )
        with app.transaction() as tx:
            _record_key_checks(tx, keyring, clock())
            app.accounts.ensure_system_roles(tx)
        return app
    except BaseException:
        engine.dispose()
        raise


def _wire(
    settings: Settings,
    engine: Engine,
    keyring: KeyRing,
    catalog: Catalog,
    clock: Clock,
    outbound: Outbound,
    passwords: Passwords = PRODUCTION_PASSWORDS,
    webhook_outbound: Outbound | None = None,
) -> Tokendesk:
    metrics = Metrics()
    audit = AuditService(clock)
    accounts = AccountService(audit, clock, passwords)
    egress = EgressService(settings.egress_allowlist, audit, clock)
    events = EventOutbox(clock)
    connections = ConnectionService(
        catalog, keyring, accounts, audit, clock, settings.allow_http_loopback, egress, events
    )
    webhooks = WebhookService(keyring, audit, clock, egress, settings.allow_http_loopback)
    proxy = ProxyService(keyring, audit, clock, egress)
    oauth = OAuthClient(outbound, clock)

    @contextmanager
    def transaction(*, read_only: bool = False) -> Iterator[Tx]:
        with _transaction(engine, read_only=read_only) as tx:
            yield tx

    refresher = RefreshCoordinator(
        transaction, keyring, oauth, connections, proxy, audit, metrics, clock,
        lease_s=settings.provider_timeout_s + LEASE_MARGIN_S,
    )
    revocations = RevocationQueue(transaction, keyring, oauth, proxy, clock)
    audit_buffer = AuditBuffer(transaction)
    audit.deferred = audit_buffer.add  # refused changes are audited through the writer
    tokens = TokenService(
        transaction,
        connections,
        refresher,
        TokenVault(keyring),
        oauth,
        proxy,
        audit,
        metrics,
        clock,
        settings.public_url,
        revocations,
        audit_buffer,
    )
    auth = AuthService(accounts, audit, clock, settings.session_max_age_s, audit_buffer)
    removal = ConnectionRemoval(transaction, connections, revocations)
    keyring_file = None if settings.encryption_keys else settings.keyring_path
    keys = KeyRingService(transaction, keyring, keyring_file, clock)
    workloads = WorkloadService(accounts, audit, clock)
    consent = ConsentService(
        transaction,
        keyring,
        connections,
        tokens,
        oauth,
        proxy,
        audit,
        clock,
        settings.public_url,
        settings.callback_url,
    )
    attention = AttentionService(catalog, clock, settings.attention_horizon_days)
    mail = MailService(keyring, audit, clock, settings.public_url, egress)
    # Two consumers of the outbox: each event handed out once becomes its deliveries and
    # its e-mails in one transaction, whichever of the deliverer and the mailer runs it.
    dispatcher = OutboxDispatcher(transaction, [webhooks.fan_out, mail.fan_out], clock)
    deliverer = WebhookDeliverer(
        transaction,
        dispatcher,
        webhooks,
        proxy,
        webhook_outbound or outbound,
        metrics,
        clock,
        poll_s=settings.webhook_poll_s,
        forecasts=ForecastNotifier(transaction, attention, events, clock,
                                   interval_s=settings.forecast_poll_s),
    )
    hot = HandoutCache(transaction, auth, tokens, clock, _epoch_reads(engine))
    return Tokendesk(
        settings=settings,
        engine=engine,
        keyring=keyring,
        catalog=catalog,
        clock=clock,
        metrics=metrics,
        audit=audit,
        accounts=accounts,
        auth=auth,
        connections=connections,
        proxy=proxy,
        egress=egress,
        outbound=outbound,
        refresher=refresher,
        tokens=tokens,
        consent=consent,
        tester=ConnectionTester(transaction, connections, consent, tokens, oauth, proxy, audit),
        discovery=IssuerDiscovery(transaction, outbound, proxy),
        importer=TokenImporter(transaction, connections, accounts, tokens, oauth, proxy, audit),
        revocations=revocations,
        removal=removal,
        desk=DeskApplier(
            transaction,
            DeskService(accounts, connections, egress, proxy, audit, webhooks, mail,
                        workloads),
            removal,
        ),
        audit_buffer=audit_buffer,
        hot=hot,
        keys=keys,
        sign_in=SignInLimits(transaction, clock),
        events=events,
        webhooks=webhooks,
        deliverer=deliverer,
        proxy_check=ProxyCheck(transaction, proxy, outbound, audit,
                               allow_http_loopback=settings.allow_http_loopback),
        user_tokens=UserTokens(transaction, connections, tokens, revocations, audit),
        attention=attention,
        workloads=workloads,
        workload_identity=WorkloadIdentity(
            transaction, workloads, WorkloadKeys(outbound, clock), proxy, auth, tokens, audit,
            audit_buffer, clock, settings.public_url),
        api_proxy=ApiProxy(
            tokens, hot, ApiTargets(transaction, connections, proxy),
            ApiSender(settings.proxy_timeout_s, verify=outbound.verify), audit, audit_buffer,
            metrics, clock, per_minute=settings.proxy_rate_limit_per_minute,
            max_body_bytes=settings.proxy_max_body_bytes,
        ),
        mail=mail,
        mailer=Mailer(
            transaction, dispatcher, mail, metrics, clock, tls=_tls_context(settings),
            timeout_s=settings.smtp_timeout_s, poll_s=settings.webhook_poll_s,
        ),
        background=BackgroundRefresher(
            transaction, refresher, clock, revocations, keys,
            per_host=settings.refresh_per_host_concurrency,
        ),
    )


def _epoch_reads(engine: Engine) -> SharedEpochReads:
    # An embedded SQLite file answers in microseconds: read on the event loop. A database
    # server costs a round trip: read off the loop, shared by concurrent requests.
    return SharedEpochReads(EpochReader(engine), offload=engine.dialect.name != "sqlite")


@contextmanager
def _transaction(engine: Engine, *, read_only: bool = False) -> Iterator[Tx]:
    """One database transaction: committed when the block ends, rolled back on error."""
    try:
        with engine.connect() as conn:
            if read_only:
                conn = conn.execution_options(**{READ_ONLY: True})
            with conn.begin():
                yield conn
    except OperationalError as exc:
        raise database_error(exc) from exc
    except IntegrityError:
        # The checks before each write passed, so another request changed the same rows.
        raise Conflict(
            "Someone changed the same thing at the same moment (for example, "
            "created the same name); reload and try again."
        ) from None


def _trust(settings: Settings) -> ssl.SSLContext | bool:
    """Verification is always on; a CA bundle adds trust for internal identity providers."""
    if settings.ca_bundle is None:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=str(settings.ca_bundle))
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            f"TOKENDESK_CA_BUNDLE {settings.ca_bundle} is not a readable PEM file: {exc}"
        ) from None
    return context


def _tls_context(settings: Settings) -> ssl.SSLContext:
    """STARTTLS to the SMTP server verifies its certificate, as every outbound call does."""
    trust = _trust(settings)
    return trust if isinstance(trust, ssl.SSLContext) else ssl.create_default_context()


def _open_keyring(settings: Settings, engine: Engine, *, create_missing: bool) -> KeyRing:
    stored = _stored_key_checks(engine)
    spec = settings.encryption_keys.get_secret_value() if settings.encryption_keys else None
    # Fail closed: a database that already holds ciphertexts never gets a fresh key ring.
    keyring, _created = load_or_create_keyring(
        settings.keyring_path, spec, create=create_missing and not stored
    )
    keyring.verify_check_values(stored)
    return keyring


def _stored_key_checks(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        if not inspect(conn).has_table(encryption_keys.name):
            return {}
        return KeyCheckRepository(conn).all()


def _record_key_checks(tx: Tx, keyring: KeyRing, now: datetime) -> None:
    repo = KeyCheckRepository(tx)
    known = repo.all()
    for key_id, check in keyring.check_values().items():
        if key_id not in known:
            repo.add(key_id, check, now)


def forget_initial_password(app: Tokendesk) -> bool:
    """Remove ``<data_dir>/initial-admin-password`` once the administrator chose his own
    password: the generated one no longer works and need not lie around. Returns whether a
    file was removed."""
    path = app.settings.data_dir / INITIAL_PASSWORD_FILE
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def ensure_first_administrator(app: Tokendesk) -> Path | None:
    """On an empty installation create ``admin`` with a random password.

    The password is written to ``<data_dir>/initial-admin-password`` (mode 0600), never
    printed or logged. Returns that path, or None when users already exist.
    """
    from tokendesk.storage.accounts import UserRepository

    with app.transaction() as tx:
        if UserRepository(tx).count():
            return None
        password = secrets.token_urlsafe(18)
        admin = app.accounts.bootstrap_admin(tx, command_line_principal(), INITIAL_ADMIN,
                                             password)
        # A generated password is read from a file: the first sign-in must replace it.
        UserRepository(tx).update(admin.id, {"password_change_required": True})
        path = app.settings.data_dir / INITIAL_PASSWORD_FILE
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
    return path
