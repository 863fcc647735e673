"""TCP streams for httpcore's asynchronous pool on asyncio's own streams, with bounded reads.

httpcore's ``AnyIOBackend`` queues whatever the event loop reads: under uvloop, libuv reads a
readable socket up to 32 times per loop iteration (256 KiB each) before the task that consumes
the data runs, so a fast API sending a large body to a slower caller piles up about 8 MB per
connection in memory. asyncio's ``StreamReader`` stops reading the socket as soon as it holds
more than twice its ``limit`` (inside the read callback), so a body passing through the API
proxy keeps at most a few hundred KiB in memory, whatever its size.

Errors are httpcore's (``ConnectError``, ``ReadError``, ``WriteTimeout``, ...), as from its own
backends; a failed TLS handshake is a ``ConnectError`` raised from the ``ssl.SSLError``, which
:class:`tokendesk.oauth.egress.AsyncTypedStream` turns into ``TlsFailed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore

READ_LIMIT_BYTES = 64 * 1024  # the reader stops the socket beyond twice this


@contextlib.contextmanager
def _mapped(
    timeout_error: type[Exception], os_error: type[Exception]
) -> Iterator[None]:
    try:
        yield
    except TimeoutError as exc:
        raise timeout_error(str(exc) or "timed out") from exc
    except (OSError, EOFError, asyncio.IncompleteReadError) as exc:
        raise os_error(str(exc) or type(exc).__name__) from exc


async def connect_tcp(
    address: str,
    port: int,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: Iterable[Any] | None = None,
) -> AsyncioStream:
    """A TCP stream to ``address`` (an IP address already checked by the caller)."""
    local = (local_address, 0) if local_address else None
    with _mapped(httpcore.ConnectTimeout, httpcore.ConnectError):
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection(
                address, port, limit=READ_LIMIT_BYTES, local_addr=local
            )
    sock = writer.get_extra_info("socket")
    for option in socket_options or ():
        sock.setsockopt(*option)
    return AsyncioStream(reader, writer)


class AsyncioStream(httpcore.AsyncNetworkStream):
    """An ``httpcore.AsyncNetworkStream`` over asyncio's ``StreamReader``/``StreamWriter``."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        with _mapped(httpcore.ReadTimeout, httpcore.ReadError):
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        with _mapped(httpcore.WriteTimeout, httpcore.WriteError):
            async with asyncio.timeout(timeout):
                self._writer.write(buffer)
                await self._writer.drain()

    async def aclose(self) -> None:
        self._writer.close()
        with contextlib.suppress(Exception):
            await self._writer.wait_closed()

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """This stream, upgraded in place to TLS (``StreamWriter.start_tls``)."""
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError as exc:
            await self.aclose()
            raise httpcore.ConnectTimeout("the TLS handshake timed out") from exc
        except (OSError, ssl.SSLError) as exc:
            await self.aclose()
            raise httpcore.ConnectError(str(exc) or type(exc).__name__) from exc
        return self

    def get_extra_info(self, info: str) -> Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            return self._readable()
        return None

    def _readable(self) -> bool:
        """An idle kept-alive connection that is readable was closed by the server (or sent
        something unasked): httpcore then opens a new one instead of reusing it."""
        return self._reader.at_eof() or self._writer.is_closing()
