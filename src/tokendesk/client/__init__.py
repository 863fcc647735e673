"""The Python SDK bots use to get access tokens from Tokendesk.

It imports nothing of the server; it shares only the JSON wire format::

    from tokendesk.client import Client
    token = Client("https://tokendesk.example.com", api_key).get_token("Salesforce prod")
    httpx.get(url, auth=TokendeskAuth(client, "Salesforce prod"))
"""

from tokendesk.client.auth import AsyncTokendeskAuth, TokendeskAuth
from tokendesk.client.core import AccessToken, AsyncClient, Client, TokendeskClientError

__all__ = [
    "AccessToken",
    "AsyncClient",
    "AsyncTokendeskAuth",
    "Client",
    "TokendeskAuth",
    "TokendeskClientError",
]
