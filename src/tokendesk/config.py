"""Settings, read from the environment (``TOKENDESK_`` prefix) at startup, never at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from tokendesk.domain.sign_in import parse_trusted_proxies
from tokendesk.errors import ConfigurationError, TokendeskError

CALLBACK_PATH = "/oauth/callback"

# Values people paste from examples; a secret that equals one of these is refused outright.
PLACEHOLDER_SECRETS = frozenset(
    {"changeme", "change-me", "secret", "password", "example", "xxx", "todo", "replace-me"}
)


class Settings(BaseSettings):
    """Everything an operator can set. Build with :func:`load_settings`."""

    model_config = SettingsConfigDict(env_prefix="TOKENDESK_", extra="ignore", frozen=True)

    data_dir: Path = Field(
        default=Path("data"), description="Folder for the SQLite file and key ring."
    )
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; default is a SQLite file in the data folder."
    )
    public_url: str = Field(
        default="",
        description="Base URL people and providers reach Tokendesk at; the callback derives from "
        "it. Default: http://<host>:<port>.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8400, ge=1, le=65535)
    encryption_keys: SecretStr | None = Field(
        default=None,
        description="Key ring as 'id:base64key[,id:base64key...]' (last is active); "
        "default is the key ring file in the data folder.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["human", "json"] = "human"
    allow_http_loopback: bool = Field(
        default=False,
        description="Development only: accept plain-http provider URLs on loopback addresses.",
    )
    session_max_age_s: int = Field(default=8 * 3600, ge=60)
    egress_allowlist: str = Field(
        default="",
        description="Host names and CIDR ranges Tokendesk may call although they are loopback, "
        "private or link-local (on-premises identity providers), comma-separated.",
    )
    ca_bundle: Path | None = Field(
        default=None, description="PEM file of extra CAs trusted for providers' TLS."
    )
    provider_timeout_s: float = Field(
        default=20.0, gt=0, le=120,
        description="Total deadline of one call to a provider; the refresh lease is 10 s longer.",
    )
    background_refresh: bool = Field(
        default=True, description="Refresh tokens nearing expiry in the background."
    )
    trusted_proxies: str = Field(
        default="",
        description="Addresses and CIDR ranges of reverse proxies whose X-Forwarded-For is "
        "believed (for the sign-in limiter), comma-separated; none by default.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="Bearer token /metrics asks for; without it /metrics is open to anyone "
        "who can reach the server.",
    )
    attention_horizon_days: int = Field(
        default=14, ge=0, le=366,
        description="The attention list shows what will need consent or a new client secret "
        "within this many days (GET /api/v1/attention?horizon_days= overrides it).",
    )
    refresh_per_host_concurrency: int = Field(
        default=4, ge=1, le=64,
        description="At most this many background refresh calls in flight to one provider "
        "host from one Tokendesk process (N replicas: at most N times this).",
    )
    proxy_rate_limit_per_minute: int = Field(
        default=600, ge=1, le=1_000_000,
        description="API proxy: at most this many calls a minute to each connection's API "
        "from one Tokendesk process; more are answered 429 with Retry-After.",
    )
    proxy_max_body_bytes: int = Field(
        default=200_000_000, ge=1,
        description="API proxy: the largest request or response body passed through.",
    )
    proxy_timeout_s: float = Field(
        default=60.0, gt=0, le=3600,
        description="API proxy: how long the API may take to connect, to answer, and "
        "between two pieces of a body.",
    )

    webhook_delivery: bool = Field(
        default=True,
        description="Send webhook deliveries from this process (safe on every replica: each "
        "delivery is sent by one of them).",
    )
    webhook_timeout_s: float = Field(
        default=10.0, gt=0, le=60,
        description="Total deadline of one call to a webhook receiver.",
    )
    smtp_timeout_s: float = Field(
        default=20.0, gt=0, le=120,
        description="Deadline of each step (connect, STARTTLS, sign-in, send) of one e-mail "
        "to the SMTP server.",
    )
    webhook_poll_s: float = Field(
        default=2.0, gt=0, le=60,
        description="How often the deliverer looks for events and deliveries due.",
    )
    forecast_poll_s: float = Field(
        default=300.0, gt=0, le=86400,
        description="How often each process looks for forecasts inside the attention horizon "
        "to tell webhook receivers of (token.expiring, connection.credentials_expiring).",
    )

    @field_validator("public_url")
    @classmethod
    def _public_url_is_absolute(cls, value: str) -> str:
        if not value:
            return value
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                "must be an absolute http(s) URL such as https://tokendesk.example.com"
            )
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query string or fragment")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_addresses(cls, value: str) -> str:
        try:
            parse_trusted_proxies(value)
        except TokendeskError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("metrics_token")
    @classmethod
    def _metrics_token_is_strong(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().strip()) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _no_placeholder_keys(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and value.get_secret_value().strip().lower() in PLACEHOLDER_SECRETS:
            raise ValueError("is a placeholder; generate a key with `tokendesk keys generate`")
        return value

    @model_validator(mode="after")
    def _public_https_unless_local(self) -> Settings:
        if not self.public_url:
            host = f"[{self.host}]" if ":" in self.host else self.host
            object.__setattr__(self, "public_url", f"http://{host}:{self.port}")
        parts = urlsplit(self.public_url)
        # Fail closed: session cookies and the OAuth callback must not cross the network in clear.
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("public_url must use https unless it is a loopback address")
        return self

    @property
    def callback_url(self) -> str:
        """The shared redirect URI ``<public_url>/oauth/callback``: of connections created before
        migration 0008; each newer one has its own under it (see Connection.callback_url)."""
        return self.public_url + CALLBACK_PATH

    @property
    def secure_cookies(self) -> bool:
        return self.public_url.startswith("https://")

    @property
    def effective_database_url(self) -> str:
        """The database URL, defaulting to ``<data_dir>/tokendesk.sqlite3``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'tokendesk.sqlite3').as_posix()}"

    @property
    def keyring_path(self) -> Path:
        return self.data_dir / "keyring.json"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment (plus explicit overrides).

    Raises ConfigurationError with the offending variable named.
    """
    from pydantic import ValidationError as PydanticValidationError

    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except PydanticValidationError as exc:
        first = exc.errors()[0]
        name = "TOKENDESK_" + str(first["loc"][0]).upper() if first["loc"] else "TOKENDESK_*"
        raise ConfigurationError(f"{name} {first['msg']}") from None
