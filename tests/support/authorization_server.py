"""A real, independent OAuth 2.0 authorization server for end-to-end tests.

The server is ``oidc-provider`` (npm, pinned in ``package.json``) configured by
``tests/e2e/authorization_server/server.mjs`` and run by Node.js as a subprocess on
127.0.0.1. This module starts and stops it, talks to its test-only admin API (statistics,
request log, fault injection, runtime clients and settings), and completes the login and
consent of an authorization request headlessly (:func:`complete_consent`).

Tests normally use the fixtures of ``tests/e2e/conftest.py`` rather than this module
directly; see ``tests/e2e/authorization_server/README.md`` for the whole story.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import secrets
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SERVER_SCRIPT = REPO_ROOT / "tests" / "e2e" / "authorization_server" / "server.mjs"
OIDC_PROVIDER_PACKAGE = REPO_ROOT / "node_modules" / "oidc-provider" / "package.json"
MIN_NODE_MAJOR = 20

DEFAULT_USER = "alice"
DEFAULT_RESOURCE = "https://api.tokendesk.test"
DEFAULT_API_SCOPES = ("api:read", "api:write")
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/oauth/callback"
STARTUP_TIMEOUT_S = 20.0
STOP_TIMEOUT_S = 5.0
ADMIN_TIMEOUT_S = 10.0

AUTHORIZATION_CODE = "authorization_code"
REFRESH_TOKEN = "refresh_token"
CLIENT_CREDENTIALS = "client_credentials"


# --- availability --------------------------------------------------------------------------


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


@lru_cache(maxsize=1)
def unavailable_reason() -> str | None:
    """Why the authorization server cannot run here, or None when it can."""
    node = shutil.which("node")
    if node is None:
        return "Node.js (`node`) is not on PATH; the end-to-end authorization server needs it"
    try:
        version = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
        major = int(version.lstrip("v").split(".")[0])
    except (OSError, subprocess.SubprocessError, ValueError) as exc:
        return f"cannot run `node --version`: {exc}"
    if major < MIN_NODE_MAJOR:
        return f"Node.js {version} is too old; the authorization server needs {MIN_NODE_MAJOR}+"
    if not OIDC_PROVIDER_PACKAGE.is_file():
        return (
            "the npm package oidc-provider is not installed (node_modules/oidc-provider is "
            "missing); run `npm ci` at the repository root, or scripts/test which does it"
        )
    return None


def require_authorization_server() -> None:
    """Skip the calling test when the server cannot run here; fail it instead under CI."""
    reason = unavailable_reason()
    if reason is None:
        return
    if in_ci():
        pytest.fail(reason + " -- the end-to-end tests must run in CI", pytrace=False)
    pytest.skip(reason)


# --- clients -------------------------------------------------------------------------------


def _new_secret(client_id: str) -> str:
    return f"as-{client_id}-{secrets.token_urlsafe(18)}"


def fingerprint(value: str) -> str:
    """How the request log names a token: the first 16 hex digits of its SHA-256."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Client:
    """A client registered at the authorization server (RFC 7591 metadata, plus PKCE)."""

    client_id: str
    client_secret: str | None
    grant_types: tuple[str, ...]
    redirect_uris: tuple[str, ...] = ()
    token_endpoint_auth_method: str = "client_secret_basic"
    scope: str | None = None
    require_pkce: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "client_id": self.client_id,
            "grant_types": list(self.grant_types),
            "redirect_uris": list(self.redirect_uris),
            "response_types": ["code"] if AUTHORIZATION_CODE in self.grant_types else [],
            "token_endpoint_auth_method": self.token_endpoint_auth_method,
            "require_pkce": self.require_pkce,
            **self.extra,
        }
        if self.client_secret is not None:
            doc["client_secret"] = self.client_secret
        if self.scope is not None:
            doc["scope"] = self.scope
        return doc

    def auth(self) -> tuple[httpx.Auth | None, dict[str, str]]:
        """(httpx auth, extra form fields) authenticating this client at the token endpoint."""
        if self.token_endpoint_auth_method == "client_secret_basic":
            # RFC 6749 section 2.3.1: form-encode both before base64 (httpx does not).
            from urllib.parse import quote_plus

            assert self.client_secret is not None
            return httpx.BasicAuth(quote_plus(self.client_id), quote_plus(self.client_secret)), {}
        if self.token_endpoint_auth_method == "client_secret_post":
            assert self.client_secret is not None
            return None, {"client_id": self.client_id, "client_secret": self.client_secret}
        return None, {"client_id": self.client_id}


def authorization_code_client(
    client_id: str,
    redirect_uris: Iterable[str],
    *,
    client_secret: str | None = None,
    auth_method: str = "client_secret_basic",
    require_pkce: bool = False,
    scope: str | None = None,
) -> Client:
    """A confidential client for the authorization code flow (with refresh tokens)."""
    return Client(
        client_id=client_id,
        client_secret=client_secret or _new_secret(client_id),
        grant_types=(AUTHORIZATION_CODE, REFRESH_TOKEN),
        redirect_uris=tuple(redirect_uris),
        token_endpoint_auth_method=auth_method,
        scope=scope,
        require_pkce=require_pkce,
    )


def client_credentials_client(
    client_id: str,
    *,
    client_secret: str | None = None,
    auth_method: str = "client_secret_basic",
    scope: str | None = " ".join(DEFAULT_API_SCOPES),
) -> Client:
    """A confidential client for the client credentials grant."""
    return Client(
        client_id=client_id,
        client_secret=client_secret or _new_secret(client_id),
        grant_types=(CLIENT_CREDENTIALS,),
        token_endpoint_auth_method=auth_method,
        scope=scope,
    )


def private_key_jwt_client(
    client_id: str,
    public_jwk: Mapping[str, Any],
    *,
    grant_types: tuple[str, ...] = (CLIENT_CREDENTIALS,),
    redirect_uris: Iterable[str] = (),
    scope: str | None = " ".join(DEFAULT_API_SCOPES),
) -> Client:
    """A client that authenticates with signed assertions (RFC 7523, ``private_key_jwt``),
    its public key registered as ``jwks`` (RFC 7591 §2); it has no secret."""
    return Client(
        client_id=client_id,
        client_secret=None,
        grant_types=grant_types,
        redirect_uris=tuple(redirect_uris),
        token_endpoint_auth_method="private_key_jwt",
        scope=scope,
        extra={"jwks": {"keys": [dict(public_jwk)]}},
    )


def default_clients(redirect_uris: Iterable[str]) -> list[Client]:
    """The clients a server starts with unless told otherwise (fresh secrets each time).

    ``code-basic`` / ``code-post``: authorization code + refresh, ``client_secret_basic`` /
    ``client_secret_post``, PKCE allowed; ``code-pkce``: the same with PKCE required;
    ``cc-basic`` / ``cc-post``: client credentials with ``api:read api:write``.
    """
    uris = tuple(redirect_uris)
    return [
        authorization_code_client("code-basic", uris),
        authorization_code_client("code-post", uris, auth_method="client_secret_post"),
        authorization_code_client("code-pkce", uris, require_pkce=True),
        client_credentials_client("cc-basic"),
        client_credentials_client("cc-post", auth_method="client_secret_post"),
    ]


# --- the server ----------------------------------------------------------------------------


class AuthorizationServerError(RuntimeError):
    """The authorization server could not be started or answered its admin API badly."""


class AuthorizationServer:
    """oidc-provider in a Node.js subprocess on 127.0.0.1; see the module docstring."""

    def __init__(self, *, log_dir: Path | None = None) -> None:
        self._log_dir = log_dir
        self._process: subprocess.Popen[str] | None = None
        self._log_path: Path | None = None
        self._stdout_lines: queue.Queue[str | None] = queue.Queue()
        self._reader: threading.Thread | None = None
        self._admin_http: httpx.Client | None = None
        self.issuer = ""
        self.port = 0
        self.metadata: dict[str, Any] = {}
        self.clients: dict[str, Client] = {}
        self.options: dict[str, Any] = {}

    # -- lifecycle --------------------------------------------------------------------------

    def start(
        self,
        clients: Iterable[Client | Mapping[str, Any]] | None = None,
        *,
        redirect_uris: Iterable[str] = (DEFAULT_REDIRECT_URI,),
        access_token_ttl_s: int = 60,
        refresh_token_ttl_s: int = 14 * 24 * 3600,
        authorization_code_ttl_s: int = 60,
        auto_approve_user: str | None = DEFAULT_USER,
        always_login: bool = True,
        refresh_token_policy: str = "offline_access",
        rotate_refresh_token: bool = True,
        access_token_format: str = "opaque",
        resource: str = DEFAULT_RESOURCE,
        api_scopes: Iterable[str] = DEFAULT_API_SCOPES,
        port: int = 0,
        startup_timeout_s: float = STARTUP_TIMEOUT_S,
    ) -> AuthorizationServer:
        """Start the server and wait (bounded) until it is ready; returns ``self``.

        ``clients`` defaults to :func:`default_clients` for ``redirect_uris``. ``port=0``
        picks a free port; give the previous ``port`` to restart "the same" server (its
        tokens are gone: everything lives in memory).
        """
        if self._process is not None:
            raise AuthorizationServerError("already started")
        unavailable = unavailable_reason()
        if unavailable is not None:
            raise AuthorizationServerError(unavailable)
        registered = [
            client if isinstance(client, Client) else _client_from_mapping(client)
            for client in (default_clients(redirect_uris) if clients is None else clients)
        ]
        self.clients = {client.client_id: client for client in registered}
        self.options = {
            "access_token_ttl_s": access_token_ttl_s,
            "refresh_token_ttl_s": refresh_token_ttl_s,
            "authorization_code_ttl_s": authorization_code_ttl_s,
            "auto_approve_user": auto_approve_user,
            "always_login": always_login,
            "refresh_token_policy": refresh_token_policy,
            "rotate_refresh_token": rotate_refresh_token,
            "access_token_format": access_token_format,
            "resource": resource,
            "api_scopes": list(api_scopes),
            "port": port,
        }
        config = {**self.options, "clients": [client.to_json() for client in registered]}

        log_dir = self._log_dir or Path(tempfile.mkdtemp(prefix="tokendesk-as-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        fd, log_name = tempfile.mkstemp(prefix="authorization-server-", suffix=".log", dir=log_dir)
        self._log_path = Path(log_name)
        env = {**os.environ, "TOKENDESK_TEST_AS_CONFIG": json.dumps(config)}
        env.pop("TOKENDESK_TEST_AS_PORT", None)
        with os.fdopen(fd, "w") as log_file:
            self._process = subprocess.Popen(
                [str(shutil.which("node")), str(SERVER_SCRIPT), "--exit-on-stdin-close"],
                cwd=REPO_ROOT,
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
            )
        self._stdout_lines = queue.Queue()
        self._reader = threading.Thread(
            target=_pump_lines, args=(self._process, self._stdout_lines), daemon=True
        )
        self._reader.start()
        try:
            ready = self._wait_ready(startup_timeout_s)
            self.issuer = ready["issuer"]
            self.port = int(ready["port"])
            self._admin_http = httpx.Client(
                base_url=self.issuer, timeout=ADMIN_TIMEOUT_S, trust_env=False
            )
            response = self._admin_http.get("/.well-known/openid-configuration")
            response.raise_for_status()
            self.metadata = response.json()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, timeout_s: float) -> dict[str, Any]:
        try:
            line = self._stdout_lines.get(timeout=timeout_s)
        except queue.Empty:
            raise AuthorizationServerError(
                f"the authorization server was not ready within {timeout_s:.0f} s:\n" + self.logs()
            ) from None
        if line is None:
            code = self._process.wait(timeout=STOP_TIMEOUT_S) if self._process else None
            raise AuthorizationServerError(
                f"the authorization server exited (status {code}) before it was ready:\n"
                + self.logs()
            )
        try:
            ready = json.loads(line)
        except json.JSONDecodeError:
            ready = {}
        if ready.get("event") != "ready":
            raise AuthorizationServerError(
                f"unexpected first line from the authorization server: {line!r}\n" + self.logs()
            )
        return dict(ready)

    def stop(self) -> None:
        """Stop the server: SIGTERM, then SIGKILL after a few seconds. Idempotent."""
        if self._admin_http is not None:
            self._admin_http.close()
            self._admin_http = None
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=STOP_TIMEOUT_S)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_S)
            self._reader = None

    def restart(self) -> AuthorizationServer:
        """Stop, then start again on the same port with the same clients and options.

        All tokens, grants and sessions are lost (they live in the server's memory).
        """
        options = dict(self.options)
        clients = list(self.clients.values())
        self.stop()
        options["port"] = self.port
        return self.start(clients, **options)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def __enter__(self) -> AuthorizationServer:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def logs(self) -> str:
        """What the server wrote on stderr (its request log, warnings, errors)."""
        if self._log_path is None or not self._log_path.exists():
            return ""
        return self._log_path.read_text(errors="replace")

    # -- endpoints --------------------------------------------------------------------------

    @property
    def authorization_endpoint(self) -> str:
        return str(self.metadata["authorization_endpoint"])

    @property
    def token_endpoint(self) -> str:
        return str(self.metadata["token_endpoint"])

    @property
    def revocation_endpoint(self) -> str:
        return str(self.metadata["revocation_endpoint"])

    @property
    def introspection_endpoint(self) -> str:
        return str(self.metadata["introspection_endpoint"])

    @property
    def jwks_uri(self) -> str:
        return str(self.metadata["jwks_uri"])

    @property
    def resource(self) -> str:
        return str(self.options["resource"])

    def url(self, path: str) -> str:
        return self.issuer + path

    def client(self, client_id: str) -> Client:
        return self.clients[client_id]

    # -- admin API --------------------------------------------------------------------------

    def _admin(self, method: str, path: str, body: Any = None) -> Any:
        if self._admin_http is None:
            raise AuthorizationServerError("the authorization server is not running")
        response = self._admin_http.request(
            method, "/__test__" + path, json=body if body is not None else None
        )
        if response.status_code != 200:
            raise AuthorizationServerError(
                f"{method} /__test__{path} -> {response.status_code}: {response.text}"
            )
        return response.json()

    def stats(self) -> dict[str, Any]:
        """Counts since the last reset: ``token`` (``total``, ``by_grant_type``,
        ``by_client_auth_method``, ``by_status``, ``in_flight``, ``peak_in_flight``),
        ``revocation``, ``introspection``, ``authorization``, ``faults_applied`` and the
        ``faults_pending``."""
        return dict(self._admin("GET", "/stats"))

    def token_calls(self, grant_type: str | None = None) -> int:
        """How many requests reached the token endpoint (of ``grant_type``) since the reset."""
        token = self.stats()["token"]
        if grant_type is None:
            return int(token["total"])
        return int(token["by_grant_type"].get(grant_type, 0))

    def requests(self, endpoint: str | None = None) -> list[dict[str, Any]]:
        """Every request to the token/revocation/introspection endpoints since the reset:
        ``endpoint``, ``grant_type``, ``client_id``, ``client_auth_method`` (as sent),
        ``scope``, ``resource``, ``redirect_uri``, ``code_verifier_sent``, SHA-256 prefixes of
        ``code`` / ``refresh_token`` / ``token`` (never the values), of the tokens a token
        answer carried (``issued_access_token_sha256``, ``issued_refresh_token_sha256``; see
        :func:`fingerprint`), ``status``, ``error``, ``fault``, ``held`` (see the
        ``hold_response_ms`` fault)."""
        suffix = f"?endpoint={endpoint}" if endpoint else ""
        return list(self._admin("GET", "/requests" + suffix))

    def reset(self) -> None:
        """Zero the statistics, clear the request log and pending faults, and restore the
        settings the server was started with. Clients and tokens are kept."""
        self._admin("POST", "/reset")
        self.update_settings(
            **{
                key: self.options[key]
                for key in (
                    "access_token_ttl_s",
                    "refresh_token_ttl_s",
                    "authorization_code_ttl_s",
                    "auto_approve_user",
                    "always_login",
                    "refresh_token_policy",
                    "rotate_refresh_token",
                    "access_token_format",
                )
            }
        )

    reset_stats = reset

    def inject_fault(self, **fault: Any) -> None:
        """Program the next matching request(s); see the README for every key. Examples::

        server.inject_fault(status=503, count=2)
        server.inject_fault(status=429, retry_after="1")
        server.inject_fault(delay_ms=3000)
        server.inject_fault(status=200, body="<html>oops</html>", content_type="text/html")
        server.inject_fault(error="invalid_grant", grant_type="refresh_token")
        server.inject_fault(endpoint="revocation", status=503)
        server.inject_fault(drop_response=True)  # processed, then the connection is cut
        server.inject_fault(hold_response_ms=30000)  # processed, answer held until the client dies
        server.inject_fault(response_patch={"expires_in": None, "instance_url": "x"})
        """
        self._admin("POST", "/faults", fault)

    def inject_faults(self, faults: Iterable[Mapping[str, Any]]) -> None:
        """Queue several faults at once, applied in order."""
        self._admin("POST", "/faults", [dict(fault) for fault in faults])

    def clear_faults(self) -> None:
        self._admin("DELETE", "/faults")

    def settings(self) -> dict[str, Any]:
        return dict(self._admin("GET", "/settings"))

    def update_settings(self, **changes: Any) -> dict[str, Any]:
        """Change ``access_token_ttl_s``, ``refresh_token_ttl_s``, ``authorization_code_ttl_s``,
        ``auto_approve_user``, ``always_login``, ``refresh_token_policy``,
        ``rotate_refresh_token``, ``access_token_format`` or ``log_requests`` at runtime
        (until the next :meth:`reset`). New tokens follow the new settings."""
        return dict(self._admin("PATCH", "/settings", changes))

    def register_client(self, client: Client) -> Client:
        """Add or replace a client while the server runs (e.g. with the exact redirect URI
        of a Tokendesk started by the test)."""
        self._admin("PUT", f"/clients/{client.client_id}", client.to_json())
        self.clients[client.client_id] = client
        return client

    def remove_client(self, client_id: str) -> None:
        self._admin("DELETE", f"/clients/{client_id}")
        self.clients.pop(client_id, None)

    # -- flows ------------------------------------------------------------------------------

    def complete_consent(
        self,
        http: httpx.Client,
        authorization_url: str,
        user: str = DEFAULT_USER,
        *,
        approve: bool = True,
    ) -> str:
        """See :func:`complete_consent`."""
        return complete_consent(http, authorization_url, user, approve=approve)


def _client_from_mapping(doc: Mapping[str, Any]) -> Client:
    known = {
        "client_id",
        "client_secret",
        "grant_types",
        "redirect_uris",
        "token_endpoint_auth_method",
        "scope",
        "require_pkce",
        "response_types",
    }
    grant_types = tuple(doc.get("grant_types", (AUTHORIZATION_CODE, REFRESH_TOKEN)))
    return Client(
        client_id=doc["client_id"],
        client_secret=doc.get("client_secret"),
        grant_types=grant_types,
        redirect_uris=tuple(doc.get("redirect_uris", ())),
        token_endpoint_auth_method=doc.get("token_endpoint_auth_method", "client_secret_basic"),
        scope=doc.get("scope"),
        require_pkce=bool(doc.get("require_pkce", False)),
        extra={key: value for key, value in doc.items() if key not in known},
    )


def _pump_lines(process: subprocess.Popen[str], lines: queue.Queue[str | None]) -> None:
    assert process.stdout is not None
    try:
        for line in process.stdout:
            lines.put(line.strip())
    except (OSError, ValueError):
        pass
    finally:
        lines.put(None)


# --- completing an authorization request headlessly ----------------------------------------


class AuthorizationError(AssertionError):
    """The authorization server showed its error page instead of redirecting to the client
    (e.g. ``invalid_redirect_uri``, ``invalid_client`` for an unknown client)."""

    def __init__(self, error: str, description: str, url: str) -> None:
        super().__init__(f"{error}: {description} (at {url})")
        self.error = error
        self.description = description
        self.url = url


@dataclass
class _Form:
    action: str
    method: str
    fields: dict[str, str]


class _PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: dict[str, _Form] = {}
        self.error: str | None = None
        self.error_description = ""
        self._form: _Form | None = None
        self._capture: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {name: value or "" for name, value in attrs}
        if tag == "form":
            self._form = _Form(attr.get("action", ""), attr.get("method", "get").lower(), {})
            self.forms[attr.get("id") or f"form-{len(self.forms)}"] = self._form
        elif tag == "input" and self._form is not None and attr.get("name"):
            self._form.fields[attr["name"]] = attr.get("value", "")
        elif attr.get("id") == "error":
            self.error = attr.get("data-error") or ""
            self._capture = "error" if not self.error else None
        elif attr.get("id") == "error-description":
            self._capture = "error_description"

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        self._capture = None if tag == "p" else self._capture

    def handle_data(self, data: str) -> None:
        if self._capture == "error":
            self.error = (self.error or "") + data.strip()
        elif self._capture == "error_description":
            self.error_description += data.strip()


def _is_client_redirect(url: str) -> bool:
    query = parse_qs(urlsplit(url).query)
    return "code" in query or "error" in query


def complete_consent(
    http: httpx.Client,
    authorization_url: str,
    user: str = DEFAULT_USER,
    *,
    approve: bool = True,
    max_steps: int = 20,
) -> str:
    """Walk an authorization request through login and consent; return the callback URL.

    Starting at ``authorization_url`` (the server's authorization endpoint, or a Tokendesk
    link that redirects there), follow redirects and submit the server's forms: the login
    form with ``login=user`` and the consent form (or, with ``approve=False``, the deny
    button, which yields ``error=access_denied``). Stop at the first redirect whose URL
    carries ``code`` or ``error`` -- the redirect to the client's redirect URI -- and return
    that URL (with ``code``, ``state``, ``iss``) *without* requesting it. ``http`` keeps the
    cookies (the server's session, and Tokendesk's browser binding if any); it must not
    follow redirects by itself. Raises :class:`AuthorizationError` on the server's error page.
    """
    response = http.get(authorization_url, follow_redirects=False)
    for _ in range(max_steps):
        if response.is_redirect:
            location = urljoin(str(response.url), response.headers["location"])
            if _is_client_redirect(location):
                return location
            response = http.get(location, follow_redirects=False)
            continue
        page = _PageParser()
        page.feed(response.text)
        if page.error is not None:
            raise AuthorizationError(page.error, page.error_description, str(response.url))
        if response.status_code != 200:
            raise AssertionError(
                f"unexpected {response.status_code} at {response.url}: {response.text[:500]}"
            )
        if "login-form" in page.forms:
            form = page.forms["login-form"] if approve else page.forms["deny-form"]
            data = {**form.fields, "login": user, "password": "any"} if approve else form.fields
        elif "consent-form" in page.forms:
            form = page.forms["consent-form"] if approve else page.forms["deny-form"]
            data = form.fields
        else:
            raise AssertionError(
                f"no login or consent form at {response.url}: {response.text[:500]}"
            )
        response = http.post(
            urljoin(str(response.url), form.action), data=data, follow_redirects=False
        )
    raise AssertionError(f"no redirect to the client after {max_steps} steps")
