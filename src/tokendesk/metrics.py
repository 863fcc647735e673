"""Prometheus metrics, each app instance with its own registry (built at startup)."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

# Label values come from code, but an unexpected one (an error message, a URL) must not
# blow up the number of time series: anything that is not a short identifier is "other".
_LABEL_RE = re.compile(r"^[a-z0-9_.-]{1,40}$")

PROVIDER_FAILURE_KINDS = (
    "timeout",
    "dns",
    "connect",
    "tls",
    "proxy",
    "http_4xx",
    "http_5xx",
    "invalid_response",
    "invalid_request",
    "invalid_grant",
    "invalid_client",
    "invalid_scope",
    "unauthorized_client",
    "unsupported_grant_type",
    "other",
)


def label(value: str) -> str:
    """``value`` if it is a short lowercase identifier, else ``"other"``."""
    return value if _LABEL_RE.match(value) else "other"


class Metrics:
    """The counters and histograms Tokendesk exposes at ``/metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.http_requests = Counter(
            "http_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.http_request_duration = Histogram(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template.",
            ["route"],
            registry=self.registry,
        )
        self.token_handouts = Counter(
            "token_handouts_total",
            "Access tokens handed out, by token kind (shared, user) and outcome.",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.token_refreshes = Counter(
            "token_refreshes_total",
            "Token refreshes attempted, by outcome.",
            ["outcome"],
            registry=self.registry,
        )
        self.provider_failures = Counter(
            "provider_failures_total",
            "Failed calls to authorization servers, by kind (timeout, dns, tls, proxy, ...).",
            ["kind"],
            registry=self.registry,
        )
        self.proxy_calls = Counter(
            "proxy_calls_total",
            "Calls made through the API proxy, by connection (its id) and the status answered.",
            ["connection", "status"],
            registry=self.registry,
        )

        self.webhook_deliveries = Counter(
            "webhook_delivery_attempts_total",
            "Webhook delivery attempts by this process, by outcome (delivered, retrying, "
            "gave_up).",
            ["outcome"],
            registry=self.registry,
        )
        self.email_attempts = Counter(
            "email_attempts_total",
            "E-mail notification attempts by this process, by outcome (sent, retrying, "
            "gave_up).",
            ["outcome"],
            registry=self.registry,
        )
        # Gauges read from the database when /metrics is asked (every replica says the same).
        self.tokens = Gauge(
            "tokens",
            "Tokens by connection and state (valid, backing_off, needs_reauthentication, "
            "corrupted, misconfigured).",
            ["connection", "state"],
            registry=self.registry,
        )
        self.forecasts = Gauge(
            "connection_forecast_seconds",
            "Seconds until each connection's nearest forecast falls due: a token will need "
            "consent again (consent_needed) or the client secret or certificate runs out "
            "(secret_expires, certificate_expires); negative once past.",
            ["connection", "kind"],
            registry=self.registry,
        )
        self.deliveries = Gauge(
            "webhook_deliveries",
            "Webhook deliveries by outcome so far (pending, delivered, failed).",
            ["outcome"],
            registry=self.registry,
        )

        self._request_children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self._handout_children: dict[tuple[str, str], Any] = {}

    def observe_request(self, method: str, route: str, status: int, duration_s: float) -> None:
        """Count one answered request.

        ``route`` is the route template (``/api/v1/connections/{name}``), never the raw path,
        so the number of series stays bounded.
        """
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:  # labels() takes a lock and builds a tuple: look it up once
            children = (
                self.http_requests.labels(method=method.upper(), route=route, status=str(status)),
                self.http_request_duration.labels(route=route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(duration_s)

    def handout(self, kind: str, outcome: str) -> None:
        """Count one token handout (``outcome`` such as ok, refreshed, needs_consent)."""
        child = self._handout_children.get((kind, outcome))
        if child is None:
            child = self.token_handouts.labels(kind=label(kind), outcome=label(outcome))
            self._handout_children[(kind, outcome)] = child
        child.inc()

    def refresh(self, outcome: str) -> None:
        """Count one refresh attempt (``outcome`` such as ok, failed, skipped)."""
        self.token_refreshes.labels(outcome=label(outcome)).inc()

    def provider_failure(self, kind: str) -> None:
        """Count one failed call to a provider, ``kind`` from :data:`PROVIDER_FAILURE_KINDS`."""
        self.provider_failures.labels(kind=label(kind)).inc()

    def webhook_delivery(self, outcome: str) -> None:
        """Count one webhook delivery attempt (delivered, retrying, gave_up)."""
        self.webhook_deliveries.labels(outcome=label(outcome)).inc()

    def email_attempt(self, outcome: str) -> None:
        """Count one attempt at an e-mail notification (sent, retrying, gave_up)."""
        self.email_attempts.labels(outcome=label(outcome)).inc()

    def set_token_states(self, counts: dict[tuple[str, str], int]) -> None:
        """Set the token gauge to ``counts`` by (connection name, state), forgetting
        connections and states that have none any more. Connection names are not squeezed
        through :func:`label`: administrators name them, so the series stay few."""
        self.tokens.clear()
        for (connection, state), count in counts.items():
            self.tokens.labels(connection=connection, state=label(state)).set(count)

    def set_deliveries(self, counts: dict[str, int]) -> None:
        """Set the deliveries gauge to ``counts`` by outcome (pending, delivered, failed)."""
        for outcome in ("pending", "delivered", "failed"):
            self.deliveries.labels(outcome=outcome).set(counts.get(outcome, 0))

    def proxied(self, connection_id: str, status: int) -> None:
        """Count one call through the API proxy to connection ``connection_id``."""
        self.proxy_calls.labels(connection=label(connection_id), status=str(status)).inc()

    def set_nearest_forecasts(self, nearest: dict[str, tuple[str, float]]) -> None:
        """Set the forecast gauge to ``nearest``: by connection name, what its nearest
        forecast is (a ForecastKind value) and in how many seconds it falls due; forgetting
        connections that have none any more."""
        self.forecasts.clear()
        for connection, (kind, seconds) in nearest.items():
            self.forecasts.labels(connection=connection, kind=label(kind)).set(seconds)

    def render(self) -> tuple[bytes, str]:
        """The exposition body and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
