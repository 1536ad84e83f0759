"""SocketStream and SocketListener: the Stream and Listener over a tether socket.

``receive_some`` and ``send_all`` go straight to the socket's try-first
methods; a flag per direction (not a lock) detects two tasks using one
direction at once.  OS errors become the stream errors users catch:
ClosedResourceError if we closed it, BrokenResourceError otherwise.
"""

from __future__ import annotations

import errno
import socket as _stdlib_socket
from typing import TYPE_CHECKING, Final, NoReturn, final, overload

from .. import _core
from .._abc import HalfCloseableStream, Listener
from .._core import RUN as _RUN
from ._socket import SocketType, _current_task_checked

if TYPE_CHECKING:
    from typing_extensions import Buffer

DEFAULT_RECEIVE_SIZE: Final = 65536
# receive_some waits before its first recv() once this many calls in a row
# found nothing to read, and still tries first on every _PROBE_EVERY-th: a
# probe that finds data ends the streak (the peer is streaming).  A failed
# try costs a raised BlockingIOError, so the probe is rare; and a read that
# fills max_bytes is no sign of more to come (request/response readers ask
# for exactly one message).
_WAIT_FIRST_AFTER: Final = 2
_PROBE_EVERY: Final = 32
_READ: Final = _core.READ
_WRITE: Final = _core.WRITE

# accept() errors that concern one incoming connection, not the listener.
_IGNORABLE_ACCEPT_ERRNOS: Final = frozenset(
    getattr(errno, name)
    for name in (
        "EPROTO", "ECONNABORTED", "ECONNRESET", "ENETDOWN", "ENOPROTOOPT", "EHOSTDOWN",
        "ENONET", "EHOSTUNREACH", "EOPNOTSUPP", "ENETUNREACH",
    )
    if hasattr(errno, name)
)


def _stream_error(sock: SocketType, error: OSError) -> Exception:
    # The stream-level exception for an OS error on ``sock``.
    if error.errno in (errno.EBADF, errno.ENOTSOCK) or sock.fileno() == -1:
        return _core.ClosedResourceError("this socket was already closed")
    broken = _core.BrokenResourceError(f"socket connection broken: {error}")
    broken.__cause__ = error
    return broken


def _raise_busy(what: str) -> NoReturn:
    raise _core.BusyResourceError(f"another task is currently {what} on this stream")


@final
class SocketStream(HalfCloseableStream):
    """A HalfCloseableStream over a connected SOCK_STREAM tether socket.

    TCP_NODELAY is turned on for TCP sockets (small writes go out at once).

    Args:
        socket: a connected ``tether.socket.SocketType`` of type SOCK_STREAM.
    """

    __slots__ = ("_receiving", "_sending", "_wait_streak", "socket")

    def __init__(self, socket: SocketType) -> None:
        if not isinstance(socket, SocketType):
            raise TypeError(f"SocketStream requires a tether socket object, not {socket!r}")
        if socket.type != _stdlib_socket.SOCK_STREAM:
            raise ValueError("SocketStream requires a SOCK_STREAM socket")
        self.socket = socket
        self._sending = False
        self._receiving = False
        # How many receives in a row found nothing on their first try.
        self._wait_streak = 0
        try:
            socket.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NODELAY, True)
        except OSError:
            pass  # not TCP (a Unix socket, say)
        if hasattr(_stdlib_socket, "TCP_NOTSENT_LOWAT"):
            try:
                # Keeps wait_send_all_might_not_block meaningful: the kernel
                # reports writable only when little data is queued.
                socket.setsockopt(_stdlib_socket.IPPROTO_TCP, _stdlib_socket.TCP_NOTSENT_LOWAT, 2**14)
            except OSError:
                pass

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Send all of ``data``. A checkpoint.

        Raises:
            BusyResourceError: another task is sending on this stream.
            BrokenResourceError: the connection broke.
            ClosedResourceError: the stream was closed.
        """
        # Hot path: one send() system call and one yield for a send that
        # fits in the socket buffer; a memoryview only for partial sends.
        if self._sending:
            _raise_busy("sending")
        if isinstance(data, str):
            raise TypeError("send_all needs bytes-like data, not str: encode it first")
        sock = self.socket
        if sock._did_shutdown_SHUT_WR:
            raise _core.ClosedResourceError("can't send data after sending EOF")
        runner = _RUN.runner
        task = runner.current if runner is not None else None
        if task is None:
            task = _current_task_checked()  # raises
        self._sending = True
        try:
            if task._cancel_status.effectively_cancelled:
                await _core.checkpoint()
            raw = sock._sock
            try:
                sent = raw.send(data)
            except BlockingIOError:
                sent = 0
            except OSError as error:
                raise _stream_error(sock, error) from None
            total = len(data) if type(data) is bytes or type(data) is bytearray else memoryview(data).nbytes
            if sent >= total:
                if not total and raw.fileno() == -1:
                    raise _core.ClosedResourceError("this socket was already closed")
                await _core.checked_schedule_point()
                return
            with memoryview(data) as view, view.cast("B") as flat:
                while True:
                    try:
                        await sock._wait(_WRITE)
                        sent += raw.send(flat[sent:])
                    except BlockingIOError:
                        continue
                    except OSError as error:
                        raise _stream_error(sock, error) from None
                    if sent >= total:
                        break
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Block until the socket can take more data. A checkpoint."""
        if self._sending:
            _raise_busy("sending")
        self._sending = True
        try:
            if self.socket.fileno() == -1:
                raise _core.ClosedResourceError("this socket was already closed")
            try:
                await self.socket.wait_writable()
            except OSError as error:
                raise _stream_error(self.socket, error) from None
        finally:
            self._sending = False

    async def send_eof(self) -> None:
        """Shut down the sending side (the peer reads EOF); receiving still works. A checkpoint."""
        if self._sending:
            _raise_busy("sending")
        self._sending = True
        try:
            await _core.checkpoint()
            if self.socket.did_shutdown_SHUT_WR:
                return
            try:
                self.socket.shutdown(_stdlib_socket.SHUT_WR)
            except OSError as error:
                raise _stream_error(self.socket, error) from None
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Receive up to ``max_bytes`` (default 64 KiB); ``b""`` at EOF. A checkpoint.

        Raises:
            ValueError: ``max_bytes`` is less than 1.
            BusyResourceError: another task is receiving on this stream.
            BrokenResourceError: the connection broke.
            ClosedResourceError: the stream was closed.
        """
        if max_bytes is None:
            max_bytes = DEFAULT_RECEIVE_SIZE
        elif max_bytes < 1:
            raise ValueError(f"max_bytes must be >= 1, got {max_bytes!r}")
        if self._receiving:
            _raise_busy("receiving")
        runner = _RUN.runner
        task = runner.current if runner is not None else None
        if task is None:
            task = _current_task_checked()  # raises
        sock = self.socket
        raw = sock._sock
        self._receiving = True
        try:
            if task._cancel_status.effectively_cancelled:
                await _core.checkpoint()
            # Try recv() first, unless this stream's recent first tries all
            # found nothing (request/response traffic): then a failed try is
            # a wasted system call per message, so wait first, and probe
            # with a try every _PROBE_EVERY calls to notice streaming again.
            data: bytes
            streak = self._wait_streak
            if streak < _WAIT_FIRST_AFTER or streak % _PROBE_EVERY == 0:
                try:
                    data = raw.recv(max_bytes)
                except BlockingIOError:
                    self._wait_streak = streak + 1
                except OSError as error:
                    raise _stream_error(sock, error) from None
                else:
                    self._wait_streak = 0
                    await _core.checked_schedule_point()
                    return data
            else:
                self._wait_streak = streak + 1
            while True:
                try:
                    await task._runner.io.wait_for(sock._fd, _READ, sock)
                except OSError as error:  # EBADF: closed before we got to wait
                    raise _stream_error(sock, error) from None
                try:
                    data = raw.recv(max_bytes)
                except BlockingIOError:
                    pass
                except OSError as error:
                    raise _stream_error(sock, error) from None
                else:
                    return data
        finally:
            self._receiving = False

    async def aclose(self) -> None:
        """Close the socket. A checkpoint; idempotent."""
        self.socket.close()
        await _core.checkpoint()

    @overload
    def setsockopt(self, level: int, option: int, value: int | Buffer) -> None: ...

    @overload
    def setsockopt(self, level: int, option: int, value: None, length: int) -> None: ...

    def setsockopt(
        self, level: int, option: int, value: int | Buffer | None, length: int | None = None
    ) -> None:
        """Set an option on the underlying socket."""
        self.socket.setsockopt(level, option, value, length)

    @overload
    def getsockopt(self, level: int, option: int) -> int: ...

    @overload
    def getsockopt(self, level: int, option: int, buffersize: int) -> bytes: ...

    def getsockopt(self, level: int, option: int, buffersize: int = 0) -> int | bytes:
        """Read an option of the underlying socket."""
        if buffersize == 0:
            return self.socket.getsockopt(level, option)
        return self.socket.getsockopt(level, option, buffersize)


@final
class SocketListener(Listener[SocketStream]):
    """A Listener that accepts connections on a listening tether socket.

    Args:
        socket: a bound, listening ``tether.socket.SocketType`` of type SOCK_STREAM.
    """

    __slots__ = ("socket",)

    def __init__(self, socket: SocketType) -> None:
        if not isinstance(socket, SocketType):
            raise TypeError(f"SocketListener requires a tether socket object, not {socket!r}")
        if socket.type != _stdlib_socket.SOCK_STREAM:
            raise ValueError("SocketListener requires a SOCK_STREAM socket")
        try:
            listening = socket.getsockopt(_stdlib_socket.SOL_SOCKET, _stdlib_socket.SO_ACCEPTCONN)
        except OSError:
            pass  # the platform cannot tell
        else:
            if not listening:
                raise ValueError("SocketListener requires a listening socket: call listen() first")
        self.socket = socket

    async def accept(self) -> SocketStream:
        """Accept the next connection. A checkpoint.

        Raises:
            ClosedResourceError: the listener was closed.
            OSError: the system refused (for example EMFILE: too many open files).
        """
        while True:
            try:
                sock, _ = await self.socket.accept()
            except OSError as error:
                if error.errno in (errno.EBADF, errno.ENOTSOCK):
                    raise _core.ClosedResourceError("this listener was closed") from None
                if error.errno not in _IGNORABLE_ACCEPT_ERRNOS:
                    raise
            else:
                return SocketStream(sock)

    async def aclose(self) -> None:
        """Close the listening socket. A checkpoint; idempotent."""
        self.socket.close()
        await _core.checkpoint()
