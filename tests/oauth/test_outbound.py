"""Outbound calls to providers end in a plain-words ProviderError, whatever the server does.

Faults that a real socket can cause (a slow drip, a stall, a reset, a refused connection, an
oversized body, an untrusted certificate) are caused for real by tiny servers on 127.0.0.1;
the rest (DNS) come from a stand-in resolver. Causes are told apart by their types, never by
the words of a message.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tokendesk.domain.egress import EgressPolicy
from tokendesk.domain.proxy import ForwardProxy
from tokendesk.domain.secret import Secret
from tokendesk.errors import (
    EgressDenied,
    InvalidProviderResponse,
    ProviderDnsError,
    ProviderError,
    ProviderTimeout,
    ProviderTlsError,
    ProviderUnreachable,
    ProxyRefused,
)
from tokendesk.oauth.egress import EgressRefused, GuardedBackend, NameNotResolved, TlsFailed
from tokendesk.oauth.outbound import NO_PROXY, Outbound, ProxyRoute, classify
from tokendesk.oauth.transport import GuardedTransport

DEADLINE_S = 1.0
# Generous for a loaded CI machine, yet well below the 10 s read timeout it must beat.
DEADLINE_SLACK_S = 0.45
FORM = {"grant_type": "client_credentials"}

Handler = Callable[[socket.socket, threading.Event], None]


# --- tiny servers on 127.0.0.1 ---------------------------------------------------------------


def read_request(conn: socket.socket) -> bytes:
    """Read one HTTP request (headers and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body


@dataclass
class Server:
    url: str
    requests: list[bytes]


@contextmanager
def accepting(on_connect: Callable[[socket.socket, threading.Event], None]) -> Iterator[int]:
    """Call ``on_connect(conn, stop)`` in a thread for each connection to a fresh port on
    127.0.0.1 (yielded); every thread is joined, bounded, when the block ends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()
    workers: list[threading.Thread] = []

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            worker = threading.Thread(target=on_connect, args=(conn, stop), daemon=True)
            workers.append(worker)
            worker.start()

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        acceptor.join(2)
        listener.close()
        for worker in workers:
            worker.join(2)


@contextmanager
def serve(handler: Handler, tls: ssl.SSLContext | None = None) -> Iterator[Server]:
    """Run ``handler(conn, stop)`` for each connection to a fresh port on 127.0.0.1, after
    reading its request (kept in ``Server.requests``)."""
    requests: list[bytes] = []

    def handle(conn: socket.socket, stop: threading.Event) -> None:
        try:
            if tls is not None:
                conn = tls.wrap_socket(conn, server_side=True)
            requests.append(read_request(conn))
            handler(conn, stop)
        except OSError:
            pass  # the client gave up, which is what most tests want
        finally:
            conn.close()

    with accepting(handle) as port:
        yield Server(f"{'https' if tls else 'http'}://127.0.0.1:{port}/token", requests)


def head(status: int = 200, length: int | None = None, extra: str = "") -> bytes:
    size = f"Content-Length: {length}\r\n" if length is not None else ""
    return (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n{size}{extra}"
            "Connection: close\r\n\r\n").encode()


def drip(conn: socket.socket, stop: threading.Event) -> None:
    """Headers at once, then one byte of the body every 0.2 s."""
    conn.sendall(head(length=1000))
    while not stop.wait(0.2):
        conn.sendall(b" ")


def stall_after_late_headers(conn: socket.socket, stop: threading.Event) -> None:
    """Headers after 0.6 s, then nothing: only a deadline on the whole exchange ends it
    in time, as a read timeout counts from the headers."""
    stop.wait(0.6)
    conn.sendall(head(length=100))
    stop.wait(10)


def never_answer(conn: socket.socket, stop: threading.Event) -> None:
    stop.wait(10)


def five_megabytes_chunked(conn: socket.socket, stop: threading.Event) -> None:
    conn.sendall(head(extra="Transfer-Encoding: chunked\r\n"))
    chunk = b" " * 65536
    for _ in range(80):
        conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    conn.sendall(b"0\r\n\r\n")


def reset(conn: socket.socket, stop: threading.Event) -> None:
    # SO_LINGER with a zero timeout: close() sends a TCP RST instead of a FIN.
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def answer_token(conn: socket.socket, stop: threading.Event) -> None:
    body = b'{"access_token": "at-1", "token_type": "Bearer"}'
    conn.sendall(head(length=len(body)) + body)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def post(outbound: Outbound, url: str, route: ProxyRoute = NO_PROXY) -> tuple[ProviderError, float]:
    started = time.monotonic()
    with pytest.raises(ProviderError) as caught:
        outbound.post_form(url, FORM, route=route)
    return caught.value, time.monotonic() - started


def assert_plain(error: ProviderError) -> None:
    """A message for a person: no exception text, errno or traceback."""
    for leak in ("Errno", "Traceback", "httpx", "httpcore", "[SSL", "_ssl.c"):
        assert leak not in error.message


# --- TLS with a self-signed certificate ---------------------------------------------------------


@dataclass(frozen=True)
class SelfSigned:
    cert_pem: bytes
    server: ssl.SSLContext

    def trusting_client(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode())


@pytest.fixture(scope="module")
def self_signed(tmp_path_factory: pytest.TempPathFactory) -> SelfSigned:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = Path(folder, "cert.pem"), Path(folder, "key.pem")
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_file.write_bytes(cert_pem)
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert_file, key_file)
    return SelfSigned(cert_pem, server)


# --- deadline and size cap ----------------------------------------------------------------------


def test_a_slow_drip_body_is_cut_by_the_total_deadline() -> None:
    with serve(drip) as server:
        error, elapsed = post(Outbound(total_deadline_s=DEADLINE_S), server.url)
    assert isinstance(error, ProviderTimeout)
    assert error.transient
    assert DEADLINE_S - 0.1 <= elapsed < DEADLINE_S + DEADLINE_SLACK_S
    assert_plain(error)


def test_a_short_deadline_ends_its_exchange_while_a_longer_one_started_earlier_goes_on() -> None:
    with serve(drip) as server:
        longer: list[tuple[Exception | None, float]] = []
        slow = threading.Thread(target=lambda: longer.append(
            post(Outbound(total_deadline_s=DEADLINE_S * 4), server.url)))
        slow.start()
        error, _ = post(Outbound(total_deadline_s=DEADLINE_S), server.url)
        still_running = slow.is_alive()
        slow.join(DEADLINE_S * 4 + DEADLINE_SLACK_S)

    assert isinstance(error, ProviderTimeout)
    assert still_running  # its own, later deadline had not passed
    [(long_error, long_elapsed)] = longer
    assert isinstance(long_error, ProviderTimeout)
    assert long_elapsed >= DEADLINE_S * 4 - 0.1


def test_a_stall_after_late_headers_ends_at_the_total_deadline_not_a_read_timeout_later() -> None:
    with serve(stall_after_late_headers) as server:
        error, elapsed = post(Outbound(total_deadline_s=DEADLINE_S), server.url)
    assert isinstance(error, ProviderTimeout)
    assert elapsed < DEADLINE_S + DEADLINE_SLACK_S


def test_the_total_deadline_also_ends_a_stalled_tls_exchange(self_signed: SelfSigned) -> None:
    outbound = Outbound(verify=self_signed.trusting_client(), total_deadline_s=DEADLINE_S)
    with serve(stall_after_late_headers, tls=self_signed.server) as server:
        error, elapsed = post(outbound, server.url)
    assert isinstance(error, ProviderTimeout)
    assert elapsed < DEADLINE_S + DEADLINE_SLACK_S


def test_a_server_that_never_answers_is_a_timeout() -> None:
    with serve(never_answer) as server:
        error, elapsed = post(Outbound(total_deadline_s=DEADLINE_S), server.url)
    assert isinstance(error, ProviderTimeout)
    assert elapsed < DEADLINE_S + DEADLINE_SLACK_S
    assert "127.0.0.1" in error.message


def test_a_read_timeout_is_a_provider_timeout() -> None:
    def time_out(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    error, _ = post(Outbound(transport=httpx.MockTransport(time_out)), "https://idp.example/t")
    assert isinstance(error, ProviderTimeout)
    assert error.message == "idp.example did not answer in time."


def test_a_five_megabyte_body_is_cut_off_by_the_size_cap() -> None:
    with serve(five_megabytes_chunked) as server:
        error, _ = post(Outbound(), server.url)
    assert isinstance(error, InvalidProviderResponse)
    assert "1 MB" in error.message


class CountingStream(httpx.SyncByteStream):
    """A 5 MB body in 64 KB chunks that counts how much of it was read."""

    def __init__(self, total: int = 5_000_000, chunk: int = 65536) -> None:
        self.total, self.chunk, self.served = total, chunk, 0

    def __iter__(self) -> Iterator[bytes]:
        while self.served < self.total:
            self.served += self.chunk
            yield b"x" * self.chunk


def test_an_oversized_body_is_not_read_to_the_end() -> None:
    body = CountingStream()
    outbound = Outbound(transport=httpx.MockTransport(lambda r: httpx.Response(200, stream=body)),
                        max_body_bytes=100_000)
    error, _ = post(outbound, "https://idp.example/token")
    assert isinstance(error, InvalidProviderResponse)
    assert "100 kB" in error.message
    assert body.served <= 100_000 + body.chunk


def test_a_declared_oversized_body_is_refused_before_a_byte_is_read() -> None:
    body = CountingStream()
    answer = httpx.Response(200, stream=body, headers={"content-length": str(body.total)})
    outbound = Outbound(transport=httpx.MockTransport(lambda r: answer))
    error, _ = post(outbound, "https://idp.example/token")
    assert isinstance(error, InvalidProviderResponse)
    assert body.served == 0


def test_a_normal_answer_is_read_whole_and_redirects_come_back_unfollowed() -> None:
    with serve(answer_token) as server:
        reply = Outbound().post_form(server.url, FORM)
    assert reply.status == 200
    assert reply.body == b'{"access_token": "at-1", "token_type": "Bearer"}'
    assert b"grant_type=client_credentials" in server.requests[0]

    def redirect(conn: socket.socket, stop: threading.Event) -> None:
        conn.sendall(head(302, 0, f"Location: {server.url}/elsewhere\r\n"))

    with serve(redirect) as server:
        reply = Outbound().post_form(server.url, FORM)
    assert reply.status == 302
    assert len(server.requests) == 1


# --- connections that fail ------------------------------------------------------------------------


def test_a_refused_connection_is_unreachable_in_plain_words() -> None:
    error, _ = post(Outbound(), f"http://127.0.0.1:{closed_port()}/token")
    assert isinstance(error, ProviderUnreachable)
    assert error.transient
    assert error.message == "127.0.0.1 could not be reached (connection refused or no route)."


def test_a_connection_reset_is_a_broken_off_connection() -> None:
    with serve(reset) as server:
        error, _ = post(Outbound(), server.url)
    assert isinstance(error, ProviderUnreachable)
    assert "broke off" in error.message
    assert_plain(error)


def test_an_untrusted_certificate_is_a_tls_error(self_signed: SelfSigned) -> None:
    with serve(answer_token, tls=self_signed.server) as server:
        error, _ = post(Outbound(), server.url)
    assert isinstance(error, ProviderTlsError)
    assert "certificate" in error.message
    assert_plain(error)


def test_a_trusted_certificate_is_accepted(self_signed: SelfSigned) -> None:
    with serve(answer_token, tls=self_signed.server) as server:
        reply = Outbound(verify=self_signed.trusting_client()).post_form(server.url, FORM)
    assert reply.status == 200


def test_a_forward_proxy_that_cannot_be_reached_is_named_and_its_password_is_not() -> None:
    route = ProxyRoute(proxy(port=closed_port(), auth="basic", username="desk"),
                       Secret("proxy-pass-1"))
    outbound = Outbound()
    error, _ = post(outbound, "http://idp.example/token", route)
    assert isinstance(error, ProxyRefused)
    assert "forward proxy" in error.message
    for shown in (str(error), repr(error), repr(outbound), repr(route)):
        assert "proxy-pass-1" not in shown


# --- classify: causes named by their types, never by their text ---------------------------------


def no_such_name(text: str) -> Callable[[str, int], list[tuple[object, ...]]]:
    """A resolver failing as getaddrinfo does for a name that does not exist (a fault a test
    cannot cause for real without a network)."""

    def lookup(host: str, port: int) -> list[tuple[object, ...]]:
        raise socket.gaierror(socket.EAI_NONAME, text)

    return lookup


def resolving_to(address: str) -> Callable[[str, int], list[tuple[object, ...]]]:
    def lookup(host: str, port: int) -> list[tuple[object, ...]]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    return lookup


def raised_from(cause: BaseException, exc: httpx.HTTPError) -> httpx.HTTPError:
    """``exc`` as our transport raises it: chained to its typed cause."""
    try:
        raise exc from cause
    except httpx.HTTPError as chained:
        return chained


@pytest.mark.parametrize(
    "text",
    ["[Errno -2] Name or service not known", "[Errno -3] Temporary failure in name resolution",
     "[Errno 8] nodename nor servname provided, or not known", "[Errno 11001] getaddrinfo failed",
     "[Errno -5] No address associated with hostname"],
)
def test_a_name_that_does_not_resolve_is_a_dns_error(text: str) -> None:
    outbound = Outbound(transport=GuardedTransport(lookup=no_such_name(text)))
    error, _ = post(outbound, "https://idp.example/token")
    assert isinstance(error, ProviderDnsError)
    assert error.message == "The host name idp.example could not be resolved (DNS)."


def test_dns_is_recognised_by_the_type_of_the_cause_not_by_words_in_a_message() -> None:
    typed = raised_from(NameNotResolved("idp.example"), httpx.ConnectError("anything at all"))
    assert isinstance(classify(typed, "https://idp.example/t", via_proxy=False), ProviderDnsError)
    words = httpx.ConnectError("[Errno -2] Name or service not known")
    assert type(classify(words, "https://idp.example/t", via_proxy=False)) is ProviderUnreachable


def test_a_proxy_name_that_does_not_resolve_is_the_proxy_not_the_provider() -> None:
    transport = GuardedTransport(proxy_url="http://proxy.corp:3128",
                                 lookup=no_such_name("Name or service not known"))
    route = ProxyRoute(proxy(host="proxy.corp"))
    error, _ = post(Outbound(transport=transport), "http://idp.example/token", route)
    assert isinstance(error, ProxyRefused)
    assert "forward proxy" in error.message


@contextmanager
def plain_http_answering_at_once() -> Iterator[str]:
    """A server on 127.0.0.1 that answers every connection with a plain HTTP 400 at once,
    as a web server does to bytes it cannot read; yields its https:// URL."""

    def answer(conn: socket.socket, _: threading.Event) -> None:
        with conn:
            conn.sendall(head(400, length=0))

    with accepting(answer) as port:
        yield f"https://127.0.0.1:{port}/token"


def test_a_plain_http_server_on_an_https_address_is_a_tls_error() -> None:
    # The server answers at once: a server that waited for a request line would answer only
    # when the TLS hello happened to hold a newline byte, and the test would measure a race.
    with plain_http_answering_at_once() as url:
        error, _ = post(Outbound(), url)
    assert isinstance(error, ProviderTlsError)
    assert_plain(error)


def test_a_certificate_for_another_name_is_a_tls_error(self_signed: SelfSigned) -> None:
    # The certificate names 127.0.0.1; the URL names idp.example, resolved to 127.0.0.1.
    transport = GuardedTransport(verify=self_signed.trusting_client(),
                                 lookup=resolving_to("127.0.0.1"))
    with serve(answer_token, tls=self_signed.server) as server:
        url = server.url.replace("127.0.0.1", "idp.example")
        error, _ = post(Outbound(transport=transport), url)
    assert isinstance(error, ProviderTlsError)
    assert "idp.example" in error.message


@pytest.mark.parametrize(
    "text",
    ["[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: self-signed certificate "
     "(_ssl.c:1006)",
     "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)",
     "hostname 'idp.example' doesn't match certificate", "TLSV1_ALERT_PROTOCOL_VERSION"],
)
def test_tls_is_recognised_by_the_type_of_the_cause_not_by_words_in_a_message(text: str) -> None:
    typed = raised_from(TlsFailed("idp.example"), httpx.ConnectError(text))
    error = classify(typed, "https://idp.example/token", via_proxy=False)
    assert isinstance(error, ProviderTlsError)
    assert_plain(error)
    words = classify(httpx.ConnectError(text), "https://idp.example/token", via_proxy=False)
    assert type(words) is ProviderUnreachable


def test_an_egress_refusal_carries_the_address_and_its_reason() -> None:
    backend = GuardedBackend(EgressPolicy())
    with pytest.raises(EgressRefused) as caught:
        backend.connect_tcp("127.0.0.1", closed_port())
    assert (caught.value.host, caught.value.address, caught.value.reason) == \
        ("127.0.0.1", "127.0.0.1", "loopback")


def test_an_egress_refusal_is_recognised_by_its_type_not_by_words_in_a_message() -> None:
    refusal = EgressRefused("idp.example", "10.0.0.7", "private")
    typed = raised_from(refusal, httpx.ConnectError("anything at all"))
    error = classify(typed, "https://idp.example/t", via_proxy=False)
    assert isinstance(error, EgressDenied)
    assert error.message.startswith("Idp.example resolves to a private address; add it to ")
    words = httpx.ConnectError("egress policy: idp.example resolves to a private address")
    assert not isinstance(classify(words, "https://idp.example/t", via_proxy=False), EgressDenied)


def test_the_guard_connects_to_the_address_it_checked_not_to_a_second_answer() -> None:
    # idp.example "resolves" to 127.0.0.1 once: the connection goes to that checked address,
    # and a name whose only address is refused is never connected to.
    answers = iter([resolving_to("127.0.0.1"), resolving_to("169.254.169.254")])

    def rebinding(host: str, port: int) -> list[tuple[object, ...]]:
        return next(answers)(host, port)

    allowed = EgressPolicy.parse("127.0.0.1")
    with serve(answer_token) as server:
        url = server.url.replace("127.0.0.1", "idp.example")
        transport = GuardedTransport(policy=allowed, lookup=rebinding)
        reply = Outbound(transport=transport).post_form(url, FORM)
        assert reply.status == 200
        error, _ = post(Outbound(transport=GuardedTransport(policy=allowed, lookup=rebinding)),
                        url)
    assert isinstance(error, EgressDenied)
    assert "link-local" in error.message or "metadata" in error.message
    assert len(server.requests) == 1


def test_a_name_resolving_to_cloud_metadata_is_refused_without_advising_the_allowlist() -> None:
    transport = GuardedTransport(policy=EgressPolicy(), lookup=resolving_to("169.254.169.254"))
    error, _ = post(Outbound(transport=transport), "https://idp.example/token")

    assert isinstance(error, EgressDenied)
    assert "egress allowlist cannot allow" in error.message
    assert "add it to" not in error.message


def test_a_proxy_error_is_a_proxy_refusal() -> None:
    error = classify(httpx.ProxyError("407 Proxy Authentication Required"),
                     "https://idp.example/token", via_proxy=True)
    assert isinstance(error, ProxyRefused)


@pytest.mark.parametrize(
    ("exc", "expected"),
    [(httpx.ConnectTimeout("timed out"), ProviderTimeout),
     (httpx.PoolTimeout("timed out"), ProviderTimeout),
     (httpx.RemoteProtocolError("Server disconnected"), ProviderUnreachable),
     (httpx.ReadError("[Errno 104] Connection reset by peer"), ProviderUnreachable),
     (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'"),
      ProviderUnreachable)],
)
def test_other_failures_are_named_too(exc: httpx.HTTPError, expected: type[ProviderError]) -> None:
    error = classify(exc, "https://idp.example/token", via_proxy=False)
    assert type(error) is expected
    assert_plain(error)


# --- the forward proxy route --------------------------------------------------------------------


def proxy(*, enabled: bool = True, scheme: str = "http", host: str = "127.0.0.1",
          port: int | None = 3128, auth: str = "none", username: str = "",
          bypass: tuple[str, ...] = ()) -> ForwardProxy:
    return ForwardProxy(enabled, scheme, host, port, auth, username, auth == "basic", bypass,
                        None, "admin")


def test_a_disabled_proxy_means_going_direct() -> None:
    assert ProxyRoute(proxy(enabled=False)).url_for("https://idp.example/token") is None
    assert NO_PROXY.url_for("https://idp.example/token") is None


@pytest.mark.parametrize("target", ["https://idp.example/t", "https://login.corp.example/t",
                                    "https://10.1.2.3/t", "https://corp.example/t"])
def test_a_bypassed_host_goes_direct(target: str) -> None:
    route = ProxyRoute(proxy(bypass=("idp.example", "*.corp.example", "10.0.0.0/8")))
    assert route.url_for(target) is None


def test_other_hosts_go_through_the_proxy() -> None:
    route = ProxyRoute(proxy(host="proxy.corp", bypass=("*.corp.example",)))
    assert route.url_for("https://idp.example/t") == "http://proxy.corp:3128"
    assert route.url_for("https://corp.example.evil.test/t") == "http://proxy.corp:3128"


def test_basic_proxy_credentials_are_url_encoded_in_the_proxy_url() -> None:
    route = ProxyRoute(proxy(host="proxy.corp", auth="basic", username="dom\\us@er"),
                       Secret("p@ss:w/rd %+#"))
    assert route.url_for("https://idp.example/t") == (
        "http://dom%5Cus%40er:p%40ss%3Aw%2Frd%20%25%2B%23@proxy.corp:3128")
    assert "p@ss" not in repr(route)


def test_an_ipv6_proxy_is_bracketed_and_a_missing_port_left_to_the_scheme() -> None:
    assert ProxyRoute(proxy(host="fd00::1")).url_for("https://idp.example/") == \
        "http://[fd00::1]:3128"
    assert ProxyRoute(proxy(scheme="https", port=None)).url_for("https://idp.example/") == \
        "https://127.0.0.1"


def test_a_secret_never_shows_itself() -> None:
    assert repr(Secret("x")) == "Secret('********')"
    assert str(Secret("x")) == "Secret('********')"
    assert f"{Secret('x')}" == "Secret('********')"


def test_a_forward_proxy_whose_name_resolves_to_a_blocked_address_is_not_connected_to() -> None:
    with serve(answer_token) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        route = ProxyRoute(proxy(host="localhost", port=port), egress=EgressPolicy())
        error, _ = post(Outbound(), "http://93.184.215.14/token", route)

    assert isinstance(error, EgressDenied)
    assert "loopback" in error.message
    assert server.requests == []


def test_an_allowlisted_forward_proxy_is_connected_to() -> None:
    with serve(answer_token) as server:
        port = int(server.url.split(":")[2].split("/")[0])
        route = ProxyRoute(proxy(host="localhost", port=port),
                           egress=EgressPolicy.parse("127.0.0.1, ::1"))
        reply = Outbound().post_form("http://93.184.215.14/token", FORM, route=route)

    assert reply.status == 200
    assert len(server.requests) == 1
