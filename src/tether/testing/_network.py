"""open_stream_to_socket_listener: connect a client to a listener a test just opened."""

from __future__ import annotations

import socket as _stdlib_socket
from typing import Any

from .._net._socket import socket as _tether_socket
from .._net._socket_stream import SocketListener, SocketStream

# A listener bound to the wildcard address is reached through loopback.
_LOOPBACK_FOR_WILDCARD = {"0.0.0.0": "127.0.0.1", "::": "::1"}


async def open_stream_to_socket_listener(socket_listener: SocketListener) -> SocketStream:
    """Connect to ``socket_listener``'s own address and return the client stream.

    Handy when a test lets the listener pick its port (``port=0``).  A
    listener bound to ``0.0.0.0`` or ``::`` is reached through loopback.
    A checkpoint.

    Args:
        socket_listener: a listening :class:`tether.SocketListener`.

    Returns:
        A connected :class:`tether.SocketStream`.

    Raises:
        OSError: the connection failed.
    """
    listening = socket_listener.socket
    family = listening.family
    address: Any = listening.getsockname()
    if family in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
        host = _LOOPBACK_FOR_WILDCARD.get(address[0], address[0])
        address = (host, *address[1:])
    sock = _tether_socket(family)
    try:
        await sock.connect(address)
    except BaseException:
        sock.close()
        raise
    return SocketStream(sock)
