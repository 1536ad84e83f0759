"""TCP: open_tcp_stream (Happy Eyeballs, RFC 8305), open_tcp_listeners, serve_tcp.

``open_tcp_stream`` resolves the host, orders the addresses (the first of
the other family moved up to second place, as trio does), then starts one connection attempt
after another, each ``happy_eyeballs_delay`` seconds after the previous one
(or at once when the previous one fails), keeps the first that connects and
closes the rest.  If all fail, the OSError lists every attempt.
"""

from __future__ import annotations

import errno
import socket as _stdlib_socket
from typing import Any, Final

from .. import _core
from .._core import TASK_STATUS_IGNORED, TaskStatus
from .._sync import Event
from .._timeouts import move_on_after
from . import _socket as tsocket
from ._serve import serve_listeners
from ._socket_stream import SocketListener, SocketStream

# Largest listen() backlog: the kernel caps it to its own maximum anyway.
_MAX_BACKLOG: Final = 0xFFFF


def _check_port(port: object, *, for_what: str) -> int:
    if not isinstance(port, int) or isinstance(port, bool):
        raise TypeError(f"port must be an int, not {port!r} ({for_what})")
    if not 0 <= port <= 65535:
        raise ValueError(f"port must be in the range 0-65535, got {port!r} ({for_what})")
    return port


def _compute_backlog(backlog: int | None) -> int:
    if backlog is None:
        return _MAX_BACKLOG
    if not isinstance(backlog, int):
        raise TypeError(f"backlog must be an int or None, not {backlog!r}")
    return min(backlog, _MAX_BACKLOG)


async def open_tcp_listeners(
    port: int, *, host: str | bytes | None = None, backlog: int | None = None
) -> list[SocketListener]:
    """Listen for TCP connections on ``port``: one listener per local address.

    Args:
        port: the port (0 picks a free one; ask the listener's socket which).
        host: the local address to bind (default: every interface, IPv4 and IPv6).
        backlog: the listen() queue length (default: as large as the system allows).

    Raises:
        TypeError: ``port`` is not an int.
        ValueError: ``port`` is outside 0-65535.
    """
    _check_port(port, for_what="open_tcp_listeners")
    backlog = _compute_backlog(backlog)
    addresses = await tsocket.getaddrinfo(
        host, port, type=_stdlib_socket.SOCK_STREAM, flags=_stdlib_socket.AI_PASSIVE
    )
    listeners: list[SocketListener] = []
    unsupported: list[OSError] = []
    try:
        for family, kind, proto, _, address in addresses:
            try:
                sock = tsocket.socket(family, kind, proto)
            except OSError as error:
                if error.errno == errno.EAFNOSUPPORT:
                    unsupported.append(error)
                    continue
                raise
            try:
                sock.setsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_REUSEADDR, 1)
                if family == _stdlib_socket.AF_INET6:
                    sock.setsockopt(_stdlib_socket.IPPROTO_IPV6, _stdlib_socket.IPV6_V6ONLY, 1)
                await sock.bind(address)
                sock.listen(backlog)
                listeners.append(SocketListener(sock))
            except BaseException:
                sock.close()
                raise
    except BaseException:
        for listener in listeners:
            listener.socket.close()
        raise
    if unsupported and not listeners:
        raise OSError(errno.EAFNOSUPPORT, "this system supports none of the address families")
    return listeners


async def serve_tcp(
    handler: Any,
    port: int,
    *,
    host: str | bytes | None = None,
    backlog: int | None = None,
    handler_nursery: _core.Nursery | None = None,
    task_status: TaskStatus[list[SocketListener]] = TASK_STATUS_IGNORED,
) -> None:
    """Listen on ``port`` and run ``await handler(stream)`` for each connection; runs forever.

    Use ``await nursery.start(serve_tcp, handler, 0)`` to learn the listeners
    (and so the port) once they are ready.  Each connection is closed when
    its handler returns.
    """
    listeners = await open_tcp_listeners(port, host=host, backlog=backlog)
    await serve_listeners(handler, listeners, handler_nursery=handler_nursery, task_status=task_status)


def _interleave_families(addresses: list[Any]) -> list[Any]:
    # As trio does (RFC 6555 section 5.4): the first address of the other
    # family moves up to second place; the rest keep the resolver's order.
    if not addresses:
        return addresses
    first_family = addresses[0][0]
    for index, info in enumerate(addresses):
        if info[0] != first_family:
            return [addresses[0], info, *addresses[1:index], *addresses[index + 1 :]]
    return addresses


def _format_host_port(host: str | bytes, port: int) -> str:
    text = host.decode() if isinstance(host, bytes) else host
    return f"[{text}]:{port}" if ":" in text else f"{text}:{port}"


async def open_tcp_stream(
    host: str | bytes,
    port: int,
    *,
    happy_eyeballs_delay: float | None = 0.25,
    local_address: str | None = None,
) -> SocketStream:
    """Connect to ``host``:``port`` over TCP and return a SocketStream.

    Tries every address the host resolves to, Happy-Eyeballs style: a new
    attempt starts every ``happy_eyeballs_delay`` seconds (``None``: wait
    for each attempt to fail first) while earlier ones continue; the first
    to connect wins.

    Args:
        local_address: the local IP address to connect from.

    Raises:
        socket.gaierror: ``host`` does not resolve.
        OSError: every attempt failed (the message lists them; ``__cause__``
            groups their errors).
        TypeError / ValueError: a bad ``host`` or ``port``.
    """
    if not isinstance(host, (str, bytes)):
        raise ValueError(f"host must be str or bytes, not {host!r}")
    _check_port(port, for_what="open_tcp_stream")
    if happy_eyeballs_delay is None:
        happy_eyeballs_delay = float("inf")
    elif happy_eyeballs_delay < 0:
        raise ValueError(f"happy_eyeballs_delay must be >= 0 or None, got {happy_eyeballs_delay!r}")
    targets = await tsocket.getaddrinfo(host, port, type=_stdlib_socket.SOCK_STREAM)
    if not targets:
        raise OSError(f"no addresses found for {_format_host_port(host, port)}")
    if len(targets) == 1:
        # One address: nothing to race, so no nursery, task or timer.
        return SocketStream(await _connect_one(targets[0], local_address, host, port))
    targets = _interleave_families(targets)
    winner: list[tsocket.SocketType] = []
    errors: list[OSError] = []
    open_sockets: set[tsocket.SocketType] = set()

    async def attempt(index: int, failed: Event, nursery: _core.Nursery) -> None:
        family, kind, proto, _, address = targets[index]
        try:
            sock = tsocket.socket(family, kind, proto)
        except OSError as error:
            errors.append(error)
            failed.set()
            return
        open_sockets.add(sock)
        try:
            if local_address is not None:
                await _bind_local(sock, local_address)
            await sock.connect(address)
        except OSError as error:
            errors.append(error)
            failed.set()
            return
        winner.append(sock)
        nursery.cancel_scope.cancel()

    try:
        async with _core.open_nursery() as nursery:
            for index in range(len(targets)):
                failed = Event()
                nursery.start_soon(attempt, index, failed, nursery)
                with move_on_after(happy_eyeballs_delay):
                    await failed.wait()
    finally:
        # Close every socket but the winner (also on cancellation or error).
        for sock in open_sockets:
            if not winner or sock is not winner[0]:
                sock.close()
    if winner:
        return SocketStream(winner[0])
    message = f"all attempts to connect to {_format_host_port(host, port)} failed"
    raise OSError(message) from ExceptionGroup(message, errors)


async def _connect_one(
    target: Any, local_address: str | None, host: str | bytes, port: int
) -> tsocket.SocketType:
    family, kind, proto, _, address = target
    sock = tsocket.socket(family, kind, proto)
    try:
        if local_address is not None:
            await _bind_local(sock, local_address)
        await sock.connect(address)
    except OSError as error:
        sock.close()
        message = f"all attempts to connect to {_format_host_port(host, port)} failed"
        raise OSError(message) from ExceptionGroup(message, [error])
    except BaseException:
        sock.close()
        raise
    return sock


async def _bind_local(sock: tsocket.SocketType, local_address: str) -> None:
    no_port = getattr(_stdlib_socket, "IP_BIND_ADDRESS_NO_PORT", None)
    if no_port is not None:
        # Let connect() pick the port, so many outgoing connections from one
        # local address do not exhaust the ports bind() would reserve.
        try:
            sock.setsockopt(_stdlib_socket.IPPROTO_IP, no_port, 1)
        except OSError:
            pass
    try:
        await sock.bind((local_address, 0))
    except OSError as error:
        raise OSError(
            error.errno, f"local_address={local_address!r} is incompatible with the remote address"
        ) from error
