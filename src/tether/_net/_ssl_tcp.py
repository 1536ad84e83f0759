"""TLS over TCP in one call: open_ssl_over_tcp_stream, open_ssl_over_tcp_listeners, serve_ssl_over_tcp.

Thin wrappers: the TCP part is ``open_tcp_stream`` / ``open_tcp_listeners``
/ ``serve_listeners``, the TLS part is SSLStream / SSLListener.  None of
them does the TLS handshake: it happens on the stream's first use, so a
slow client cannot hold up a server's accept loop.
"""

from __future__ import annotations

import ssl as _stdlib_ssl
from collections.abc import Awaitable, Callable
from typing import NoReturn

from .._core import TASK_STATUS_IGNORED, Nursery, TaskStatus
from .._streams import aclose_forcefully
from ._serve import serve_listeners
from ._socket_stream import SocketStream
from ._ssl import SSLListener, SSLStream
from ._tcp import open_tcp_listeners, open_tcp_stream


async def open_ssl_over_tcp_stream(
    host: str | bytes,
    port: int,
    *,
    https_compatible: bool = False,
    ssl_context: _stdlib_ssl.SSLContext | None = None,
    happy_eyeballs_delay: float | None = 0.25,
) -> SSLStream[SocketStream]:
    """Connect to ``host``:``port`` over TCP and wrap the connection in TLS. A checkpoint.

    The server's certificate is checked against ``host``.  The handshake
    happens on first use (or call ``do_handshake()``).

    Args:
        host: the server's name or address.
        port: the server's port.
        https_compatible: see :class:`SSLStream`.
        ssl_context: the client context (default: ``ssl.create_default_context()``).
        happy_eyeballs_delay: see :func:`tether.open_tcp_stream`.

    Returns:
        A client-side SSLStream over a SocketStream.

    Raises:
        OSError: the TCP connection failed.
    """
    tcp_stream = await open_tcp_stream(host, port, happy_eyeballs_delay=happy_eyeballs_delay)
    try:
        if ssl_context is None:
            ssl_context = _stdlib_ssl.create_default_context()
        return SSLStream(
            tcp_stream, ssl_context, server_hostname=host, https_compatible=https_compatible
        )
    except BaseException:
        await aclose_forcefully(tcp_stream)
        raise


async def open_ssl_over_tcp_listeners(
    port: int,
    ssl_context: _stdlib_ssl.SSLContext,
    *,
    host: str | bytes | None = None,
    https_compatible: bool = False,
    backlog: int | None = None,
) -> list[SSLListener[SocketStream]]:
    """Listen for TLS connections on ``port``: one SSLListener per TCP listener. A checkpoint.

    Args:
        port: the port (0 picks a free one).
        ssl_context: the server context (with its certificate loaded).
        host: the local address to bind (default: every interface).
        https_compatible: see :class:`SSLStream`.
        backlog: see :func:`tether.open_tcp_listeners`.

    Returns:
        The listeners; their ``transport_listener.socket`` tells the address.
    """
    tcp_listeners = await open_tcp_listeners(port, host=host, backlog=backlog)
    return [
        SSLListener(listener, ssl_context, https_compatible=https_compatible) for listener in tcp_listeners
    ]


async def serve_ssl_over_tcp(
    handler: Callable[[SSLStream[SocketStream]], Awaitable[object]],
    port: int,
    ssl_context: _stdlib_ssl.SSLContext,
    *,
    host: str | bytes | None = None,
    https_compatible: bool = False,
    backlog: int | None = None,
    handler_nursery: Nursery | None = None,
    task_status: TaskStatus[list[SSLListener[SocketStream]]] = TASK_STATUS_IGNORED,
) -> NoReturn:
    """Serve TLS over TCP on ``port``: ``await handler(stream)`` for each connection; runs forever.

    ``await nursery.start(serve_ssl_over_tcp, handler, 0, ctx)`` returns
    the listeners once they accept.  Each stream is closed when its
    handler returns; the handshake happens on the stream's first use, so
    a client sending garbage only breaks its own stream (the handler sees
    BrokenResourceError).

    Args:
        handler: async function called with each new SSLStream.
        port: the port (0 picks a free one).
        ssl_context: the server context.
        host: the local address to bind (default: every interface).
        https_compatible: see :class:`SSLStream`.
        backlog: see :func:`tether.open_tcp_listeners`.
        handler_nursery: where handlers run (default: an internal nursery).
        task_status: receives the list of SSLListeners.
    """
    listeners = await open_ssl_over_tcp_listeners(
        port, ssl_context, host=host, https_compatible=https_compatible, backlog=backlog
    )
    await serve_listeners(handler, listeners, handler_nursery=handler_nursery, task_status=task_status)
