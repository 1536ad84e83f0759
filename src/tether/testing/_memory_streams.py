"""In-memory streams for tests: buffered memory streams and unbuffered lockstep streams.

Memory streams (``MemorySendStream``, ``MemoryReceiveStream``) keep bytes in
a buffer and call user hooks, so a test can watch and steer every byte:
``memory_stream_pump`` moves bytes from one to the other, and
``memory_stream_one_way_pair`` wires the hooks so that happens on every
send.  Lockstep streams have no buffer at all: ``send_all`` returns only
once the receiver has taken every byte, which shakes out code that
assumes the transport buffers (the TLS handshake, close_notify races).

Like trio's, every memory stream operation passes two checkpoints before
acting: the extra schedule points make hidden ordering assumptions in the
code under test fail early, and tests written against trio see the same
interleavings here.
"""

from __future__ import annotations

import operator
from collections.abc import Awaitable, Callable
from typing import Final, final

from .._abc import ReceiveStream, SendStream
from .._core import (
    BrokenResourceError,
    BusyResourceError,
    ClosedResourceError,
    ParkingLot,
    WouldBlock,
    checkpoint,
    park_current_task,
)
from .._streams import StapledStream

AsyncHook = Callable[[], Awaitable[object]]
SyncHook = Callable[[], object]

_CLOSED_MESSAGE: Final = "virtual connection closed"


def _checked_max_bytes(max_bytes: int | None) -> int | None:
    if max_bytes is None:
        return None
    max_bytes = operator.index(max_bytes)
    if max_bytes < 1:
        raise ValueError("max_bytes must be >= 1")
    return max_bytes


# ---- the buffer behind memory streams ----------------------------------------------


class _ByteBuffer:
    """An unbounded byte buffer with one reader at a time, which can be closed (EOF).

    ``closed`` means no more bytes will arrive: readers drain what is left,
    then get an empty bytearray.
    """

    __slots__ = ("_data", "_fetching", "_lot", "closed")

    def __init__(self) -> None:
        self._data = bytearray()
        self.closed = False
        self._fetching = False
        self._lot = ParkingLot()

    def put(self, data: bytes | bytearray | memoryview) -> None:
        if self.closed:
            raise ClosedResourceError(_CLOSED_MESSAGE)
        self._data += data
        self._lot._wake_all()

    def close(self) -> None:
        self.closed = True
        self._lot._wake_all()

    def close_and_discard(self) -> None:
        self._data.clear()
        self.close()

    def _take(self, max_bytes: int | None) -> bytearray:
        data = self._data
        if max_bytes is None or max_bytes >= len(data):
            self._data = bytearray()
            return data
        chunk = data[:max_bytes]
        del data[:max_bytes]
        return chunk

    def _start_fetch(self, max_bytes: int | None) -> int | None:
        if self._fetching:
            raise BusyResourceError("another task is already fetching data")
        max_bytes = _checked_max_bytes(max_bytes)
        self._fetching = True
        return max_bytes

    def get_nowait(self, max_bytes: int | None) -> bytearray:
        max_bytes = self._start_fetch(max_bytes)
        try:
            if not self._data and not self.closed:
                raise WouldBlock
            return self._take(max_bytes)
        finally:
            self._fetching = False

    async def get(self, max_bytes: int | None) -> bytearray:
        max_bytes = self._start_fetch(max_bytes)
        try:
            if not self._data and not self.closed:
                # put() and close() wake us; parking is our checkpoint.
                await park_current_task(self._lot)
            else:
                await checkpoint()
            return self._take(max_bytes)
        finally:
            self._fetching = False


# ---- memory streams ------------------------------------------------------------------


@final
class MemorySendStream(SendStream):
    """A SendStream that appends what you send to an in-memory buffer.

    Read the buffer back with :meth:`get_data` / :meth:`get_data_nowait`.
    The hooks let a test react to every call; they can be replaced at any
    time.

    Args:
        send_all_hook: async function called (without arguments) at the
            end of every ``send_all``, after the data is in the buffer.
        wait_send_all_might_not_block_hook: async function called by
            ``wait_send_all_might_not_block``.
        close_hook: function called by ``close`` and ``aclose`` after the
            stream is marked closed.

    Attributes:
        send_all_hook: as above.
        wait_send_all_might_not_block_hook: as above.
        close_hook: as above.
    """

    __slots__ = ("_buffer", "_busy", "close_hook", "send_all_hook", "wait_send_all_might_not_block_hook")

    def __init__(
        self,
        send_all_hook: AsyncHook | None = None,
        wait_send_all_might_not_block_hook: AsyncHook | None = None,
        close_hook: SyncHook | None = None,
    ) -> None:
        self._buffer = _ByteBuffer()
        self._busy = False
        self.send_all_hook = send_all_hook
        self.wait_send_all_might_not_block_hook = wait_send_all_might_not_block_hook
        self.close_hook = close_hook

    def _enter(self) -> None:
        if self._busy:
            raise BusyResourceError("another task is using this stream")
        self._busy = True

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data`` to the buffer, then await ``send_all_hook``. A checkpoint.

        Raises:
            BusyResourceError: another task is sending or waiting on this stream.
            ClosedResourceError: the stream was closed.
        """
        self._enter()
        try:
            await checkpoint()
            await checkpoint()
            self._buffer.put(data)
            if self.send_all_hook is not None:
                await self.send_all_hook()
        finally:
            self._busy = False

    async def wait_send_all_might_not_block(self) -> None:
        """Await ``wait_send_all_might_not_block_hook``, if set; else return. A checkpoint.

        Raises:
            BusyResourceError: another task is sending or waiting on this stream.
            ClosedResourceError: the stream was closed.
        """
        self._enter()
        try:
            await checkpoint()
            await checkpoint()
            if self._buffer.closed:
                raise ClosedResourceError(_CLOSED_MESSAGE)
            if self.wait_send_all_might_not_block_hook is not None:
                await self.wait_send_all_might_not_block_hook()
        finally:
            self._busy = False

    def close(self) -> None:
        """Mark the stream closed, then call ``close_hook``. Not a checkpoint.

        Data already in the buffer can still be read with :meth:`get_data`.
        """
        self._buffer.close()
        if self.close_hook is not None:
            self.close_hook()

    async def aclose(self) -> None:
        """Same as :meth:`close`, then a checkpoint (the stream is closed even if cancelled)."""
        self.close()
        await checkpoint()

    async def get_data(self, max_bytes: int | None = None) -> bytearray:
        """Take bytes out of the buffer, waiting until there are some. A checkpoint.

        Args:
            max_bytes: the most bytes to take; None takes everything buffered.

        Returns:
            The bytes, or an empty bytearray once the stream is closed and
            the buffer drained.

        Raises:
            BusyResourceError: another task is already in ``get_data``.
        """
        return await self._buffer.get(max_bytes)

    def get_data_nowait(self, max_bytes: int | None = None) -> bytearray:
        """Take bytes out of the buffer without waiting. Not a checkpoint.

        Args:
            max_bytes: the most bytes to take; None takes everything buffered.

        Returns:
            As for :meth:`get_data`.

        Raises:
            WouldBlock: the buffer is empty and the stream is still open.
            BusyResourceError: another task is in ``get_data``.
        """
        return self._buffer.get_nowait(max_bytes)


@final
class MemoryReceiveStream(ReceiveStream):
    """A ReceiveStream that returns bytes a test puts into it.

    Feed it with :meth:`put_data` and end it with :meth:`put_eof`.  The hooks
    can be replaced at any time.

    Args:
        receive_some_hook: async function called (without arguments) at the
            start of every ``receive_some``, before the buffer is read: a
            good place to call :meth:`put_data`.
        close_hook: function called by ``close`` and ``aclose`` after the
            stream is marked closed.

    Attributes:
        receive_some_hook: as above.
        close_hook: as above.
    """

    __slots__ = ("_buffer", "_busy", "_closed", "close_hook", "receive_some_hook")

    def __init__(
        self,
        receive_some_hook: AsyncHook | None = None,
        close_hook: SyncHook | None = None,
    ) -> None:
        self._buffer = _ByteBuffer()
        self._busy = False
        self._closed = False
        self.receive_some_hook = receive_some_hook
        self.close_hook = close_hook

    async def receive_some(self, max_bytes: int | None = None) -> bytearray:
        """Await ``receive_some_hook``, then take bytes from the buffer, waiting for some.

        A checkpoint.

        Args:
            max_bytes: the most bytes to return; None returns all buffered.

        Returns:
            The bytes, or an empty bytearray after :meth:`put_eof` once
            the buffer is drained.

        Raises:
            BusyResourceError: another task is already receiving.
            ClosedResourceError: the stream was closed (also while waiting).
        """
        if self._busy:
            raise BusyResourceError("another task is using this stream")
        self._busy = True
        try:
            await checkpoint()
            await checkpoint()
            if self._closed:
                raise ClosedResourceError
            if self.receive_some_hook is not None:
                await self.receive_some_hook()
            data = await self._buffer.get(max_bytes)
            # close() wakes a waiting receiver with an empty buffer.
            if self._closed:
                raise ClosedResourceError
            return data
        finally:
            self._busy = False

    def close(self) -> None:
        """Mark the stream closed, drop buffered bytes, call ``close_hook``. Not a checkpoint."""
        self._closed = True
        self._buffer.close_and_discard()
        if self.close_hook is not None:
            self.close_hook()

    async def aclose(self) -> None:
        """Same as :meth:`close`, then a checkpoint (the stream is closed even if cancelled)."""
        self.close()
        await checkpoint()

    def put_data(self, data: bytes | bytearray | memoryview) -> None:
        """Append ``data`` to the buffer, waking a waiting receiver. Not a checkpoint.

        Raises:
            ClosedResourceError: after :meth:`put_eof` or :meth:`close`.
        """
        self._buffer.put(data)

    def put_eof(self) -> None:
        """Mark the end of the data: receivers get ``b""`` once the buffer is drained.

        Not a checkpoint.
        """
        self._buffer.close()


def memory_stream_pump(
    memory_send_stream: MemorySendStream,
    memory_receive_stream: MemoryReceiveStream,
    *,
    max_bytes: int | None = None,
) -> bool:
    """Move bytes from a MemorySendStream's buffer into a MemoryReceiveStream.

    If the send stream is closed and drained, the receive stream gets EOF.
    Not a checkpoint.

    Args:
        memory_send_stream: where the bytes come from.
        memory_receive_stream: where they go.
        max_bytes: the most bytes to move; None moves everything buffered.

    Returns:
        True if something was moved (bytes or EOF), False if the send
        stream's buffer was empty.

    Raises:
        BrokenResourceError: the receive stream was closed.
    """
    try:
        data = memory_send_stream.get_data_nowait(max_bytes)
    except WouldBlock:
        return False
    try:
        if data:
            memory_receive_stream.put_data(data)
        else:
            memory_receive_stream.put_eof()
    except ClosedResourceError:
        raise BrokenResourceError("MemoryReceiveStream was closed") from None
    return True


class _Pump:
    """The hooks of a one-way memory pair: pump on every send and on close."""

    __slots__ = ("receive_stream", "send_stream")

    def __init__(self, send_stream: MemorySendStream, receive_stream: MemoryReceiveStream) -> None:
        self.send_stream = send_stream
        self.receive_stream = receive_stream

    def pump(self) -> None:
        memory_stream_pump(self.send_stream, self.receive_stream)

    async def pump_async(self) -> None:
        memory_stream_pump(self.send_stream, self.receive_stream)


def memory_stream_one_way_pair() -> tuple[MemorySendStream, MemoryReceiveStream]:
    """Make a connected MemorySendStream and MemoryReceiveStream.

    Every ``send_all`` (and ``close``) pumps the bytes across at once, so
    the pair behaves like a connection with an unbounded buffer.  Replace
    the send stream's hooks to take control of when bytes move.

    Returns:
        ``(send_stream, receive_stream)``.
    """
    send_stream = MemorySendStream()
    receive_stream = MemoryReceiveStream()
    pump = _Pump(send_stream, receive_stream)
    send_stream.send_all_hook = pump.pump_async
    send_stream.close_hook = pump.pump
    return send_stream, receive_stream


def memory_stream_pair() -> tuple[
    StapledStream[MemorySendStream, MemoryReceiveStream],
    StapledStream[MemorySendStream, MemoryReceiveStream],
]:
    """Make two connected two-way streams, from two :func:`memory_stream_one_way_pair`.

    ``send_eof`` works (it closes the underlying send stream).

    Returns:
        Two StapledStreams: what one sends, the other receives.
    """
    send_1, receive_1 = memory_stream_one_way_pair()
    send_2, receive_2 = memory_stream_one_way_pair()
    return StapledStream(send_1, receive_2), StapledStream(send_2, receive_1)


# ---- lockstep streams ------------------------------------------------------------------


class _Lockstep:
    """The shared state of a lockstep pair: at most one send's bytes, in flight.

    Every state change wakes everyone in ``_lot``; each waiter re-checks
    its own condition (there are at most two: one sender, one receiver).
    """

    __slots__ = (
        "_lot",
        "data",
        "receiver_closed",
        "receiver_waiting",
        "receiving",
        "sender_closed",
        "sending",
    )

    def __init__(self) -> None:
        self.data = bytearray()
        self.sender_closed = False
        self.receiver_closed = False
        self.receiver_waiting = False
        self.sending = False
        self.receiving = False
        self._lot = ParkingLot()

    def changed(self) -> None:
        self._lot._wake_all()

    def close_sender(self) -> None:
        self.sender_closed = True
        self.changed()

    def close_receiver(self) -> None:
        self.receiver_closed = True
        self.changed()

    async def wait_until(self, condition: Callable[[], bool]) -> None:
        # Returns, after a checkpoint, once ``condition()`` holds or either
        # side is closed (the caller sorts out which).
        while not (condition() or self.sender_closed or self.receiver_closed):
            await park_current_task(self._lot)
        await checkpoint()

    def all_taken(self) -> bool:
        return not self.data

    def has_data(self) -> bool:
        return bool(self.data)

    def receiver_is_waiting(self) -> bool:
        return self.receiver_waiting

    def start_send(self) -> None:
        if self.sending:
            raise BusyResourceError("another task is already sending")
        self.sending = True


@final
class _LockstepSendStream(SendStream):
    __slots__ = ("_state",)

    def __init__(self, state: _Lockstep) -> None:
        self._state = state

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        state = self._state
        state.start_send()
        try:
            if state.sender_closed:
                raise ClosedResourceError
            if state.receiver_closed:
                raise BrokenResourceError
            state.data += data
            state.changed()
            await state.wait_until(state.all_taken)
            if state.sender_closed:
                raise ClosedResourceError
            if state.data and state.receiver_closed:
                raise BrokenResourceError
        finally:
            state.sending = False

    async def wait_send_all_might_not_block(self) -> None:
        state = self._state
        state.start_send()
        try:
            if state.sender_closed:
                raise ClosedResourceError
            if state.receiver_closed:
                await checkpoint()
                return
            await state.wait_until(state.receiver_is_waiting)
            if state.sender_closed:
                raise ClosedResourceError
        finally:
            state.sending = False

    def close(self) -> None:
        self._state.close_sender()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()


@final
class _LockstepReceiveStream(ReceiveStream):
    __slots__ = ("_state",)

    def __init__(self, state: _Lockstep) -> None:
        self._state = state

    async def receive_some(self, max_bytes: int | None = None) -> bytes | bytearray:
        state = self._state
        if state.receiving:
            raise BusyResourceError("another task is already receiving")
        state.receiving = True
        try:
            max_bytes = _checked_max_bytes(max_bytes)
            if state.receiver_closed:
                raise ClosedResourceError
            state.receiver_waiting = True
            state.changed()
            try:
                await state.wait_until(state.has_data)
            finally:
                state.receiver_waiting = False
            if state.receiver_closed:
                raise ClosedResourceError
            if not state.data:
                return b""  # the sender closed
            if max_bytes is None or max_bytes >= len(state.data):
                got = state.data
                state.data = bytearray()
            else:
                got = state.data[:max_bytes]
                del state.data[:max_bytes]
            state.changed()
            return got
        finally:
            state.receiving = False

    def close(self) -> None:
        self._state.close_receiver()

    async def aclose(self) -> None:
        self.close()
        await checkpoint()


def lockstep_stream_one_way_pair() -> tuple[SendStream, ReceiveStream]:
    """Make a connected send stream and receive stream with no buffer at all.

    ``send_all`` returns only after the receiver has taken all its bytes,
    and ``wait_send_all_might_not_block`` returns once a receiver is
    waiting.  Good for finding code that deadlocks without a buffer.

    Returns:
        ``(send_stream, receive_stream)``.
    """
    state = _Lockstep()
    return _LockstepSendStream(state), _LockstepReceiveStream(state)


def lockstep_stream_pair() -> tuple[
    StapledStream[SendStream, ReceiveStream],
    StapledStream[SendStream, ReceiveStream],
]:
    """Make two connected two-way streams from two :func:`lockstep_stream_one_way_pair`.

    Returns:
        Two StapledStreams: what one sends, the other receives.
    """
    send_1, receive_1 = lockstep_stream_one_way_pair()
    send_2, receive_2 = lockstep_stream_one_way_pair()
    return StapledStream(send_1, receive_2), StapledStream(send_2, receive_1)

