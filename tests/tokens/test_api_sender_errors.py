"""The API proxy's sender fails in the same plain words as every outbound call
(tests/oauth/test_outbound.py): each aiohttp failure becomes the ProviderError of its cause.

Faults a real socket can cause (refused, reset mid-body, silence, TLS spoken to plain HTTP, an
untrusted certificate, a proxy refusing CONNECT) are caused for real on 127.0.0.1; a name that
does not resolve comes from a stand-in resolver.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from support.event_loop import run
from support.smtp_server import self_signed_certificate
from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.proxy import ForwardProxy
from tokendesk.domain.secret import Secret
from tokendesk.errors import (
    EgressDenied,
    ProviderDnsError,
    ProviderError,
    ProviderTimeout,
    ProviderTlsError,
    ProviderUnreachable,
    ProxyBodyTooLarge,
    ProxyRefused,
)
from tokendesk.oauth.outbound import NO_PROXY, ProxyRoute
from tokendesk.tokens.api_sender import ApiSender, Body

Answer = Callable[[socket.socket], None]
LOOPBACK = EgressPolicy.parse("127.0.0.1")


@contextmanager
def answering(answer: Answer) -> Iterator[tuple[int, list[bytes]]]:
    """A server on 127.0.0.1 calling ``answer(conn)`` for each connection after reading what
    arrives first; yields its port and those first reads."""
    listener = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    received.append(conn.recv(65536))
                    answer(conn)
                except OSError:
                    pass  # the client gave up

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], received
    finally:
        listener.close()
        thread.join(5)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def no_such_name(host: str, port: int) -> list[tuple[Any, ...]]:
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def through_proxy(port: int, password: str | None = None) -> ProxyRoute:
    auth = "basic" if password is not None else "none"
    settings = ForwardProxy(True, "http", "127.0.0.1", port, auth, "desk", password is not None,
                            (), None, "admin")
    return ProxyRoute(settings, Secret(password) if password is not None else None)


async def failing(sender: ApiSender, url: str, route: ProxyRoute, body: Body = b"") -> Exception:
    """The exception sending ``url`` (and reading its whole body) raises."""
    try:
        response = await sender.send("POST", url, [], body, route)
        try:
            async for _ in response.aiter_raw():
                pass
        finally:
            await response.aclose()
    except Exception as exc:
        await sender.aclose()
        return exc
    raise AssertionError("the call succeeded")


def error_of(url: str, route: ProxyRoute = NO_PROXY, **sender: Any) -> Exception:
    return run(failing(ApiSender(timeout_s=5, **sender), url, route))


def assert_plain(error: Exception) -> None:
    assert isinstance(error, ProviderError)
    for leak in ("Errno", "Traceback", "aiohttp", "httpx", "httpcore", "[SSL", "_ssl.c"):
        assert leak not in error.message


def test_a_refused_connection_is_unreachable() -> None:
    error = error_of(f"http://127.0.0.1:{closed_port()}/orders", replace(NO_PROXY, egress=LOOPBACK))
    assert isinstance(error, ProviderUnreachable)
    assert error.message == "127.0.0.1 could not be reached (connection refused or no route)."


def test_a_name_that_does_not_resolve_is_a_dns_error() -> None:
    error = error_of("https://api.example/orders", lookup=no_such_name)
    assert isinstance(error, ProviderDnsError)
    assert error.message == "The host name api.example could not be resolved (DNS)."


def test_a_plain_http_server_on_an_https_address_is_a_tls_error() -> None:
    def plain_400(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    with answering(plain_400) as (port, _):
        error = error_of(f"https://127.0.0.1:{port}/orders")
    assert isinstance(error, ProviderTlsError)
    assert_plain(error)


def test_an_untrusted_certificate_is_a_tls_error(tmp_path: Path) -> None:
    server_tls = self_signed_certificate(tmp_path).server_context()

    def handshake(conn: socket.socket) -> None:
        with server_tls.wrap_socket(conn, server_side=True):
            pass

    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]

    def serve_tls() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        try:
            handshake(conn)
        except (OSError, ssl.SSLError):
            pass  # the client refused the certificate, as it should
        finally:
            conn.close()

    thread = threading.Thread(target=serve_tls, daemon=True)
    thread.start()
    try:
        error = error_of(f"https://127.0.0.1:{port}/orders")
    finally:
        listener.close()
        thread.join(5)
    assert isinstance(error, ProviderTlsError)
    assert "127.0.0.1" in error.message
    assert_plain(error)


def test_an_api_that_never_answers_is_a_timeout() -> None:
    silent = threading.Event()
    with answering(lambda conn: silent.wait(5)) as (port, _):
        error = run(failing(ApiSender(timeout_s=0.3), f"http://127.0.0.1:{port}/slow", NO_PROXY))
        silent.set()
    assert isinstance(error, ProviderTimeout)
    assert error.message == "127.0.0.1 did not answer in time."


def test_a_body_cut_off_midway_is_a_broken_off_connection() -> None:
    def half(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 1000)

    with answering(half) as (port, _):
        error = error_of(f"http://127.0.0.1:{port}/big")
    assert isinstance(error, ProviderUnreachable)
    assert error.message == "The connection to 127.0.0.1 broke off before an answer arrived."


def test_a_forward_proxy_that_cannot_be_reached_is_named_and_its_password_is_not() -> None:
    error = error_of("http://api.example/orders", through_proxy(closed_port(), "proxy-pass-1"))
    assert isinstance(error, ProxyRefused)
    assert error.message == ("The forward proxy could not be reached to connect to "
                             "api.example.")
    assert "proxy-pass-1" not in str(error) + repr(error)


def test_a_proxy_refusing_connect_is_a_proxy_refusal_and_gets_the_credentials() -> None:
    def refuse(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")

    with answering(refuse) as (port, received):
        error = error_of("https://api.example/orders", through_proxy(port, "proxy-pass-1"),
                         lookup=no_such_name)
    assert isinstance(error, ProxyRefused)
    assert error.message == ("The forward proxy refused or failed the connection to "
                             "api.example.")
    assert received[0].startswith(b"CONNECT api.example:443 HTTP/1.1\r\n")
    assert b"\r\nProxy-Authorization: Basic ZGVzazpwcm94eS1wYXNzLTE=\r\n" in received[0]


def test_a_proxy_at_an_address_outside_the_egress_policy_is_never_connected_to() -> None:
    # aiohttp does not resolve an IP address, so the sender checks it itself.
    with answering(lambda conn: None) as (port, received):
        route = replace(through_proxy(port), egress=EgressPolicy())
        error = error_of("https://api.example/orders", route, lookup=no_such_name)
    assert isinstance(error, EgressDenied)
    assert "loopback" in error.message
    assert received == []


def test_what_the_request_body_raises_comes_out_as_it_is() -> None:
    async def too_large() -> AsyncIterator[bytes]:
        yield b"x" * 1000
        raise ProxyBodyTooLarge("The request body is larger than the limit of 1000 bytes.")

    def read_all(conn: socket.socket) -> None:
        while conn.recv(65536):
            pass

    with answering(read_all) as (port, _):
        error = run(failing(ApiSender(timeout_s=5), f"http://127.0.0.1:{port}/upload",
                            NO_PROXY, too_large()))
    assert isinstance(error, ProxyBodyTooLarge)


@pytest.mark.parametrize("streamed", [False, True], ids=["buffered", "streamed"])
def test_an_api_that_stops_reading_a_large_upload_is_a_timeout(streamed: bool) -> None:
    # aiohttp has no write timeout of its own; without the sender's, this call would hang
    # until the bound below and end in asyncio's TimeoutError, not a ProviderTimeout.
    upload = b"x" * 20_000_000
    stop = threading.Event()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(upload), 1_000_000):
            yield upload[start:start + 1_000_000]

    async def bounded() -> Exception:
        body: Body = pieces() if streamed else upload
        headers = [(b"content-length", str(len(upload)).encode())] if streamed else []
        sender = ApiSender(timeout_s=0.3)
        try:
            await asyncio.wait_for(sender.send("PUT", url, headers, body, NO_PROXY), 30)
        except Exception as exc:
            return exc
        finally:
            await sender.aclose()
        raise AssertionError("the call succeeded")

    with answering(lambda conn: stop.wait(30)) as (port, _):
        url = f"http://127.0.0.1:{port}/upload"
        error = run(bounded())
        stop.set()
    assert isinstance(error, ProviderTimeout)
    assert error.message == "127.0.0.1 did not answer in time."
