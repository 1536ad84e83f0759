"""``FdStream``: a Stream over a Unix file descriptor (a pipe end, a tty, ...).

The stream owns its fd and switches it to non-blocking mode.  O_NONBLOCK
belongs to the open file *description*, which other processes may share
(a terminal inherited from the shell, a pipe passed to a child): so the
stream restores the original mode when it closes, and a description shared
with a process that expects blocking I/O should be given to FdStream only
through a fresh one (``os.open("/dev/tty")``) or not at all.

Reads and writes try the syscall first and wait for readiness only when it
would block.
"""

from __future__ import annotations

import errno
import os
from typing import Final, final

from ._abc import Stream
from ._core import (
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    notify_closing,
    wait_readable,
    wait_writable,
)

DEFAULT_RECEIVE_SIZE: Final = 65536


@final
class FdStream(Stream):
    """A ``tether.abc.Stream`` over a Unix file descriptor (pipe, fifo, tty, socket).

    The stream takes ownership of ``fd``: it sets it non-blocking and closes
    it in ``aclose()`` (restoring its original blocking mode first, since
    that mode is shared with every other holder of the same open file
    description).  Pass ``os.dup(fd)`` to keep your own copy.  Only one task
    may send and one may receive at a time.

    Args:
        fd: the file descriptor to wrap.

    Raises:
        OSError: ``fd`` is not an open file descriptor.
    """

    __slots__ = ("_closed", "_fd", "_original_blocking", "_receiving", "_sending")

    def __init__(self, fd: int) -> None:
        self._original_blocking = os.get_blocking(fd)
        os.set_blocking(fd, False)
        self._fd = fd
        self._closed = False
        self._sending = False
        self._receiving = False

    def fileno(self) -> int:
        """The wrapped file descriptor (``-1`` once closed)."""
        return -1 if self._closed else self._fd

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Write all of ``data`` to the fd, waiting while the pipe is full. A checkpoint.

        Raises:
            BusyResourceError: another task is sending on this stream.
            ClosedResourceError: the stream was closed (before or during the call).
            BrokenResourceError: the reading end is gone (EPIPE) or the fd failed.
        """
        if self._sending:
            raise BusyResourceError("another task is using this stream for send")
        self._sending = True
        try:
            await checkpoint_if_cancelled()
            if self._closed:
                raise ClosedResourceError("file was already closed")
            waited = False
            with memoryview(data) as view:
                remaining = view.cast("B") if view.format != "B" else view
                while remaining:
                    try:
                        sent = os.write(self._fd, remaining)
                    except BlockingIOError:
                        await wait_writable(self._fd)
                        waited = True
                        if self._closed:
                            raise ClosedResourceError("file was already closed") from None
                        continue
                    except OSError as error:
                        raise self._translate(error) from error
                    remaining = remaining[sent:]
            if not waited:
                await cancel_shielded_checkpoint()
        finally:
            self._sending = False

    async def wait_send_all_might_not_block(self) -> None:
        """Block until the fd is writable. A checkpoint.

        Raises:
            BusyResourceError: another task is sending on this stream.
            ClosedResourceError: the stream was closed.
            BrokenResourceError: the fd failed.
        """
        if self._sending:
            raise BusyResourceError("another task is using this stream for send")
        if self._closed:
            await checkpoint()
            raise ClosedResourceError("file was already closed")
        self._sending = True
        try:
            await wait_writable(self._fd)
        except BrokenPipeError as error:
            raise BrokenResourceError from error
        finally:
            self._sending = False

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Read at most ``max_bytes`` (default 64 KiB) from the fd; ``b""`` at end of file.

        A checkpoint; waits while nothing is available.

        Raises:
            ValueError: ``max_bytes`` is less than 1.
            BusyResourceError: another task is receiving from this stream.
            ClosedResourceError: the stream was closed (before or during the call).
            BrokenResourceError: reading the fd failed.
        """
        if self._receiving:
            raise BusyResourceError("another task is using this stream for receive")
        if max_bytes is None:
            max_bytes = DEFAULT_RECEIVE_SIZE
        elif not isinstance(max_bytes, int):
            raise TypeError(f"max_bytes must be an int or None, not {max_bytes!r}")
        elif max_bytes < 1:
            raise ValueError(f"max_bytes must be integer >= 1, not {max_bytes!r}")
        self._receiving = True
        try:
            await checkpoint_if_cancelled()
            while True:
                if self._closed:
                    raise ClosedResourceError("file was already closed")
                try:
                    data = os.read(self._fd, max_bytes)
                except BlockingIOError:
                    await wait_readable(self._fd)
                    continue
                except OSError as error:
                    raise self._translate(error) from error
                await cancel_shielded_checkpoint()
                return data
        finally:
            self._receiving = False

    def _translate(self, error: OSError) -> Exception:
        if error.errno == errno.EBADF:
            return ClosedResourceError("file was already closed")
        return BrokenResourceError(f"error on fd {self._fd}: {error}")

    def close(self) -> None:
        """Close the fd now (synchronously); tasks waiting on it get ClosedResourceError.

        Restores the fd's original blocking mode first.  Idempotent.
        """
        if self._closed:
            return
        self._closed = True
        fd = self._fd
        notify_closing(fd)
        try:
            os.set_blocking(fd, self._original_blocking)
        except OSError:
            pass  # already closed behind our back: nothing to restore
        os.close(fd)

    async def aclose(self) -> None:
        """Close the fd (see ``close``). Always a checkpoint."""
        self.close()
        await checkpoint()

    def __del__(self) -> None:
        # An FdStream dropped without aclose() must not leak its fd.
        if not getattr(self, "_closed", True):
            self._closed = True
            try:
                os.set_blocking(self._fd, self._original_blocking)
                os.close(self._fd)
            except OSError:
                pass

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"fd={self._fd}"
        return f"<tether.lowlevel.FdStream {state}>"
