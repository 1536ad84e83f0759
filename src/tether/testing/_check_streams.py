"""Conformance suites for stream implementations: check_one_way_stream and friends.

Each suite takes *stream makers*: async functions returning a fresh
connected pair.  A "clogged" maker returns a pair whose sending side blocks
at once (nothing buffered, nobody reading); with it the suites can also
check ``wait_send_all_might_not_block`` and what happens to blocked
senders.  Every check opens its own pair and force-closes both ends
afterwards, so one failed check leaves no stream behind.

The checks hold a stream to the contract in ``tether.abc`` (and trio's):
data arrives in order, argument errors, BusyResourceError for concurrent
use, ClosedResourceError after a local close, BrokenResourceError once the
peer is gone, every operation a checkpoint, and a close that works even
when cancelled.  A failure is an AssertionError (or the stream's own
unexpected exception).
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any, Final, TypeVar

from .._abc import AsyncResource, HalfCloseableStream, ReceiveStream, SendStream, Stream
from .._core import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    CancelScope,
    ClosedResourceError,
    open_nursery,
    wait_all_tasks_blocked,
)
from .._streams import aclose_forcefully
from ._checkpoints import assert_checkpoints

SendT = TypeVar("SendT", bound=AsyncResource)
ReceiveT = TypeVar("ReceiveT", bound=AsyncResource)
StreamMaker = Callable[[], Awaitable[tuple[SendT, ReceiveT]]]

# The duplex check sends this much each way, in random chunks of at most
# _DUPLEX_CHUNK bytes: enough to fill any transport's buffers.
_DUPLEX_BYTES: Final = 2**20
_DUPLEX_CHUNK: Final = 2**14
# A sender "eventually" notices a closed receiver: it may buffer a little.
_PROBE: Final = b"x" * 100


# ---- helpers ------------------------------------------------------------------------


@contextmanager
def _raises(expected: type[BaseException]) -> Iterator[None]:
    """The block must raise ``expected`` itself (not wrapped in a group)."""
    __tracebackhide__ = True
    try:
        yield
    except expected:
        return
    except BaseExceptionGroup as group:
        raise AssertionError(f"expected a bare {expected.__name__}, got a group: {group!r}") from group
    raise AssertionError(f"expected {expected.__name__}, nothing was raised")


@contextmanager
def _raises_from_nursery(expected: type[BaseException]) -> Iterator[None]:
    """The block (a nursery) must raise ``expected``: alone, or as the group's only member."""
    __tracebackhide__ = True
    try:
        yield
    except expected:
        return
    except BaseExceptionGroup as group:
        leaves = group.exceptions
        if len(leaves) == 1 and isinstance(leaves[0], expected):
            return
        raise AssertionError(f"expected one {expected.__name__}, got {group!r}") from group
    raise AssertionError(f"expected {expected.__name__}, nothing was raised")


@asynccontextmanager
async def _opened(maker: StreamMaker[SendT, ReceiveT]) -> AsyncIterator[tuple[SendT, ReceiveT]]:
    first, second = await maker()
    try:
        yield first, second
    finally:
        try:
            await aclose_forcefully(first)
        finally:
            await aclose_forcefully(second)


async def _send(stream: SendStream, data: bytes | bytearray | memoryview) -> None:
    send_all: Callable[[bytes | bytearray | memoryview], Awaitable[object]] = stream.send_all
    with assert_checkpoints():
        result = await send_all(data)
    assert result is None, f"send_all returned {result!r}, expected None"


async def _receive(stream: ReceiveStream, max_bytes: int | None = None) -> bytes | bytearray:
    with assert_checkpoints():
        return await stream.receive_some(max_bytes)


async def _receive_exactly(stream: ReceiveStream, expected: bytes) -> None:
    got = await _receive(stream, len(expected) or 1)
    assert got == expected, f"received {got!r}, expected {expected!r}"


async def _close(resource: AsyncResource) -> None:
    with assert_checkpoints():
        await resource.aclose()


async def _wait_writable(stream: SendStream) -> None:
    with assert_checkpoints():
        await stream.wait_send_all_might_not_block()


async def _send_until_broken(stream: SendStream) -> None:
    with _raises(BrokenResourceError):
        while True:
            await _send(stream, _PROBE)


async def _expect_cancelled(afn: Callable[..., Awaitable[object]], *args: Any) -> None:
    with _raises(Cancelled):
        await afn(*args)


# ---- one-way checks (each gets a fresh pair) ---------------------------------------------


async def _data_flows(s: SendStream, r: ReceiveStream) -> None:
    assert isinstance(s, SendStream), f"{s!r} is not a SendStream"
    assert isinstance(r, ReceiveStream), f"{r!r} is not a ReceiveStream"

    async def send_pieces(*pieces: bytes | bytearray | memoryview) -> None:
        for piece in pieces:
            await _send(s, piece)

    # An empty send means nothing special; any bytes-like object can be sent.
    cases: list[tuple[tuple[bytes | bytearray | memoryview, ...], bytes]] = [
        ((b"a",), b"a"),
        ((b"", b"b"), b"b"),
        ((bytearray(b"c"),), b"c"),
        ((memoryview(b"d"),), b"d"),
    ]
    for pieces, expected in cases:
        async with open_nursery() as nursery:
            nursery.start_soon(send_pieces, *pieces)
            nursery.start_soon(_receive_exactly, r, expected)

    # max_bytes may be omitted or None.
    async with open_nursery() as nursery:
        nursery.start_soon(_send, s, b"e")
        assert await _receive(r) == b"e"
    async with open_nursery() as nursery:
        nursery.start_soon(_send, s, b"f")
        assert await _receive(r, None) == b"f"


async def _arguments_are_checked(s: SendStream, r: ReceiveStream) -> None:
    for bad in (0, -1):
        with _raises(ValueError):
            await r.receive_some(bad)
    with _raises(TypeError):
        await r.receive_some(1.5)  # type: ignore[arg-type]


async def _concurrent_receives_are_busy(s: SendStream, r: ReceiveStream) -> None:
    with _raises_from_nursery(BusyResourceError):
        async with open_nursery() as nursery:
            nursery.start_soon(_receive, r, 1)
            nursery.start_soon(_receive, r, 1)


async def _writable_while_receiver_waits(s: SendStream, r: ReceiveStream) -> None:
    # With a receiver blocked on an empty stream, sending must be possible
    # (though a stream need not buffer: hence the receiver really waits).
    async def wait_then_stop(scope: CancelScope) -> None:
        await _wait_writable(s)
        scope.cancel()

    async with open_nursery() as nursery:
        nursery.start_soon(wait_then_stop, nursery.cancel_scope)
        nursery.start_soon(_receive, r, 1)


async def _closing_receiver_breaks_sender(s: SendStream, r: ReceiveStream) -> None:
    async with open_nursery() as nursery:
        nursery.start_soon(_send_until_broken, s)
        nursery.start_soon(_close, r)
    with _raises(BrokenResourceError):  # and it stays broken
        await _send(s, _PROBE)
    with _raises(ClosedResourceError):
        await _receive(r, 4096)
    await _close(r)  # closing again is fine
    await _close(r)

    await _close(s)
    for data in (_PROBE, b""):
        with _raises(ClosedResourceError):
            await _send(s, data)
    with _raises(ClosedResourceError):
        await _wait_writable(s)
    await _close(s)
    await _close(s)


async def _graceful_close_delivers_data(s: SendStream, r: ReceiveStream) -> None:
    async def send_then_close() -> None:
        await _send(s, b"g")
        await _close(s)

    async def receive_after_sender_is_done() -> None:
        # Let the sender get as far as it can: the data must survive its close.
        await wait_all_tasks_blocked()
        await _receive_exactly(r, b"g")
        await _receive_exactly(r, b"")
        await _close(r)

    async with open_nursery() as nursery:
        nursery.start_soon(send_then_close)
        nursery.start_soon(receive_after_sender_is_done)


async def _forceful_close_of_receiver(s: SendStream, r: ReceiveStream) -> None:
    await aclose_forcefully(r)
    await _send_until_broken(s)
    with _raises(ClosedResourceError):
        await _receive(r, 4096)


async def _forceful_close_of_sender(s: SendStream, r: ReceiveStream) -> None:
    await aclose_forcefully(s)
    with _raises(ClosedResourceError):
        await _send(s, b"123")
    # The receiver sees a clean end of stream or a broken one, never data,
    # and never hangs.
    try:
        await _receive_exactly(r, b"")
    except BrokenResourceError:
        pass


async def _cancelled_close_still_closes(s: SendStream, r: ReceiveStream) -> None:
    for resource in (r, s):
        with CancelScope() as scope:
            scope.cancel()
            await resource.aclose()
    with _raises(ClosedResourceError):
        await _send(s, b"123")
    with _raises(ClosedResourceError):
        await _receive(r, 4096)


async def _graceful_close_after_cancelled_operations(s: SendStream, r: ReceiveStream) -> None:
    with CancelScope() as scope:
        scope.cancel()
        async with open_nursery() as nursery:
            nursery.start_soon(_expect_cancelled, _send, s, b"x")
            nursery.start_soon(_expect_cancelled, _receive, r, 1)
    async with open_nursery() as nursery:
        nursery.start_soon(_close, s)
        nursery.start_soon(_close, r)


async def _closing_wakes_blocked_receiver(s: SendStream, r: ReceiveStream) -> None:
    async def receive_until_closed() -> None:
        with _raises(ClosedResourceError):
            await r.receive_some(10)

    async with open_nursery() as nursery:
        nursery.start_soon(receive_until_closed)
        await wait_all_tasks_blocked()
        await aclose_forcefully(r)


_ONE_WAY_CHECKS: Final = (
    _data_flows,
    _arguments_are_checked,
    _concurrent_receives_are_busy,
    _writable_while_receiver_waits,
    _closing_receiver_breaks_sender,
    _graceful_close_delivers_data,
    _forceful_close_of_receiver,
    _forceful_close_of_sender,
    _cancelled_close_still_closes,
    _graceful_close_after_cancelled_operations,
    _closing_wakes_blocked_receiver,
)


# ---- one-way checks on clogged pairs ------------------------------------------------------


async def _wait_writable_blocks_until_receiving(s: SendStream, r: ReceiveStream) -> None:
    events: list[str] = []

    async def waiter(scope: CancelScope) -> None:
        events.append("waiter blocks")
        await _wait_writable(s)
        events.append("waiter wakes")
        scope.cancel()

    async def receiver() -> None:
        await wait_all_tasks_blocked()
        events.append("receiver starts")
        while True:
            await r.receive_some(16384)

    async with open_nursery() as nursery:
        nursery.start_soon(waiter, nursery.cancel_scope)
        await wait_all_tasks_blocked()
        nursery.start_soon(receiver)
    assert events == ["waiter blocks", "receiver starts", "waiter wakes"], events


async def _concurrent_waits_are_busy(s: SendStream, r: ReceiveStream) -> None:
    with _raises_from_nursery(BusyResourceError):
        async with open_nursery() as nursery:
            nursery.start_soon(s.wait_send_all_might_not_block)
            nursery.start_soon(s.wait_send_all_might_not_block)


# These two may leave the stream unusable (a send_all gets cancelled
# half-way), so each runs on a pair of its own.
async def _wait_and_send_are_busy(s: SendStream, r: ReceiveStream) -> None:
    with _raises_from_nursery(BusyResourceError):
        async with open_nursery() as nursery:
            nursery.start_soon(s.wait_send_all_might_not_block)
            nursery.start_soon(s.send_all, b"123")


async def _concurrent_sends_are_busy(s: SendStream, r: ReceiveStream) -> None:
    with _raises_from_nursery(BusyResourceError):
        async with open_nursery() as nursery:
            nursery.start_soon(s.send_all, b"123")
            nursery.start_soon(s.send_all, b"123")


async def _closing_receiver_releases_blocked_wait(s: SendStream, r: ReceiveStream) -> None:
    async def wait() -> None:
        try:
            await _wait_writable(s)
        except BrokenResourceError:
            pass  # returning and raising BrokenResourceError are both fine

    async def close_receiver_later() -> None:
        await wait_all_tasks_blocked()
        await aclose_forcefully(r)

    async with open_nursery() as nursery:
        nursery.start_soon(wait)
        nursery.start_soon(close_receiver_later)


async def _wait_after_receiver_closed_returns(s: SendStream, r: ReceiveStream) -> None:
    await aclose_forcefully(r)
    try:
        await _wait_writable(s)
    except BrokenResourceError:
        pass


async def _close_sender_later(s: SendStream) -> None:
    await wait_all_tasks_blocked()
    await aclose_forcefully(s)


async def _closing_wakes_blocked_send(s: SendStream, r: ReceiveStream) -> None:
    async with open_nursery() as nursery:
        nursery.start_soon(_close_sender_later, s)
        with _raises(ClosedResourceError):
            await s.send_all(b"xyzzy")


async def _closing_wakes_blocked_wait(s: SendStream, r: ReceiveStream) -> None:
    async with open_nursery() as nursery:
        nursery.start_soon(_close_sender_later, s)
        with _raises(ClosedResourceError):
            await s.wait_send_all_might_not_block()


_CLOGGED_CHECKS: Final = (
    _wait_writable_blocks_until_receiving,
    _concurrent_waits_are_busy,
    _wait_and_send_are_busy,
    _concurrent_sends_are_busy,
    _closing_receiver_releases_blocked_wait,
    _wait_after_receiver_closed_returns,
    _closing_wakes_blocked_send,
    _closing_wakes_blocked_wait,
)


async def check_one_way_stream(
    stream_maker: StreamMaker[SendStream, ReceiveStream],
    clogged_stream_maker: StreamMaker[SendStream, ReceiveStream] | None,
) -> None:
    """Check that a one-way stream implementation follows the stream contract.

    Call it inside a run (ideally with ``MockClock(autojump_threshold=0)``:
    the checks never sleep, but a broken stream may hang).

    Args:
        stream_maker: async function returning a fresh connected
            ``(send_stream, receive_stream)`` pair.
        clogged_stream_maker: like ``stream_maker``, but the send stream's
            ``send_all`` must block at once until the receiver reads; None
            skips the checks that need one.

    Raises:
        AssertionError: the stream broke the contract.
    """
    for check in _ONE_WAY_CHECKS:
        async with _opened(stream_maker) as (s, r):
            await check(s, r)
    if clogged_stream_maker is not None:
        for check in _CLOGGED_CHECKS:
            async with _opened(clogged_stream_maker) as (s, r):
                await check(s, r)


# ---- two-way checks ---------------------------------------------------------------------


def _flipped(maker: StreamMaker[Stream, Stream]) -> StreamMaker[Stream, Stream]:
    async def flipped_maker() -> tuple[Stream, Stream]:
        first, second = await maker()
        return second, first

    return flipped_maker


def _random_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).getrandbits(8 * size).to_bytes(size, "little")


async def _duplex_transfer(a: Stream, b: Stream) -> None:
    # Both directions at once, random chunk sizes, every byte checked.
    payload = _random_bytes(_DUPLEX_BYTES, seed=0)

    async def sender(stream: Stream, data: bytes, seed: int) -> None:
        sizes = random.Random(seed)
        view = memoryview(data)
        while view:
            size = sizes.randint(1, _DUPLEX_CHUNK)
            await stream.send_all(view[:size])
            view = view[size:]

    async def receiver(stream: Stream, expected: bytes, seed: int) -> None:
        sizes = random.Random(seed)
        got = bytearray()
        while len(got) < len(expected):
            chunk = await stream.receive_some(sizes.randint(1, _DUPLEX_CHUNK))
            assert chunk, "end of stream in the middle of a transfer"
            got += chunk
        assert got == expected, "the bytes received differ from the bytes sent"

    async with open_nursery() as nursery:
        nursery.start_soon(sender, a, payload, 1)
        nursery.start_soon(sender, b, payload[::-1], 2)
        nursery.start_soon(receiver, a, payload[::-1], 3)
        nursery.start_soon(receiver, b, payload, 4)


async def _close_is_seen_as_end_of_stream(a: Stream, b: Stream) -> None:
    async def expect_end_then_close() -> None:
        assert await b.receive_some(10) == b"", "expected end of stream after the peer closed"
        await b.aclose()

    async with open_nursery() as nursery:
        nursery.start_soon(expect_end_then_close)
        nursery.start_soon(a.aclose)


async def check_two_way_stream(
    stream_maker: StreamMaker[Stream, Stream],
    clogged_stream_maker: StreamMaker[Stream, Stream] | None,
) -> None:
    """Check a two-way stream: :func:`check_one_way_stream` both ways, then duplex use.

    Args:
        stream_maker: async function returning a fresh connected pair of Streams.
        clogged_stream_maker: like ``stream_maker``, with both directions
            blocked until read (see :func:`check_one_way_stream`); or None.

    Raises:
        AssertionError: the stream broke the contract.
    """
    await check_one_way_stream(stream_maker, clogged_stream_maker)
    await check_one_way_stream(
        _flipped(stream_maker), None if clogged_stream_maker is None else _flipped(clogged_stream_maker)
    )
    async with _opened(stream_maker) as (a, b):
        assert isinstance(a, Stream), f"{a!r} is not a Stream"
        assert isinstance(b, Stream), f"{b!r} is not a Stream"
        await _duplex_transfer(a, b)
        await _close_is_seen_as_end_of_stream(a, b)


# ---- half-closeable checks -------------------------------------------------------------


async def _send_then_eof(stream: HalfCloseableStream) -> None:
    await stream.send_all(b"x")
    with assert_checkpoints():
        await stream.send_eof()


async def _expect_data_then_eof(stream: HalfCloseableStream) -> None:
    await wait_all_tasks_blocked()
    assert await stream.receive_some(10) == b"x"
    assert await stream.receive_some(10) == b"", "expected end of stream after send_eof"


async def _send_eof_half_closes(a: HalfCloseableStream, b: HalfCloseableStream) -> None:
    assert isinstance(a, HalfCloseableStream), f"{a!r} is not a HalfCloseableStream"
    assert isinstance(b, HalfCloseableStream), f"{b!r} is not a HalfCloseableStream"
    async with open_nursery() as nursery:
        nursery.start_soon(_send_then_eof, a)
        nursery.start_soon(_expect_data_then_eof, b)
    with _raises(ClosedResourceError):
        await a.send_all(b"y")
    with assert_checkpoints():
        await a.send_eof()  # again: fine
    # The other direction still works.
    async with open_nursery() as nursery:
        nursery.start_soon(_send_then_eof, b)
        nursery.start_soon(_expect_data_then_eof, a)


async def _send_eof_during_send_is_busy(a: HalfCloseableStream, b: HalfCloseableStream) -> None:
    with _raises_from_nursery(BusyResourceError):
        async with open_nursery() as nursery:
            nursery.start_soon(a.send_all, b"x")
            await wait_all_tasks_blocked()
            nursery.start_soon(a.send_eof)


async def _send_eof_during_wait_is_busy(a: HalfCloseableStream, b: HalfCloseableStream) -> None:
    with _raises_from_nursery(BusyResourceError):
        async with open_nursery() as nursery:
            nursery.start_soon(a.wait_send_all_might_not_block)
            await wait_all_tasks_blocked()
            nursery.start_soon(a.send_eof)


async def check_half_closeable_stream(
    stream_maker: StreamMaker[HalfCloseableStream, HalfCloseableStream],
    clogged_stream_maker: StreamMaker[HalfCloseableStream, HalfCloseableStream] | None,
) -> None:
    """Check a half-closeable stream: :func:`check_two_way_stream`, then ``send_eof``.

    Args:
        stream_maker: async function returning a fresh connected pair.
        clogged_stream_maker: like ``stream_maker``, blocked until read; or None.

    Raises:
        AssertionError: the stream broke the contract.
    """
    await check_two_way_stream(stream_maker, clogged_stream_maker)
    async with _opened(stream_maker) as (a, b):
        await _send_eof_half_closes(a, b)
    if clogged_stream_maker is not None:
        for check in (_send_eof_during_send_is_busy, _send_eof_during_wait_is_busy):
            async with _opened(clogged_stream_maker) as (a, b):
                await check(a, b)
