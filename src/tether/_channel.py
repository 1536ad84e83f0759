"""Memory channels (``open_memory_channel``) and ``as_safe_channel``.

A channel is one shared ``_ChannelState`` (buffer, waiting senders and
receivers, open-handle counts) and any number of send and receive handles
on it (``clone()`` makes more).  Blocked senders park in ``send_lot`` with the
value they want to send; blocked receivers park in ``receive_lot``; each wait
is tagged with its handle so that closing a handle fails only its own waiters.

Speed: as in trio, a send or receive that need not wait checks for
cancellation, acts, then yields one cancel-shielded checkpoint, so a task it
wakes runs in the very next batch; one that must wait parks at once (parking
is the checkpoint).  A value goes from a sender straight to a waiting
receiver, never through the buffer.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import AsyncGenerator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from functools import wraps
from types import TracebackType
from typing import Final, Generic, ParamSpec, Self, TypeVar, final

from ._abc import ReceiveChannel, SendChannel
from ._core import (
    BrokenResourceError,
    Cancelled,
    ClosedResourceError,
    EndOfChannel,
    ParkingLot,
    TaskStatus,
    WouldBlock,
    cancel_shielded_checkpoint,
    checkpoint,
    checkpoint_if_cancelled,
    new_value_lot,
    open_nursery,
    raise_preserving_context,
    task_unless_cancelled,
    wait_tagged,
)
from ._sync import Semaphore

T = TypeVar("T")
P = ParamSpec("P")
SendType = TypeVar("SendType")
ReceiveType = TypeVar("ReceiveType")

_inf: Final = math.inf


@final
@dataclass(frozen=True, slots=True)
class MemoryChannelStatistics:
    """A snapshot of a memory channel, from either handle's ``statistics()``.

    Attributes:
        current_buffer_used: Values in the buffer now.
        max_buffer_size: The buffer's capacity (an int or ``math.inf``).
        open_send_channels: Send handles not yet closed.
        open_receive_channels: Receive handles not yet closed.
        tasks_waiting_send: Tasks blocked in ``send()``.
        tasks_waiting_receive: Tasks blocked in ``receive()``.
        peak_buffer_used: The most values the buffer ever held at once.
    """

    current_buffer_used: int
    max_buffer_size: int | float
    open_send_channels: int
    open_receive_channels: int
    tasks_waiting_send: int
    tasks_waiting_receive: int
    peak_buffer_used: int


@final
class _ChannelState(Generic[T]):
    __slots__ = (
        "buffer",
        "max_buffer_size",
        "open_receive_channels",
        "open_send_channels",
        "peak_buffer_used",
        "receive_lot",
        "send_lot",
    )

    def __init__(self, max_buffer_size: int | float) -> None:
        self.max_buffer_size = max_buffer_size
        self.buffer: deque[T] = deque()
        # Invariant: blocked senders exist only while the buffer is full, and
        # blocked receivers only while it is empty (and senders are open).
        self.send_lot: ParkingLot = new_value_lot()
        self.receive_lot: ParkingLot = new_value_lot()
        self.open_send_channels = 0
        self.open_receive_channels = 0
        self.peak_buffer_used = 0

    def statistics(self) -> MemoryChannelStatistics:
        return MemoryChannelStatistics(
            current_buffer_used=len(self.buffer),
            max_buffer_size=self.max_buffer_size,
            open_send_channels=self.open_send_channels,
            open_receive_channels=self.open_receive_channels,
            tasks_waiting_send=len(self.send_lot),
            tasks_waiting_receive=len(self.receive_lot),
            peak_buffer_used=self.peak_buffer_used,
        )


def _take_value(state: _ChannelState[T]) -> T:
    # The next value: the oldest buffered one (refilling the buffer from the
    # first blocked sender), else straight from the first blocked sender.
    # Precondition: the buffer is not empty or a sender is blocked.
    buffer = state.buffer
    if buffer:
        value = buffer.popleft()
        send_lot = state.send_lot
        if send_lot._count:
            buffer.append(send_lot._take_first())  # type: ignore[arg-type]
        return value
    return state.send_lot._take_first()  # type: ignore[return-value]


def _check_state(state: object) -> None:
    if type(state) is not _ChannelState:
        raise TypeError(
            "memory channel handles have no public constructor; "
            "use tether.open_memory_channel(max_buffer_size)"
        )


@final
class MemorySendChannel(SendChannel[SendType]):
    """The sending handle of a memory channel (see :class:`open_memory_channel`)."""

    __slots__ = ("__weakref__", "_closed", "_state", "_wait_lot")

    def __init__(self, state: _ChannelState[SendType]) -> None:
        _check_state(state)
        self._state = state
        self._closed = False
        # Where this handle's blocked senders park (see _core.wait_tagged).
        self._wait_lot = state.send_lot
        state.open_send_channels += 1

    def __repr__(self) -> str:
        return f"<send channel at {id(self):#x}, using buffer at {id(self._state):#x}>"

    def statistics(self) -> MemoryChannelStatistics:
        """Return a :class:`MemoryChannelStatistics` snapshot of the channel."""
        return self._state.statistics()

    def _send_now(self, value: SendType) -> bool:
        # Deliver ``value`` if that needs no waiting; False if it would block.
        if self._closed:
            raise ClosedResourceError
        state = self._state
        if not state.open_receive_channels:
            raise BrokenResourceError
        if state.receive_lot._wake_first(value) is not None:
            return True
        buffer = state.buffer
        if len(buffer) < state.max_buffer_size:
            buffer.append(value)
            if len(buffer) > state.peak_buffer_used:
                state.peak_buffer_used = len(buffer)
            return True
        return False

    def send_nowait(self, value: SendType) -> None:
        """Send ``value`` if a receiver is waiting or the buffer has room. Not a checkpoint.

        Raises:
            WouldBlock: the value cannot be delivered without waiting.
            BrokenResourceError: every receive handle is closed.
            ClosedResourceError: this handle is closed.
        """
        if not self._send_now(value):
            raise WouldBlock

    async def send(self, value: SendType) -> None:
        """Send ``value``, waiting while the buffer is full. Always a checkpoint.

        If cancelled, the value was not sent.

        Raises:
            BrokenResourceError: every receive handle is closed (also while waiting).
            ClosedResourceError: this handle is closed (also while waiting).
        """
        state = self._state
        if self._closed or not state.open_receive_channels:
            await checkpoint_if_cancelled()
            self._send_now(value)  # raises
        receive_lot = state.receive_lot
        if receive_lot._count or len(state.buffer) < state.max_buffer_size:
            if task_unless_cancelled() is not None:
                # _send_now, inlined.
                if receive_lot._count:
                    receive_lot._wake_first(value)
                else:
                    buffer = state.buffer
                    buffer.append(value)
                    if len(buffer) > state.peak_buffer_used:
                        state.peak_buffer_used = len(buffer)
                await cancel_shielded_checkpoint()
                return
            await checkpoint()  # raises Cancelled
            if self._send_now(value):
                return
        await wait_tagged(state.send_lot, self, value)

    def clone(self) -> MemorySendChannel[SendType]:
        """Return another send handle on the same channel. Not a checkpoint.

        The channel's receivers see the end of the channel only once every
        send handle is closed.

        Raises:
            ClosedResourceError: this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError
        return MemorySendChannel(self._state)

    def close(self) -> None:
        """Close this handle (idempotent). Not a checkpoint.

        Its blocked senders get ClosedResourceError; closing the last send
        handle wakes every blocked receiver with EndOfChannel.
        """
        if self._closed:
            return
        self._closed = True
        state = self._state
        state.send_lot._fail_tagged(self, ClosedResourceError)
        state.open_send_channels -= 1
        if not state.open_send_channels:
            state.receive_lot._fail_all(EndOfChannel)

    async def aclose(self) -> None:
        """Close this handle (see :meth:`close`). Always a checkpoint."""
        self.close()
        await checkpoint()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@final
class MemoryReceiveChannel(ReceiveChannel[ReceiveType]):
    """The receiving handle of a memory channel (see :class:`open_memory_channel`)."""

    __slots__ = ("__weakref__", "_closed", "_state", "_wait_lot")

    def __init__(self, state: _ChannelState[ReceiveType]) -> None:
        _check_state(state)
        self._state = state
        self._closed = False
        # Where this handle's blocked receivers park (see _core.wait_tagged).
        self._wait_lot = state.receive_lot
        state.open_receive_channels += 1

    def __repr__(self) -> str:
        return f"<receive channel at {id(self):#x}, using buffer at {id(self._state):#x}>"

    def statistics(self) -> MemoryChannelStatistics:
        """Return a :class:`MemoryChannelStatistics` snapshot of the channel."""
        return self._state.statistics()

    def receive_nowait(self) -> ReceiveType:
        """Receive a value if one is buffered or a sender is waiting. Not a checkpoint.

        Raises:
            WouldBlock: no value is available now.
            EndOfChannel: every send handle is closed and the buffer is empty.
            ClosedResourceError: this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError
        state = self._state
        if state.buffer or state.send_lot._count:
            return _take_value(state)
        if not state.open_send_channels:
            raise EndOfChannel
        raise WouldBlock

    async def receive(self) -> ReceiveType:
        """Receive the next value, waiting for one if necessary. Always a checkpoint.

        If cancelled, no value was taken.

        Raises:
            EndOfChannel: every send handle is closed and the buffer is empty.
            ClosedResourceError: this handle is closed (also while waiting).
        """
        state = self._state
        if not self._closed and (state.buffer or state.send_lot._count):
            if task_unless_cancelled() is not None:
                value = _take_value(state)
                await cancel_shielded_checkpoint()
                return value
            await checkpoint()  # raises Cancelled
            if self._closed or state.buffer or state.send_lot._count:
                return self.receive_nowait()
        elif self._closed or not state.open_send_channels:
            await checkpoint_if_cancelled()
            return self.receive_nowait()  # raises
        return await wait_tagged(state.receive_lot, self, None)  # type: ignore[no-any-return]

    async def __anext__(self) -> ReceiveType:
        # receive(), repeated to spare a coroutine frame per item.
        state = self._state
        if not self._closed and (state.buffer or state.send_lot._count):
            if task_unless_cancelled() is not None:
                value = _take_value(state)
                await cancel_shielded_checkpoint()
                return value
            await checkpoint()  # raises Cancelled
            if self._closed or state.buffer or state.send_lot._count:
                return self.receive_nowait()
        elif self._closed or not state.open_send_channels:
            await checkpoint_if_cancelled()
            try:
                return self.receive_nowait()
            except EndOfChannel:
                raise StopAsyncIteration from None
        try:
            return await wait_tagged(state.receive_lot, self, None)  # type: ignore[no-any-return]
        except EndOfChannel:
            raise StopAsyncIteration from None

    def clone(self) -> MemoryReceiveChannel[ReceiveType]:
        """Return another receive handle on the same channel. Not a checkpoint.

        Values are shared out among the handles: each value goes to one
        receiver.

        Raises:
            ClosedResourceError: this handle is closed.
        """
        if self._closed:
            raise ClosedResourceError
        return MemoryReceiveChannel(self._state)

    def close(self) -> None:
        """Close this handle (idempotent). Not a checkpoint.

        Its blocked receivers get ClosedResourceError; closing the last
        receive handle discards the buffer and wakes every blocked sender
        with BrokenResourceError.
        """
        if self._closed:
            return
        self._closed = True
        state = self._state
        state.receive_lot._fail_tagged(self, ClosedResourceError)
        state.open_receive_channels -= 1
        if not state.open_receive_channels:
            state.send_lot._fail_all(BrokenResourceError)
            state.buffer.clear()

    async def aclose(self) -> None:
        """Close this handle (see :meth:`close`). Always a checkpoint."""
        self.close()
        await checkpoint()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class open_memory_channel(tuple["MemorySendChannel[T]", "MemoryReceiveChannel[T]"]):
    """Open a channel for passing objects between tasks in the same run.

    Returns a ``(send_channel, receive_channel)`` pair of handles on a new
    channel whose buffer holds up to ``max_buffer_size`` values.  With a
    buffer of 0 every send waits for a receiver (a rendezvous).  Values come
    out in the order they went in.  Can be subscripted with the item type:
    ``open_memory_channel[int](0)``.

    Args:
        max_buffer_size: the buffer's capacity: an int >= 0, or ``math.inf``.

    Raises:
        TypeError: ``max_buffer_size`` is neither an int nor ``math.inf``.
        ValueError: ``max_buffer_size`` is negative.
    """

    __slots__ = ()

    def __new__(cls, max_buffer_size: int | float) -> Self:
        if max_buffer_size != _inf and not isinstance(max_buffer_size, int):
            raise TypeError(f"max_buffer_size must be an int or math.inf, not {max_buffer_size!r}")
        if max_buffer_size < 0:
            raise ValueError(f"max_buffer_size must be >= 0, not {max_buffer_size!r}")
        state: _ChannelState[T] = _ChannelState(max_buffer_size)
        return tuple.__new__(cls, (MemorySendChannel(state), MemoryReceiveChannel(state)))

    def __init__(self, max_buffer_size: int | float) -> None:
        pass


# ---- as_safe_channel ----------------------------------------------------------------


@final
class _GeneratorReceiveChannel(ReceiveChannel[T]):
    # What ``as_safe_channel`` hands to the consumer.  Each receive() grants
    # the producer task one credit: the generator is advanced only when a
    # consumer asks for a value, never ahead of time.

    __slots__ = ("_credits", "_receive_channel")

    def __init__(self, receive_channel: MemoryReceiveChannel[T], credits: Semaphore) -> None:
        self._receive_channel = receive_channel
        self._credits = credits

    async def receive(self) -> T:
        self._credits.release()
        return await self._receive_channel.receive()

    async def aclose(self) -> None:
        await self._receive_channel.aclose()


def _without_generator_exit(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    # aclose() of an async generator that ran nurseries can raise GeneratorExit
    # wrapped in groups; GeneratorExit is the expected way out, so drop it.
    _, rest = group.split(GeneratorExit)
    return rest


async def _pump_generator(
    agen: AsyncGenerator[T, None],
    send_channel: MemorySendChannel[T],
    credits: Semaphore,
    *,
    task_status: TaskStatus[None],
) -> None:
    with send_channel:
        try:
            task_status.started()
            while True:
                await credits.acquire()
                if not send_channel._state.open_receive_channels:
                    return  # nobody will take the value: don't compute it
                try:
                    value = await agen.__anext__()
                except StopAsyncIteration:
                    return
                try:
                    await send_channel.send(value)
                except BrokenResourceError:
                    return
        finally:
            try:
                await agen.aclose()
            except BaseExceptionGroup as group:
                rest = _without_generator_exit(group)
                if rest is not None:
                    raise rest from None


def _unwrap_single(group: BaseExceptionGroup[BaseException]) -> BaseException | None:
    # The one exception worth raising from the nursery's group, if there is
    # exactly one that is not Cancelled (or only Cancelled ones); None if several.
    for exc in group.exceptions:
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            replacement = type(exc)(*exc.args)
            replacement.__cause__ = group
            return replacement
    first_cancelled: BaseException | None = None
    single: BaseException | None = None
    for exc in group.exceptions:
        if isinstance(exc, Cancelled):
            if first_cancelled is None:
                first_cancelled = exc
        elif single is None:
            single = exc
        else:
            return None
    return single if single is not None else first_cancelled


def as_safe_channel(
    fn: Callable[P, AsyncGenerator[T, None]],
) -> Callable[P, AbstractAsyncContextManager[ReceiveChannel[T]]]:
    """Turn an async generator function into one that is safe to iterate.

    The decorated function returns an async context manager; the generator
    runs in a background task and its values arrive through a channel::

        @as_safe_channel
        async def ticks(n):
            for i in range(n):
                await tether.sleep(1)
                yield i

        async with ticks(3) as receive_channel:
            async for tick in receive_channel:
                ...

    The generator is advanced only when the consumer asks for a value.
    Leaving the ``async with`` block cancels and closes the generator, so
    its ``finally`` blocks run promptly and its cancel scopes and nurseries
    never span a ``yield`` to the consumer.  An exception from the generator
    or the block comes out as itself; if both fail, as an ExceptionGroup.
    """

    @asynccontextmanager
    @wraps(fn)
    async def context_manager(*args: P.args, **kwargs: P.kwargs) -> AsyncGenerator[ReceiveChannel[T], None]:
        send_channel, receive_channel = open_memory_channel[T](0)
        try:
            async with open_nursery(strict_exception_groups=True) as nursery:
                agen = fn(*args, **kwargs)
                credits = Semaphore(0)
                await nursery.start(_pump_generator, agen, send_channel, credits)
                with receive_channel:
                    yield _GeneratorReceiveChannel(receive_channel, credits)
                nursery.cancel_scope.cancel("exited the as_safe_channel context manager")
        except BaseExceptionGroup as group:
            single = _unwrap_single(group)
            if single is None:
                group.add_note(
                    "as_safe_channel: the generator and the body of the async with both "
                    "raised, unable to unwrap the exception group"
                )
                raise
            # Raising it inside this ``except`` would make the group its
            # __context__; keep the one it had.
            raise_preserving_context(single)

    return context_manager
