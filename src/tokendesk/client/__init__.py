"""The Python SDK bots use to get access tokens from Tokendesk.

It imports nothing of the server; it shares only the JSON wire format::

    from tokendesk.client import Client, TokendeskAuth, ReauthenticationRequired
    desk = Client("https://tokendesk.example.com", api_key)
    token = desk.get_token("Salesforce prod")
    httpx.get(url, auth=TokendeskAuth(desk, "Salesforce prod"))

Every error is a :class:`TokendeskError`; the tree is documented in ``client/errors.py``.
"""

from tokendesk.client.auth import AsyncTokendeskAuth, TokendeskAuth
from tokendesk.client.core import AsyncClient, Client
from tokendesk.client.decorators import requires_token
from tokendesk.client.errors import (
    APIError,
    AuthenticationFailed,
    BackingOff,
    Diagnosis,
    InvalidRequest,
    NotAuthenticated,
    NotFound,
    NotInvited,
    ProtocolError,
    ProviderFailed,
    ReauthenticationRequired,
    Timeout,
    TokendeskClientError,
    TokendeskError,
    TokenUnavailable,
    TransportError,
    Unavailable,
)
from tokendesk.client.models import AccessToken, TokenType

__all__ = [
    "APIError",
    "AccessToken",
    "AsyncClient",
    "AsyncTokendeskAuth",
    "AuthenticationFailed",
    "BackingOff",
    "Client",
    "Diagnosis",
    "InvalidRequest",
    "NotAuthenticated",
    "NotFound",
    "NotInvited",
    "ProtocolError",
    "ProviderFailed",
    "ReauthenticationRequired",
    "Timeout",
    "TokenType",
    "TokenUnavailable",
    "TokendeskAuth",
    "TokendeskClientError",
    "TokendeskError",
    "TransportError",
    "Unavailable",
    "requires_token",
]
