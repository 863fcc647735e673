"""Authorization server metadata (RFC 8414): only a document that names the origin it was
fetched from is believed, and a failed fetch is neither kept nor forgets what was known."""

from __future__ import annotations

import json

import httpx

from tokendesk.oauth.discovery import METADATA_TTL_S, MetadataCache
from tokendesk.oauth.outbound import Outbound

SERVER = "https://login.example.com"
AUTHORIZE = SERVER + "/oauth2/authorize"
HONEST = {"issuer": SERVER, "authorization_response_iss_parameter_supported": True}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def serving(
    *documents: dict[str, object] | None, clock: Clock | None = None
) -> tuple[MetadataCache, list[str]]:
    """A cache whose server answers each metadata fetch with the next of ``documents``
    (None: the server is down); returns the cache and the URLs it fetched."""
    fetched: list[str] = []
    queue = list(documents)

    def answer(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        doc = queue[0] if len(queue) == 1 else queue.pop(0)
        if doc is None:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=json.dumps(doc).encode())

    outbound = Outbound(transport=httpx.MockTransport(answer))
    return MetadataCache(outbound, clock or Clock()), fetched


def test_metadata_naming_its_own_origin_is_believed_and_kept() -> None:
    cache, fetched = serving(HONEST)

    first = cache.for_url(AUTHORIZE)
    again = cache.for_url(AUTHORIZE)

    assert first == again == HONEST
    assert len(fetched) == 1


def test_metadata_claiming_another_servers_issuer_is_not_believed() -> None:
    cache, _ = serving({**HONEST, "issuer": "https://honest.example.net"})

    assert cache.for_url(AUTHORIZE) == {}  # RFC 8414 §3.3: the issuer must be the origin


def test_a_failed_fetch_is_asked_again_at_the_next_need() -> None:
    cache, fetched = serving(None, HONEST)

    assert cache.for_url(AUTHORIZE) == {}
    assert cache.for_url(AUTHORIZE) == HONEST
    assert len(fetched) == 2


def test_a_failed_fetch_keeps_what_was_known_of_a_server_that_sends_iss() -> None:
    clock = Clock()
    cache, fetched = serving(HONEST, None, clock=clock)
    cache.for_url(AUTHORIZE)
    clock.now += 2 * METADATA_TTL_S

    assert cache.for_url(AUTHORIZE) == HONEST  # still known to send iss (RFC 9207)
    assert len(fetched) == 2  # it was asked again, and failed


def test_a_trailing_slash_on_the_issuer_is_tolerated() -> None:
    cache, _ = serving({**HONEST, "issuer": SERVER + "/"})

    assert cache.for_url(AUTHORIZE)["issuer"] == SERVER + "/"
