"""The API proxy's sender on the event loop: the egress policy is checked on the address it
actually connects to, as on the synchronous outbound client (tests/oauth/test_outbound.py)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest

from support.event_loop import run
from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.proxy import ForwardProxy
from tokendesk.domain.secret import Secret
from tokendesk.errors import EgressDenied
from tokendesk.oauth.outbound import NO_PROXY, ProxyRoute
from tokendesk.tokens.api_sender import ApiSender

Lookup = Callable[[str, int], list[tuple[Any, ...]]]


@contextmanager
def api_closing_each_connection() -> Iterator[tuple[str, list[str]]]:
    """An API on 127.0.0.1 answering 200 over HTTP/1.0 (so every call connects anew); yields
    its URL and the paths it received."""
    received: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # http.server calls it by this name
            received.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def resolving(*addresses: str) -> Lookup:
    """A stand-in resolver answering each address in turn (DNS rebinding, offline)."""
    answers = iter(addresses)

    def lookup(host: str, port: int) -> list[tuple[Any, ...]]:
        return [(2, 1, 6, "", (next(answers), port))]

    return lookup


async def get(sender: ApiSender, url: str, policy: EgressPolicy | None) -> tuple[int, bytes]:
    response = await sender.send("GET", url, [], b"", replace(NO_PROXY, egress=policy))
    try:
        return response.status_code, b"".join([c async for c in response.aiter_raw()])
    finally:
        await response.aclose()


def test_an_address_outside_the_egress_policy_is_never_connected_to() -> None:
    with api_closing_each_connection() as (url, received):
        sender = ApiSender(timeout_s=5)
        with pytest.raises(EgressDenied) as refused:
            run(get(sender, url + "/orders", EgressPolicy()))

    assert "loopback" in refused.value.message
    assert received == []


def test_an_allowlisted_address_is_called() -> None:
    with api_closing_each_connection() as (url, received):
        answer = run(get(ApiSender(timeout_s=5), url + "/orders", EgressPolicy.parse("127.0.0.1")))

    assert answer == (200, b"ok")
    assert received == ["/orders"]


def test_the_guard_connects_to_the_address_it_checked_not_to_a_second_answer() -> None:
    # api.example "resolves" to 127.0.0.1, then to the cloud metadata address: the first call
    # connects to the checked 127.0.0.1, the second is refused and never connects.
    allowed = EgressPolicy.parse("127.0.0.1")
    sender = ApiSender(timeout_s=5, lookup=resolving("127.0.0.1", "169.254.169.254"))

    async def twice(named: str) -> tuple[tuple[int, bytes], EgressDenied]:
        first = await get(sender, named + "/first", allowed)
        with pytest.raises(EgressDenied) as second:
            await get(sender, named + "/second", allowed)
        await sender.aclose()
        return first, second.value

    with api_closing_each_connection() as (url, received):
        first, refused = run(twice(url.replace("127.0.0.1", "api.example")))

    assert first == (200, b"ok")
    assert received == ["/first"]
    assert "egress allowlist cannot allow" in refused.message


def test_a_plain_http_call_through_a_forward_proxy_carries_the_proxys_credentials() -> None:
    # No CONNECT for http://: the request itself goes to the proxy, absolute, with the
    # Proxy-Authorization the proxy URL's credentials make (RFC 9110 §11.7.2).
    received: list[bytes] = []
    listener = socket.create_server(("127.0.0.1", 0))

    def proxy_answering_once() -> None:
        conn, _ = listener.accept()
        with conn:
            received.append(conn.recv(65536))
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    thread = threading.Thread(target=proxy_answering_once, daemon=True)
    thread.start()
    settings = ForwardProxy(True, "http", "127.0.0.1", listener.getsockname()[1], "basic",
                            "desk", True, (), None, "admin")
    route = ProxyRoute(settings, Secret("p@ss"))

    async def call() -> tuple[int, bytes]:
        sender = ApiSender(timeout_s=5)
        response = await sender.send("GET", "http://api.example/orders?a=%7E", [], b"", route)
        try:
            return response.status_code, b"".join([c async for c in response.aiter_raw()])
        finally:
            await response.aclose()
            await sender.aclose()

    try:
        answer = run(call())
    finally:
        thread.join(5)
        listener.close()

    assert answer == (200, b"ok")
    assert received[0].startswith(b"GET http://api.example/orders?a=%7E HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: Basic ZGVzazpwQHNz\r\n" in received[0]
