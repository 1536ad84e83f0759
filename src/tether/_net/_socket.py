"""tether.socket's SocketType: a stdlib socket made async, and name resolution.

Every method that can block tries the system call first and waits for
readiness only on BlockingIOError ("try first, then wait"); it is a
checkpoint either way: cancellation is checked before the call, and a
call that did not need to wait still yields once (a shielded schedule
point), so a busy socket cannot starve other tasks.

The wrapped socket's fd keeps its epoll registration between waits (see
``_core._io``); ``close()`` and ``detach()`` drop it first.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import select
import socket as _stdlib_socket
import sys
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, Any, Final, NoReturn, SupportsIndex, TypeVar, final, overload

import idna

from .. import _core
from .._abc import HostnameResolver, SocketFactory

if TYPE_CHECKING:
    from typing import Self

    from typing_extensions import Buffer

T = TypeVar("T")
AddressFormat = Any

_READ: Final = _core.READ
_WRITE: Final = _core.WRITE
_RUN: Final = _core.RUN

# Per run, as in trio: a resolver or factory set in one run is gone in the next.
_resolver: _core.RunVar[HostnameResolver | None] = _core.RunVar("hostname_resolver", None)
_socket_factory: _core.RunVar[SocketFactory | None] = _core.RunVar("socket_factory", None)


def set_custom_hostname_resolver(
    hostname_resolver: HostnameResolver | None,
) -> HostnameResolver | None:
    """Route ``getaddrinfo`` / ``getnameinfo`` through ``hostname_resolver`` for this run.

    Returns the previous resolver; ``None`` restores the default (the
    system resolver in a worker thread).
    """
    previous = _resolver.get()
    _resolver.set(hostname_resolver)
    return previous


def set_custom_socket_factory(socket_factory: SocketFactory | None) -> SocketFactory | None:
    """Make ``tether.socket.socket()`` (without ``fileno``) call ``socket_factory``, for this run.

    Returns the previous factory; ``None`` restores the default.
    """
    previous = _socket_factory.get()
    _socket_factory.set(socket_factory)
    return previous


# ---- name resolution ---------------------------------------------------------------------


def _encode_host(host: bytes | str | None) -> bytes | None:
    if host is None or isinstance(host, bytes):
        return host
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        pass
    else:
        return host.encode("ascii")
    return encode_hostname(host)


def encode_hostname(hostname: str) -> bytes:
    """IDNA-encode ``hostname`` as trio does (IDNA 2008, UTS-46 mapping, with a fallback)."""
    try:
        return idna.encode(hostname, uts46=True)
    except idna.IDNAError:
        try:
            return hostname.encode("idna")
        except UnicodeError as error:
            raise ValueError(f"cannot encode hostname {hostname!r}: {error}") from None


async def getaddrinfo(
    host: bytes | str | None,
    port: bytes | str | int | None,
    family: int = 0,
    type: int = 0,
    proto: int = 0,
    flags: int = 0,
) -> list[tuple[Any, Any, int, str, Any]]:
    """Look up ``host``/``port`` like ``socket.getaddrinfo``, without blocking the loop.

    Numeric addresses are resolved at once; names go to the custom resolver
    if one is set, else to the system resolver in a worker thread.  Host
    names are IDNA-encoded.  A checkpoint.

    Raises:
        socket.gaierror: the name does not resolve.
    """
    encoded = _encode_host(host)
    numeric: list[tuple[Any, Any, int, str, Any]]
    try:
        numeric = _stdlib_socket.getaddrinfo(
            encoded, port, family, type, proto, flags | _stdlib_socket.AI_NUMERICHOST
        )
    except _stdlib_socket.gaierror as error:
        if error.errno not in (_stdlib_socket.EAI_NONAME, _stdlib_socket.EAI_NODATA):
            raise
    else:
        await _core.checkpoint()
        return numeric
    resolver = _resolver.get()
    if resolver is not None:
        return await resolver.getaddrinfo(encoded, port, family, type, proto, flags)
    from .._threads import to_thread_run_sync

    resolved: list[tuple[Any, Any, int, str, Any]] = await to_thread_run_sync(
        _stdlib_socket.getaddrinfo, encoded, port, family, type, proto, flags,
        abandon_on_cancel=True,
    )
    return resolved


async def getnameinfo(
    sockaddr: tuple[str, int] | tuple[str, int, int, int], flags: int
) -> tuple[str, str]:
    """Reverse-resolve ``sockaddr`` like ``socket.getnameinfo``, in a worker thread."""
    resolver = _resolver.get()
    if resolver is not None:
        return await resolver.getnameinfo(sockaddr, flags)
    from .._threads import to_thread_run_sync

    names: tuple[str, str] = await to_thread_run_sync(
        _stdlib_socket.getnameinfo, sockaddr, flags, abandon_on_cancel=True
    )
    return names


async def getprotobyname(name: str) -> int:
    """``socket.getprotobyname`` in a worker thread."""
    from .._threads import to_thread_run_sync

    number: int = await to_thread_run_sync(
        _stdlib_socket.getprotobyname, name, abandon_on_cancel=True
    )
    return number


# ---- making sockets ---------------------------------------------------------------------


def from_stdlib_socket(sock: _stdlib_socket.socket) -> SocketType:
    """Wrap a standard-library socket (it is made non-blocking)."""
    return SocketType._wrap(sock)


def fromfd(
    fd: SupportsIndex, family: int, type: int, proto: int = 0
) -> SocketType:
    """Like ``socket.fromfd``: duplicate ``fd`` and wrap it."""
    return from_stdlib_socket(_stdlib_socket.fromfd(fd, family, type, proto))


def socketpair(
    family: int | None = None, type: int = _stdlib_socket.SOCK_STREAM, proto: int = 0
) -> tuple[SocketType, SocketType]:
    """Like ``socket.socketpair``, returning two tether sockets."""
    left, right = _stdlib_socket.socketpair(family, type, proto)
    return from_stdlib_socket(left), from_stdlib_socket(right)


def socket(
    family: int = -1, type: int = -1, proto: int = -1, fileno: int | None = None
) -> SocketType:
    """Create a tether socket, like ``socket.socket`` (or through the custom factory)."""
    if fileno is None:
        family = _stdlib_socket.AF_INET if family == -1 else family
        type = _stdlib_socket.SOCK_STREAM if type == -1 else type
        proto = 0 if proto == -1 else proto
        factory = _socket_factory.get()
        if factory is not None:
            made: SocketType = factory.socket(family, type, proto)
            return made
    return from_stdlib_socket(_stdlib_socket.socket(family, type, proto, fileno))


def _current_task_checked() -> _core.Task:
    runner = _RUN.runner
    task = None if runner is None else runner.current
    if task is None:
        raise RuntimeError(
            "must be called from async context: tether sockets work inside tether.run()"
        )
    return task


def _raise_closed() -> NoReturn:
    raise OSError(errno.EBADF, "Bad file descriptor: the socket was closed")


@final
class SocketType:
    """A non-blocking socket whose blocking methods are async (``tether.socket.socket()``).

    Sync methods and attributes are those of the standard socket.  The
    wrapped standard socket is ``sock._sock``.
    """

    __slots__ = ("__weakref__", "_did_shutdown_SHUT_WR", "_fd", "_sock")
    _sock: _stdlib_socket.socket
    _fd: int
    _did_shutdown_SHUT_WR: bool

    def __init__(self) -> None:
        raise TypeError(
            "SocketType has no public constructor; use tether.socket.socket() or "
            "tether.socket.from_stdlib_socket()"
        )

    @classmethod
    def _wrap(cls, sock: _stdlib_socket.socket) -> SocketType:
        if type(sock) is not _stdlib_socket.socket and not isinstance(sock, _stdlib_socket.socket):
            raise TypeError(f"expected a socket.socket, got {sock!r}")
        self = cls.__new__(cls)
        sock.setblocking(False)
        self._sock = sock
        self._fd = sock.fileno()
        self._did_shutdown_SHUT_WR = False
        return self

    # ---- sync forwarding -----------------------------------------------------------

    def detach(self) -> int:
        """Forget the fd without closing it, and return it."""
        self._forget_registration()
        return self._sock.detach()

    def fileno(self) -> int:
        return self._sock.fileno()

    def getpeername(self) -> AddressFormat:
        return self._sock.getpeername()

    def getsockname(self) -> AddressFormat:
        return self._sock.getsockname()

    @overload
    def getsockopt(self, level: int, optname: int) -> int: ...

    @overload
    def getsockopt(self, level: int, optname: int, buflen: int) -> bytes: ...

    def getsockopt(self, level: int, optname: int, buflen: int | None = None) -> int | bytes:
        if buflen is None:
            return self._sock.getsockopt(level, optname)
        return self._sock.getsockopt(level, optname, buflen)

    def setsockopt(
        self, level: int, optname: int, value: int | Buffer | None, optlen: int | None = None
    ) -> None:
        if optlen is None:
            if value is None:
                raise TypeError("optlen must be given when value is None")
            self._sock.setsockopt(level, optname, value)
        else:
            if value is not None:
                raise TypeError("value must be None when optlen is given")
            self._sock.setsockopt(level, optname, None, optlen)

    def listen(self, backlog: int = min(_stdlib_socket.SOMAXCONN, 128)) -> None:
        self._sock.listen(backlog)

    def get_inheritable(self) -> bool:
        return self._sock.get_inheritable()

    def set_inheritable(self, inheritable: bool) -> None:
        self._sock.set_inheritable(inheritable)

    def shutdown(self, flag: int) -> None:
        self._sock.shutdown(flag)
        if flag in (_stdlib_socket.SHUT_WR, _stdlib_socket.SHUT_RDWR):
            self._did_shutdown_SHUT_WR = True

    def is_readable(self) -> bool:
        """Whether a receive would not block right now (data, EOF or an error is pending)."""
        if self._sock.fileno() == -1:
            _raise_closed()
        poller = select.poll()
        poller.register(self._sock, select.POLLIN)
        return bool(poller.poll(0))

    def dup(self) -> SocketType:
        return from_stdlib_socket(self._sock.dup())

    def close(self) -> None:
        """Close the socket; tasks waiting on it get ClosedResourceError. Not a checkpoint."""
        if self._sock.fileno() != -1:
            self._forget_registration()
            self._sock.close()

    def _forget_registration(self) -> None:
        runner = _RUN.runner
        if runner is not None and self._fd in runner.io.waiting:
            runner.io.forget(self._fd)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def family(self) -> _stdlib_socket.AddressFamily:
        return self._sock.family

    @property
    def type(self) -> _stdlib_socket.SocketKind:
        return self._sock.type

    @property
    def proto(self) -> int:
        return self._sock.proto

    @property
    def did_shutdown_SHUT_WR(self) -> bool:
        return self._did_shutdown_SHUT_WR

    def __repr__(self) -> str:
        return repr(self._sock).replace("socket.socket", "tether.socket.socket", 1)

    # ---- waiting -------------------------------------------------------------------

    async def wait_writable(self) -> None:
        """Block until the socket is writable. A checkpoint."""
        await _core.current_runner().io.wait_for(self._fd, _WRITE, self)

    def _wait(self, direction: int) -> Awaitable[None]:
        # Callers are inside a task (they checked), so the runner exists.
        waiting: Awaitable[None] = _RUN.runner.io.wait_for(  # type: ignore[union-attr]
            self._fd, direction, self
        )
        return waiting

    async def _nonblocking(
        self, direction: int, method: Callable[..., T], *args: Any
    ) -> T:
        # Try first, then wait.  Cancellation is checked before the call;
        # a call that did not have to wait still yields once, shielded.
        task = _current_task_checked()
        if task._cancel_status.effectively_cancelled:
            await _core.checkpoint()
        try:
            result = method(*args)
        except BlockingIOError:
            pass
        else:
            await _core.checked_schedule_point()
            return result
        while True:
            await self._wait(direction)
            try:
                return method(*args)
            except BlockingIOError:
                pass

    # ---- async methods ---------------------------------------------------------------

    async def bind(self, address: AddressFormat) -> None:
        """Bind, resolving the host name first if needed. A checkpoint."""
        address = await self._resolve_address(address, local=True)
        self._sock.bind(address)

    async def _resolve_address(self, address: AddressFormat, *, local: bool) -> AddressFormat:
        family = self._sock.family
        if family not in (_stdlib_socket.AF_INET, _stdlib_socket.AF_INET6):
            await _core.checkpoint()
            return address
        if not isinstance(address, tuple) or len(address) < 2:
            raise ValueError(f"address should be a (host, port) tuple, not {address!r}")
        host, port, *rest = address
        if host == "" or host is None:
            host = None
        elif host == "<broadcast>":
            await _core.checkpoint()
            return address
        flags = _stdlib_socket.AI_PASSIVE if local else 0
        if family == _stdlib_socket.AF_INET6 and not self._sock.getsockopt(
            _stdlib_socket.IPPROTO_IPV6, _stdlib_socket.IPV6_V6ONLY
        ):
            flags |= _stdlib_socket.AI_V4MAPPED
        results = await getaddrinfo(host, port, family, self._sock.type, self._sock.proto, flags)
        resolved = results[0][-1]
        if family == _stdlib_socket.AF_INET6 and rest:
            resolved = (*resolved[:2], *rest)
        return resolved

    async def connect(self, address: AddressFormat) -> None:
        """Connect to ``address`` (resolving it first). A checkpoint.

        If cancelled while connecting, the socket is closed (its state would
        be unknown).
        """
        address = await self._resolve_address(address, local=False)
        try:
            self._sock.connect(address)
        except BlockingIOError:
            pass
        else:
            await _core.checked_schedule_point()
            return
        try:
            await self._wait(_WRITE)
        except _core.Cancelled:
            self.close()
            raise
        error = self._sock.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_ERROR)
        if error:
            raise OSError(error, f"Error connecting to {address!r}: {os.strerror(error)}")

    async def accept(self) -> tuple[SocketType, AddressFormat]:
        """Accept a connection: ``(socket, address)``. A checkpoint."""
        sock, address = await self._nonblocking(_READ, self._sock.accept)
        return from_stdlib_socket(sock), address

    async def recv(self, buflen: int, flags: int = 0, /) -> bytes:
        """Like ``socket.recv``. A checkpoint."""
        return await self._nonblocking(_READ, self._sock.recv, buflen, flags)

    async def recv_into(self, buffer: Buffer, nbytes: int = 0, flags: int = 0) -> int:
        """Like ``socket.recv_into``. A checkpoint."""
        return await self._nonblocking(_READ, self._sock.recv_into, buffer, nbytes, flags)

    async def recvfrom(self, bufsize: int, flags: int = 0, /) -> tuple[bytes, AddressFormat]:
        """Like ``socket.recvfrom``. A checkpoint."""
        return await self._nonblocking(_READ, self._sock.recvfrom, bufsize, flags)

    async def recvfrom_into(
        self, buffer: Buffer, nbytes: int = 0, flags: int = 0
    ) -> tuple[int, AddressFormat]:
        """Like ``socket.recvfrom_into``. A checkpoint."""
        return await self._nonblocking(_READ, self._sock.recvfrom_into, buffer, nbytes, flags)

    async def recvmsg(
        self, bufsize: int, ancbufsize: int = 0, flags: int = 0, /
    ) -> tuple[bytes, list[tuple[int, int, bytes]], int, Any]:
        """Like ``socket.recvmsg``. A checkpoint."""
        return await self._nonblocking(_READ, self._sock.recvmsg, bufsize, ancbufsize, flags)

    async def recvmsg_into(
        self, buffers: Iterable[Buffer], ancbufsize: int = 0, flags: int = 0, /
    ) -> tuple[int, list[tuple[int, int, bytes]], int, Any]:
        """Like ``socket.recvmsg_into``. A checkpoint."""
        return await self._nonblocking(
            _READ, self._sock.recvmsg_into, buffers, ancbufsize, flags
        )

    async def send(self, data: Buffer, flags: int = 0, /) -> int:
        """Like ``socket.send``: returns how many bytes were sent. A checkpoint."""
        return await self._nonblocking(_WRITE, self._sock.send, data, flags)

    async def sendto(self, *args: Any) -> int:
        """Like ``socket.sendto(data[, flags], address)`` (the address is resolved). A checkpoint."""
        *head, address = args
        address = await self._resolve_address(address, local=False)
        return await self._nonblocking(_WRITE, self._sock.sendto, *head, address)

    if sys.platform != "win32" or hasattr(_stdlib_socket.socket, "sendmsg"):

        async def sendmsg(
            self,
            buffers: Iterable[Buffer],
            ancdata: Iterable[tuple[int, int, Buffer]] = (),
            flags: int = 0,
            address: AddressFormat | None = None,
            /,
        ) -> int:
            """Like ``socket.sendmsg`` (the address, if any, is resolved). A checkpoint."""
            if address is not None:
                address = await self._resolve_address(address, local=False)
                return await self._nonblocking(
                    _WRITE, self._sock.sendmsg, buffers, ancdata, flags, address
                )
            return await self._nonblocking(_WRITE, self._sock.sendmsg, buffers, ancdata, flags)
