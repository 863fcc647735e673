"""``tokendesk connections``: register, list, show, edit and delete OAuth connections.

The client secret is read from a hidden prompt or one line of stdin, never from an
argument (arguments end up in shell history and process listings), and never printed.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr

from tokendesk.cli.context import (
    JsonFlag,
    confirm,
    emit,
    open_tokendesk,
    operator,
    read_secret,
    split_pairs,
)
from tokendesk.domain.connections import GrantType
from tokendesk.errors import ValidationError
from tokendesk.services.connections import ConnectionFilter
from tokendesk.services.inputs import ConnectionCreate, ConnectionUpdate
from tokendesk.views.connections import ConnectionOut

HELP = "Manage OAuth connections."


class ClientAuthMethod(StrEnum):
    CLIENT_SECRET_BASIC = "client_secret_basic"
    CLIENT_SECRET_POST = "client_secret_post"
    PRIVATE_KEY_JWT = "private_key_jwt"


COLUMNS = ("name", "provider", "grant_type", "client_id", "scopes", "invited_roles")
SECRET_PROMPT = "Client secret"
SECRET_STDIN = "--client-secret-stdin"

ConnectionName = Annotated[str, typer.Argument(metavar="NAME", help="The connection's name.")]
AuthorizationUrl = Annotated[str | None, typer.Option(
    "--authorization-url", help="Default: the provider's template, placeholders filled.")]
TokenUrl = Annotated[str | None, typer.Option(
    "--token-url", help="Default: the provider's template, placeholders filled.")]
Scopes = Annotated[str | None, typer.Option(
    "--scopes", help='Comma- or space-separated, e.g. "api,refresh_token".')]
Pkce = Annotated[bool | None, typer.Option(
    "--pkce/--no-pkce", help="PKCE (S256); default: on where the provider allows it.")]
Description = Annotated[str | None, typer.Option("--description")]
ApiBaseUrl = Annotated[str | None, typer.Option(
    "--api-base-url", help="Where the API proxy sends calls (/proxy/NAME/...); default: the "
    "provider's. Custom connections give it to use the proxy.")]
SecretStdin = Annotated[bool, typer.Option(
    SECRET_STDIN, help="Read the client secret from one line of standard input.")]
AuthMethod = Annotated[ClientAuthMethod | None, typer.Option(
    "--client-auth-method",
    help="client_secret_basic, client_secret_post, or private_key_jwt (a signed assertion, "
         "RFC 7523: give --client-key-file). Default: the provider's.")]
# Files, not values: a key in an argument would stay in shell history and process listings.
KeyFile = Annotated[Path | None, typer.Option(
    "--client-key-file", exists=True, dir_okay=False, readable=True,
    help="PEM private key for private_key_jwt; stored encrypted, never shown.")]
CertificateFile = Annotated[Path | None, typer.Option(
    "--client-certificate-file", exists=True, dir_okay=False, readable=True,
    help="PEM certificate of the key (Microsoft needs it: its thumbprint names the key).")]

SecretExpiresOn = Annotated[str | None, typer.Option(
    "--client-secret-expires-on", metavar="YYYY-MM-DD",
    help="The day the client secret expires, as the provider's console shows it; the "
         "attention list warns before it.")]

class ProxyModeOption(StrEnum):
    GLOBAL = "global"
    NONE = "none"
    OWN = "own"


ProxyMode = Annotated[ProxyModeOption | None, typer.Option(
    "--proxy-mode", help="How the connection reaches its provider: global (the forward proxy "
    "of the network settings; the default), none (directly), or own (--proxy-url).")]
ProxyUrl = Annotated[str | None, typer.Option(
    "--proxy-url", metavar="URL", help="The connection's own proxy, http://host:port "
    "(no credentials in it).")]
ProxyUsername = Annotated[str | None, typer.Option("--proxy-username")]
ProxyPasswordStdin = Annotated[bool, typer.Option(
    "--proxy-password-stdin", help="Read the own proxy's password from one line of standard "
    "input (after the client secret's line when both are read from it).")]
NewProxyPassword = Annotated[bool, typer.Option(
    "--new-proxy-password", help="Type the own proxy's password at a hidden prompt.")]
ProxyBypass = Annotated[str | None, typer.Option(
    "--proxy-bypass", metavar="HOSTS", help="Comma-separated hosts, *.domain suffixes, IPs "
    "and CIDR ranges the connection reaches directly, not through its own proxy.")]


def _proxy(mode: ProxyModeOption | None, url: str | None, username: str | None,
           password_stdin: bool, new_password: bool, bypass: str | None) -> dict[str, Any]:
    """The proxy members to give, only those asked for (an absent one keeps the stored
    value); the password from stdin or a hidden prompt, never from an argument."""
    if password_stdin and new_password:
        raise ValidationError("Give --proxy-password-stdin or --new-proxy-password, not both.",
                              field="proxy_password")
    given: dict[str, Any] = {"proxy_mode": mode.value if mode else None, "proxy_url": url,
                             "proxy_username": username, "proxy_bypass": bypass}
    if password_stdin or new_password:
        given["proxy_password"] = SecretStr(read_secret(
            "Proxy password", password_stdin, stdin_option="--proxy-password-stdin"))
    return {k: v for k, v in given.items() if v is not None}


def _expiry(expires_on: str | None, forget: bool = False) -> dict[str, Any]:
    """The ``client_secret_expires_on`` member to give, only when one was asked for (an absent
    member keeps the stored day)."""
    if expires_on is not None and forget:
        raise ValidationError("Give --client-secret-expires-on or --no-client-secret-expiry, "
                              "not both.", field="client_secret_expires_on")
    if forget:
        return {"client_secret_expires_on": None}
    return {} if expires_on is None else {"client_secret_expires_on": expires_on}


def list_connections(
    provider: Annotated[str | None, typer.Option("--provider", help="Provider key.")] = None,
    name: Annotated[str | None, typer.Option("--name", help="Part of the name.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List connections, optionally by provider and part of the name."""
    with open_tokendesk() as td, td.transaction() as tx:
        found = td.connections.search(tx, operator(), ConnectionFilter(provider, name))
    emit([ConnectionOut.of(c, td.settings.callback_url) for c in found], as_json, COLUMNS)


def show(name: ConnectionName, as_json: JsonFlag = False) -> None:
    """Show one connection, with the callback URL to register at the provider."""
    with open_tokendesk() as td, td.transaction() as tx:
        connection = td.connections.get(tx, operator(), name)
    emit(ConnectionOut.of(connection, td.settings.callback_url), as_json)


def create(
    name: Annotated[str, typer.Option("--name", help="A unique name for the connection.")],
    provider: Annotated[str, typer.Option(
        "--provider", help="Provider key, see `tokendesk providers list`.")],
    grant_type: Annotated[GrantType, typer.Option("--grant-type")],
    client_id: Annotated[str, typer.Option("--client-id")],
    authorization_url: AuthorizationUrl = None,
    token_url: TokenUrl = None,
    scopes: Scopes = None,
    placeholder: Annotated[list[str] | None, typer.Option(
        "--placeholder", metavar="NAME=VALUE",
        help="A value for one of the provider's placeholders, e.g. yourinstance=acme.")] = None,
    invite: Annotated[list[str] | None, typer.Option(
        "--invite", metavar="ROLE",
        help="A custom role invited to use the tokens (repeat).")] = None,
    description: Annotated[str, typer.Option("--description")] = "",
    pkce: Pkce = None,
    client_secret_stdin: SecretStdin = False,
    client_auth_method: AuthMethod = None,
    client_key_file: KeyFile = None,
    client_certificate_file: CertificateFile = None,
    client_secret_expires_on: SecretExpiresOn = None,
    api_base_url: ApiBaseUrl = None,
    issuer: Annotated[str | None, typer.Option(
        "--issuer", help="Custom connections: the authorization server's issuer URL; its "
        "published metadata fills the URLs, PKCE and the client authentication method "
        "not given.")] = None,
    proxy_mode: ProxyMode = None,
    proxy_url: ProxyUrl = None,
    proxy_username: ProxyUsername = None,
    proxy_password_stdin: ProxyPasswordStdin = False,
    new_proxy_password: NewProxyPassword = False,
    proxy_bypass: ProxyBypass = None,
    as_json: JsonFlag = False,
) -> None:
    """Register a connection; the client secret is asked for at a hidden prompt (not with
    private_key_jwt, which takes --client-key-file instead)."""
    secret = ""
    if client_secret_stdin or client_auth_method is not ClientAuthMethod.PRIVATE_KEY_JWT:
        secret = read_secret(SECRET_PROMPT, client_secret_stdin, stdin_option=SECRET_STDIN)
    data = ConnectionCreate(
        name=name, description=description, provider=provider, grant_type=grant_type,
        client_id=client_id, client_secret=SecretStr(secret), authorization_url=authorization_url,
        token_url=token_url, scopes=scopes, pkce=pkce,
        client_auth_method=client_auth_method.value if client_auth_method else None,
        client_key=_read_key(client_key_file),
        client_certificate=_read_text(client_certificate_file, "client_certificate"),
        placeholders=split_pairs(placeholder or [], field="placeholders"),
        invited_roles=invite or [],
        api_base_url=api_base_url,
        issuer=issuer,
        **_expiry(client_secret_expires_on),
        **_proxy(proxy_mode, proxy_url, proxy_username, proxy_password_stdin,
                 new_proxy_password, proxy_bypass),
    )
    with open_tokendesk() as td:
        data = td.discovery.fill(operator(), data)
        with td.transaction() as tx:
            connection = td.connections.create(tx, operator(), data)
    emit(ConnectionOut.of(connection, td.settings.callback_url), as_json)


def edit(
    name: ConnectionName,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the connection.")] = None,
    description: Description = None,
    grant_type: Annotated[GrantType | None, typer.Option("--grant-type")] = None,
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    authorization_url: AuthorizationUrl = None,
    token_url: TokenUrl = None,
    scopes: Scopes = None,
    placeholder: Annotated[list[str] | None, typer.Option(
        "--placeholder", metavar="NAME=VALUE",
        help="Replace all placeholder values with these (repeat); the URLs are filled "
             "again from the provider's templates unless given.")] = None,
    invite: Annotated[list[str] | None, typer.Option(
        "--invite", metavar="ROLE", help="Replace the invited roles with these (repeat).")] = None,
    no_invites: Annotated[bool, typer.Option("--no-invites", help="Invite no role.")] = False,
    pkce: Pkce = None,
    client_secret_stdin: SecretStdin = False,
    new_client_secret: Annotated[bool, typer.Option(
        "--new-client-secret", help="Type a new client secret at a hidden prompt.")] = False,
    client_auth_method: AuthMethod = None,
    client_key_file: KeyFile = None,
    client_certificate_file: CertificateFile = None,
    client_secret_expires_on: SecretExpiresOn = None,
    no_client_secret_expiry: Annotated[bool, typer.Option(
        "--no-client-secret-expiry", help="Forget the client secret's expiry day.")] = False,
    api_base_url: ApiBaseUrl = None,
    proxy_mode: ProxyMode = None,
    proxy_url: ProxyUrl = None,
    proxy_username: ProxyUsername = None,
    proxy_password_stdin: ProxyPasswordStdin = False,
    new_proxy_password: NewProxyPassword = False,
    proxy_bypass: ProxyBypass = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a connection; what is not given stays, the stored client secret included."""
    if invite and no_invites:
        raise ValidationError("Give --invite or --no-invites, not both.", field="invited_roles")
    data = ConnectionUpdate(
        name=new_name, description=description, grant_type=grant_type, client_id=client_id,
        client_secret=_new_secret(client_secret_stdin, new_client_secret),
        authorization_url=authorization_url, token_url=token_url, scopes=scopes, pkce=pkce,
        client_auth_method=client_auth_method.value if client_auth_method else None,
        client_key=_read_key(client_key_file),
        client_certificate=_read_text(client_certificate_file, "client_certificate"),
        placeholders=split_pairs(placeholder, field="placeholders") if placeholder else None,
        invited_roles=[] if no_invites else (invite or None),
        **_expiry(client_secret_expires_on, no_client_secret_expiry),
        api_base_url=api_base_url,
        **_proxy(proxy_mode, proxy_url, proxy_username, proxy_password_stdin,
                 new_proxy_password, proxy_bypass),
    )
    with open_tokendesk() as td, td.transaction() as tx:
        connection = td.connections.update(tx, operator(), name, data)
    emit(ConnectionOut.of(connection, td.settings.callback_url), as_json)


def delete(
    name: ConnectionName,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a connection with its invitations and tokens (asks first unless --yes)."""
    if not yes:
        confirm(f"Delete the connection '{name}' and all its tokens?", what="the connection")
    with open_tokendesk() as td:
        deleted = td.removal.remove(operator(), name)
    typer.echo(f"Connection '{deleted.name}' deleted.")


def _new_secret(from_stdin: bool, prompt: bool) -> SecretStr | None:
    if from_stdin and prompt:
        raise ValidationError("Give --client-secret-stdin or --new-client-secret, not both.",
                              field="client_secret")
    if not (from_stdin or prompt):
        return None
    return SecretStr(read_secret(SECRET_PROMPT, from_stdin, stdin_option=SECRET_STDIN))


def _read_text(path: Path | None, field: str) -> str | None:
    """A PEM file's text; raises ValidationError naming ``field`` when it cannot be read."""
    if path is None:
        return None
    try:
        return path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError):
        message = f"{path.name} is not a readable PEM text file."
        raise ValidationError(message, field=field) from None


def _read_key(path: Path | None) -> SecretStr | None:
    text = _read_text(path, "client_key")
    return None if text is None else SecretStr(text)
