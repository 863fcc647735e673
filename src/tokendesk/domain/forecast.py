"""Forecasts: when a token will need a person's consent again, and when a connection's client
credential runs out, each with where the figure comes from. Pure: no I/O, no clock read.

A forecast is a promise about the future drawn from facts Tokendesk holds: what the provider
said when it issued the refresh token (``refresh_token_expires_in`` and kin), what the
provider documents (the catalog's ``[refresh_token]`` lifetimes), what an administrator
entered (the client secret's expiry date) and what the certificate says (its notAfter).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from tokendesk.domain.client_keys import certificate_info
from tokendesk.domain.connections import Connection, GrantType
from tokendesk.domain.tokens import StoredToken, TokenStatus
from tokendesk.errors import ValidationError


class ForecastKind(StrEnum):
    """What will happen."""

    # The refresh token will stop working: a person must consent again by then.
    CONSENT_NEEDED = "consent_needed"
    # The client secret an administrator entered the expiry of runs out.
    SECRET_EXPIRES = "secret_expires"
    # The private_key_jwt certificate runs out.
    CERTIFICATE_EXPIRES = "certificate_expires"


class ForecastSource(StrEnum):
    """Where the date comes from."""

    PROVIDER_SAID = "provider_said"
    DOCUMENTED_INACTIVITY = "documented_inactivity"
    DOCUMENTED_ABSOLUTE = "documented_absolute"
    ADMINISTRATOR = "administrator"
    CERTIFICATE = "certificate"


@dataclass(frozen=True, slots=True)
class DocumentedLifetimes:
    """What a provider documents about its refresh tokens (the catalog's ``[refresh_token]``),
    in the domain's terms: days, who documents it, and the page that says so."""

    documented_by: str
    source_url: str
    absolute_days: int | None = None
    inactivity_days: int | None = None


@dataclass(frozen=True, slots=True)
class Forecast:
    """One date by which something will stop working, and where the date comes from.

    ``source_words`` say it in plain words ("Atlassian documents 90 days unused");
    ``source_url`` is the documentation page when the figure is documented.
    """

    kind: ForecastKind
    due_at: datetime
    source: ForecastSource
    source_words: str
    source_url: str | None = None

    @property
    def words(self) -> str:
        """The forecast as a sentence: "Consent needed by 2027-03-01 (the provider said)."""
        day = self.due_at.astimezone(UTC).date().isoformat()
        what = {
            ForecastKind.CONSENT_NEEDED: f"Consent needed by {day}",
            ForecastKind.SECRET_EXPIRES: f"Client secret expires on {day}",
            ForecastKind.CERTIFICATE_EXPIRES: f"Client certificate expires on {day}",
        }[self.kind]
        return f"{what} ({self.source_words})."


def token_forecasts(
    token: StoredToken, connection: Connection, lifetimes: DocumentedLifetimes | None
) -> list[Forecast]:
    """Every date by which ``token`` will need a new consent, earliest first.

    None for a token that cannot be refreshed (client credentials are requested anew, a token
    without a refresh token or one already refused needs consent now, not later). The
    inactivity lifetime counts from the refresh token's last use (its last successful
    refresh, or its issue); the absolute lifetime from the consent (for a row stored before
    consent times were kept: from when the token was first stored, the earliest it can be).
    """
    if (
        connection.grant_type is GrantType.CLIENT_CREDENTIALS
        or not token.has_refresh_token
        or token.status is not TokenStatus.VALID
    ):
        return []
    found: list[Forecast] = []
    if token.refresh_expires_at is not None:
        found.append(Forecast(ForecastKind.CONSENT_NEEDED, token.refresh_expires_at,
                              ForecastSource.PROVIDER_SAID, "the provider said"))
    if lifetimes is not None:
        found.extend(_documented(token, lifetimes))
    return sorted(found, key=lambda f: f.due_at)


def _documented(token: StoredToken, lifetimes: DocumentedLifetimes) -> list[Forecast]:
    found: list[Forecast] = []
    last_used = token.last_refresh_at or token.issued_at
    if lifetimes.inactivity_days and last_used is not None:
        found.append(Forecast(
            ForecastKind.CONSENT_NEEDED,
            last_used + timedelta(days=lifetimes.inactivity_days),
            ForecastSource.DOCUMENTED_INACTIVITY,
            f"{lifetimes.documented_by} documents {lifetimes.inactivity_days} days unused",
            lifetimes.source_url,
        ))
    if lifetimes.absolute_days:
        found.append(Forecast(
            ForecastKind.CONSENT_NEEDED,
            (token.consented_at or token.created_at) + timedelta(days=lifetimes.absolute_days),
            ForecastSource.DOCUMENTED_ABSOLUTE,
            f"{lifetimes.documented_by} documents {lifetimes.absolute_days} days after consent",
            lifetimes.source_url,
        ))
    return found


def connection_forecasts(connection: Connection) -> list[Forecast]:
    """When the connection's client credential runs out, earliest first: the client secret's
    expiry date an administrator entered (taken as the start of that day, UTC), and the
    certificate's notAfter when the connection signs with a key (private_key_jwt)."""
    found: list[Forecast] = []
    if connection.client_secret_expires_on is not None and connection.has_client_secret:
        found.append(Forecast(
            ForecastKind.SECRET_EXPIRES, start_of(connection.client_secret_expires_on),
            ForecastSource.ADMINISTRATOR, "entered by an administrator",
        ))
    expires = certificate_expiry(connection.client_certificate)
    if expires is not None and connection.has_client_key:
        found.append(Forecast(
            ForecastKind.CERTIFICATE_EXPIRES, expires, ForecastSource.CERTIFICATE,
            "read from the certificate",
        ))
    return sorted(found, key=lambda f: f.due_at)


def certificate_expiry(pem: str | None) -> datetime | None:
    """The notAfter of a stored certificate; None without one (or one no longer readable,
    which its check when stored makes impossible)."""
    if not pem:
        return None
    try:
        return certificate_info(pem).not_after
    except ValidationError:
        return None


def start_of(day: date) -> datetime:
    """Midnight UTC at the start of ``day``: a secret that "expires on" a day may stop
    working at any time on it."""
    return datetime.combine(day, time.min, tzinfo=UTC)


def earliest(forecasts: Iterable[Forecast]) -> Forecast | None:
    """The forecast due first, or None."""
    return min(forecasts, key=lambda f: f.due_at, default=None)


def within(forecast: Forecast, now: datetime, horizon: timedelta) -> bool:
    """True when ``forecast`` falls due before ``now + horizon`` (or already has)."""
    return forecast.due_at <= now + horizon
