"""``tokendesk proxy NAME METHOD PATH``: call a connection's API through Tokendesk's API
proxy, for scripts; the access token never reaches the script (API key in
TOKENDESK_API_KEY, as for ``tokendesk token``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import httpx
import typer

from tokendesk.cli.connections import ConnectionName
from tokendesk.cli.context import report
from tokendesk.cli.exit_codes import exit_code_for_code
from tokendesk.cli.tokens import TokenType, TypeOption
from tokendesk.client import Client
from tokendesk.errors import AuthenticationRequired, ValidationError

METHODS = ("GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE")
# An answer of 400 or more exits with this code when it is the API's (curl --fail's).
API_ERROR_EXIT_CODE = 22
ERROR_HEADER = "tokendesk-error"  # on Tokendesk's own refusals (web/proxy.py)


def proxy(
    name: ConnectionName,
    method: Annotated[str, typer.Argument(metavar="METHOD", help="GET, POST, PUT, ...")],
    path: Annotated[str, typer.Argument(metavar="PATH",
                                        help="Below the API base URL, with its query.")],
    token_type: TypeOption = "shared",
    data: Annotated[Path | None, typer.Option(
        "--data-file", exists=True, dir_okay=False, readable=True,
        help="Send this file as the request body (streamed).")] = None,
    header: Annotated[list[str] | None, typer.Option(
        "--header", "-H", metavar="'NAME: VALUE'", help="A request header (repeat).")] = None,
    url: Annotated[str, typer.Option("--url", envvar="TOKENDESK_URL",
                                     help="Tokendesk's address.")] = "http://127.0.0.1:8400",
) -> None:
    """Call a connection's API through Tokendesk and print the answer's body.

    Exits 0 for an answer below 400, 22 for the API's error answer (its body printed), and
    for Tokendesk's own refusal the code of its error in the one exit-code table."""
    verb = method.upper()
    if verb not in METHODS:
        raise ValidationError(f"METHOD must be one of {', '.join(METHODS)}.", field="method")
    api_key = os.environ.get("TOKENDESK_API_KEY", "")
    if not api_key:
        raise AuthenticationRequired("Set TOKENDESK_API_KEY to the bot's API key.")
    headers = _headers(header or [])
    status = _call(url, api_key, name, token_type, verb, path, headers, data)
    if status >= 400:
        raise typer.Exit(API_ERROR_EXIT_CODE)


def _call(url: str, api_key: str, name: str, token_type: TokenType, method: str, path: str,
          headers: dict[str, str], data: Path | None) -> int:
    """Send the call, stream the body to stdout; returns the status."""
    try:
        client = Client(url, api_key)
    except ValueError as exc:  # not an http(s) address
        raise ValidationError(str(exc), field="url") from None
    with client, client.proxy(name, token_type) as api:
        body = data.open("rb") if data is not None else None
        try:
            with api.stream(method, path.lstrip("/"), headers=headers, content=body) as answer:
                own = answer.headers.get(ERROR_HEADER)
                if own is not None:  # Tokendesk's refusal, not the API's answer
                    raise report(f"error: {_message(answer)}", exit_code_for_code(own))
                for chunk in answer.iter_raw():
                    sys.stdout.buffer.write(chunk)
                sys.stdout.buffer.flush()
                return answer.status_code
        except httpx.HTTPError as exc:
            raise report(f"error: Tokendesk could not be reached at {url} ({type(exc).__name__})",
                         exit_code_for_code("transport_error")) from None
        finally:
            if body is not None:
                body.close()


def _message(answer: httpx.Response) -> str:
    """The message of Tokendesk's error answer."""
    answer.read()
    try:
        return str(answer.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return f"HTTP {answer.status_code}"


def _headers(given: list[str]) -> dict[str, str]:
    headers = {}
    for line in given:
        key, sep, value = line.partition(":")
        if not sep or not key.strip():
            raise ValidationError(f"--header {line!r} must be 'Name: value'.", field="header")
        headers[key.strip()] = value.strip()
    return headers
