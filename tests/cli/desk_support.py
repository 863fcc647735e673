"""A populated desk for the desk file tests: connections of several providers (a client
secret and its expiry day, an API base URL, a client key, a connection's own proxy with a
password), a custom role, a webhook, the egress allowlist, a forward proxy and an SMTP server
with passwords, and a trusted workload issuer with two mapping rules."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from support.api import CLIENT_SECRET, connection_body, keyring_spec
from support.client_keys import key_pair
from support.passwords import CHEAP_PASSWORDS
from tokendesk.config import Settings
from tokendesk.crypto import KeyRing
from tokendesk.domain.principal import command_line_principal
from tokendesk.domain.secret import Secret
from tokendesk.services.inputs import (
    ConnectionCreate,
    EgressAllowlistInput,
    ProxySettingsInput,
    RoleCreate,
    SmtpSettingsInput,
    WebhookCreate,
)
from tokendesk.services.workload_shapes import WorkloadIssuerCreate, WorkloadRuleCreate
from tokendesk.wiring import Tokendesk, build

PUBLIC_URL = "https://tokendesk.example.test"
PROXY_PASSWORD = "pp-5e1f0c-proxy-password"
SERVICENOW_SECRET = "sn-2b7d41-client-secret"
SIGNING_KEY = key_pair("signing-app")
ROLE = "Sales bots"
OWN_PROXY_PASSWORD = "op-71c2aa-own-proxy-password"
SMTP_PASSWORD = "sm-0d93f1-smtp-password"
# whsec_ and the base64 of 32 bytes, as Tokendesk makes them.
WEBHOOK_SECRET = "whsec_" + "dGhpcnR5LXR3by1ieXRlcy1vZi1zaWduaW5nLWtleSE="
WEBHOOK_URL = "https://hooks.example.test/tokendesk"
ISSUER_NAME = "GitHub Actions"
ISSUER_URL = "https://token.actions.githubusercontent.com"
ISSUER_RULES: list[dict[str, Any]] = [
    {"conditions": [{"claim": "repository", "equals": "acme/robots"},
                    {"claim": "ref", "prefix": "refs/heads/"}],
     "acts_as": "workload", "workload": "robots", "roles": [ROLE]},
    {"conditions": [{"claim": "sub", "one_of": ["repo:acme/a:env:prod",
                                                 "repo:acme/b:env:prod"]}],
     "acts_as": "workload", "workload": "deployers", "roles": []},
]


def desk_env(database_url: str, data: Path) -> dict[str, str]:
    """The environment of ``tokendesk`` on ``database_url`` with a key ring of its own."""
    return {
        "TOKENDESK_DATABASE_URL": database_url,
        "TOKENDESK_DATA_DIR": str(data),
        "TOKENDESK_ENCRYPTION_KEYS": keyring_spec(KeyRing.generate()),
        "TOKENDESK_PUBLIC_URL": PUBLIC_URL,
    }


def populated_source(sqlite_template: Path, tmp_path: Path) -> dict[str, str]:
    """The environment of a populated desk on a SQLite copy of ``sqlite_template``."""
    path = tmp_path / "source.sqlite3"
    shutil.copyfile(sqlite_template, path)
    env = desk_env(f"sqlite:///{path.as_posix()}", tmp_path / "source")
    td = open_desk(env)
    try:
        populate(td)
    finally:
        td.close()
    return env


def open_desk(env: dict[str, str]) -> Tokendesk:
    return build(Settings(
        database_url=env["TOKENDESK_DATABASE_URL"],
        data_dir=Path(env["TOKENDESK_DATA_DIR"]),
        encryption_keys=env["TOKENDESK_ENCRYPTION_KEYS"],  # type: ignore[arg-type]
        public_url=PUBLIC_URL,
    ), passwords=CHEAP_PASSWORDS)


CONNECTIONS: list[dict[str, Any]] = [
    connection_body(invited_roles=[ROLE], client_secret_expires_on=date(2027, 6, 30),
                    api_base_url="https://acme.my.salesforce.com/services/data/v61.0"),
    connection_body(name="ServiceNow bots", provider="servicenow",
                    grant_type="client_credentials", scopes=None,
                    client_secret=SERVICENOW_SECRET, invited_roles=[ROLE]),
    {"name": "Signing app", "provider": "custom", "grant_type": "client_credentials",
     "client_id": "signing-app", "token_url": "https://login.example.test/oauth2/token",
     "scopes": "api:read api:write", "client_auth_method": "private_key_jwt",
     "client_key": SIGNING_KEY.key_pem, "client_certificate": SIGNING_KEY.certificate_pem,
     "description": "Signs its client assertions",
     # On premises: reached through its own proxy, not the forward proxy.
     "proxy_mode": "own", "proxy_url": "http://proxy.onprem.test:3128",
     "proxy_username": "signer", "proxy_password": OWN_PROXY_PASSWORD,
     "proxy_bypass": ["*.onprem.test"]},
]


def populate(td: Tokendesk) -> None:
    """Fill ``td`` with the desk every test starts from."""
    actor = command_line_principal()
    with td.transaction() as tx:
        td.accounts.create_role(tx, actor, RoleCreate.model_validate(
            {"name": ROLE, "description": "Bots of the sales team",
             "permissions": ["oauth_connections.view"]}))
        td.egress.save(tx, actor, EgressAllowlistInput(allowlist=["10.20.0.0/16"]))
        td.proxy.save(tx, actor, ProxySettingsInput(
            enabled=True, host="proxy.example.test", port=3128, auth="basic",
            username="desk", password=SecretStr(PROXY_PASSWORD), bypass=["*.internal.test"]))
        for body in CONNECTIONS:
            td.connections.create(tx, actor, ConnectionCreate.model_validate(body))
        td.webhooks.create(tx, actor, WebhookCreate(
            url=WEBHOOK_URL, events=["token.reauthentication_required",
                                     "connection.misconfigured"],
            description="Pages the on-call"), secret=Secret(WEBHOOK_SECRET))
        td.mail.save(tx, actor, SmtpSettingsInput(
            enabled=True, host="smtp.example.test", port=587, username="desk",
            password=SecretStr(SMTP_PASSWORD), from_address="tokendesk@example.test"))
        td.workloads.create(tx, actor, WorkloadIssuerCreate(
            name=ISSUER_NAME, issuer=ISSUER_URL, audiences=["https://tokendesk.example.test"],
            algorithms=["RS256"], max_lifetime_s=900, refuse_replay=True))
        for rule in ISSUER_RULES:
            td.workloads.add_rule(tx, actor, ISSUER_NAME, WorkloadRuleCreate.model_validate(rule))


SECRETS_BY_ENV = {
    "TOKENDESK_SECRET_SALESFORCE_PROD": CLIENT_SECRET,
    "TOKENDESK_SECRET_SERVICENOW_BOTS": SERVICENOW_SECRET,
    "TOKENDESK_SECRET_SIGNING_APP_KEY": SIGNING_KEY.key_pem,
    "TOKENDESK_SECRET_SIGNING_APP_PROXY_PASSWORD": OWN_PROXY_PASSWORD,
    "TOKENDESK_SECRET_WEBHOOK_HOOKS_EXAMPLE_TEST": WEBHOOK_SECRET,
    "TOKENDESK_SECRET_PROXY_PASSWORD": PROXY_PASSWORD,
    "TOKENDESK_SECRET_SMTP_PASSWORD": SMTP_PASSWORD,
}
