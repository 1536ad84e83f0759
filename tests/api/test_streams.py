"""Black-box tests of the generic stream tools and the test streams.

StapledStream and aclose_forcefully; MemorySendStream, MemoryReceiveStream,
memory_stream_pump and the memory pairs; lockstep pairs; and the
conformance suites (check_one_way_stream, check_two_way_stream,
check_half_closeable_stream) run against every stream here, and against
deliberately broken streams that they must reject.  All in virtual time:
a deadlock turns into TooSlowError under ``fail_after``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest

Run = Callable[..., Any]

# Long enough for any suite in virtual time; a hang becomes TooSlowError.
DEADLOCK_TIMEOUT = 1000


async def settle(impl: ModuleType) -> None:
    await impl.testing.wait_all_tasks_blocked()


def assert_rejected(run: Run, async_fn: Callable[[], Any]) -> None:
    """Running ``async_fn`` must fail with an AssertionError (a suite's verdict).

    The suites run operations in nurseries, so the error may come in a group.
    """
    with pytest.raises(BaseException) as caught:
        run(async_fn)
    error = caught.value
    if isinstance(error, BaseExceptionGroup):
        assert error.subgroup(AssertionError) is not None, error
    else:
        assert isinstance(error, AssertionError), error


def recording_streams(
    impl: ModuleType, log: list[tuple[str, ...]], *, half_closeable: bool
) -> tuple[Any, Any]:
    """A send stream and a receive stream that log every call."""

    class Send(impl.abc.SendStream):  # type: ignore[misc]
        async def send_all(self, data: Any) -> None:
            log.append(("send_all", bytes(data)))

        async def wait_send_all_might_not_block(self) -> None:
            log.append(("wait_send_all_might_not_block",))

        async def aclose(self) -> None:
            log.append(("send aclose",))

    class HalfCloseableSend(Send):
        async def send_eof(self) -> None:
            log.append(("send_eof",))

    class Receive(impl.abc.ReceiveStream):  # type: ignore[misc]
        async def receive_some(self, max_bytes: int | None = None) -> bytes:
            log.append(("receive_some", str(max_bytes)))
            return b"data"

        async def aclose(self) -> None:
            log.append(("receive aclose",))

    return (HalfCloseableSend() if half_closeable else Send()), Receive()


# ---------------------------------------------------------------- StapledStream


def test_stapled_stream_is_a_half_closeable_stream_with_public_halves(impl: ModuleType) -> None:
    send_stream, receive_stream = impl.testing.memory_stream_one_way_pair()
    stapled = impl.StapledStream(send_stream, receive_stream)
    assert isinstance(stapled, impl.abc.HalfCloseableStream)
    assert stapled.send_stream is send_stream
    assert stapled.receive_stream is receive_stream
    assert repr(stapled) == f"StapledStream(send_stream={send_stream!r}, receive_stream={receive_stream!r})"


def test_stapled_stream_delegates_each_call(impl: ModuleType, run: Run) -> None:
    log: list[tuple[str, ...]] = []
    stapled = impl.StapledStream(*recording_streams(impl, log, half_closeable=False))

    async def main() -> None:
        await stapled.send_all(b"hi")
        await stapled.wait_send_all_might_not_block()
        assert await stapled.receive_some(7) == b"data"
        assert await stapled.receive_some() == b"data"

    run(main)
    assert log == [
        ("send_all", b"hi"),
        ("wait_send_all_might_not_block",),
        ("receive_some", "7"),
        ("receive_some", "None"),
    ]


def test_stapled_send_eof_closes_a_plain_send_stream(impl: ModuleType, run: Run) -> None:
    log: list[tuple[str, ...]] = []
    stapled = impl.StapledStream(*recording_streams(impl, log, half_closeable=False))
    run(stapled.send_eof)
    assert log == [("send aclose",)]


def test_stapled_send_eof_uses_send_eof_if_the_send_stream_has_one(impl: ModuleType, run: Run) -> None:
    log: list[tuple[str, ...]] = []
    stapled = impl.StapledStream(*recording_streams(impl, log, half_closeable=True))
    run(stapled.send_eof)
    assert log == [("send_eof",)]


def test_stapled_aclose_closes_send_then_receive(impl: ModuleType, run: Run) -> None:
    log: list[tuple[str, ...]] = []
    stapled = impl.StapledStream(*recording_streams(impl, log, half_closeable=False))
    run(stapled.aclose)
    assert log == [("send aclose",), ("receive aclose",)]


def test_stapled_aclose_closes_receive_side_even_if_send_side_fails(impl: ModuleType, run: Run) -> None:
    send_stream, receive_stream = impl.testing.memory_stream_one_way_pair()

    def broken_close() -> None:
        raise KeyError("send side")

    send_stream.close_hook = broken_close
    stapled = impl.StapledStream(send_stream, receive_stream)

    async def main() -> None:
        with pytest.raises(KeyError):
            await stapled.aclose()
        with pytest.raises(impl.ClosedResourceError):
            await receive_stream.receive_some()

    run(main)


def test_stapled_halves_can_be_replaced(impl: ModuleType, run: Run) -> None:
    first_send, first_receive = impl.testing.memory_stream_one_way_pair()
    second_send, second_receive = impl.testing.memory_stream_one_way_pair()
    stapled = impl.StapledStream(first_send, first_receive)
    stapled.send_stream = second_send

    async def main() -> None:
        await stapled.send_all(b"x")
        assert await second_receive.receive_some() == b"x"
        first_receive.put_eof()
        assert await first_receive.receive_some() == b""  # nothing went the old way

    run(main)


# ---------------------------------------------------------------- aclose_forcefully


def test_aclose_forcefully_runs_aclose_already_cancelled(impl: ModuleType, run: Run) -> None:
    seen: list[object] = []

    class Resource(impl.abc.AsyncResource):  # type: ignore[misc]
        async def aclose(self) -> None:
            seen.append(impl.current_effective_deadline())
            await impl.sleep(10)  # a graceful close that would wait
            seen.append("not reached")

    async def main() -> None:
        with impl.testing.assert_checkpoints():
            await impl.aclose_forcefully(Resource())
        seen.append(impl.current_time())

    run(main)
    assert seen == [float("-inf"), 0.0]


def test_aclose_forcefully_closes_a_memory_stream(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, _receive_stream = impl.testing.memory_stream_one_way_pair()
        await impl.aclose_forcefully(send_stream)
        with pytest.raises(impl.ClosedResourceError):
            await send_stream.send_all(b"x")

    run(main)


def test_aclose_forcefully_lets_errors_of_aclose_through(impl: ModuleType, run: Run) -> None:
    class Resource(impl.abc.AsyncResource):  # type: ignore[misc]
        async def aclose(self) -> None:
            raise ValueError("close failed")

    async def main() -> None:
        with pytest.raises(ValueError, match="close failed"):
            await impl.aclose_forcefully(Resource())

    run(main)


# ---------------------------------------------------------------- MemorySendStream


def test_memory_send_stream_buffers_what_is_sent(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        await stream.send_all(b"abc")
        await stream.send_all(bytearray(b"de"))
        await stream.send_all(memoryview(b"f"))
        with impl.testing.assert_no_checkpoints():
            assert stream.get_data_nowait(2) == b"ab"
            assert stream.get_data_nowait() == b"cdef"
            with pytest.raises(impl.WouldBlock):
                stream.get_data_nowait()

    run(main)


def test_memory_send_stream_get_data_waits_for_data(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        got: list[bytes] = []

        async def getter() -> None:
            got.append(await stream.get_data())

        async with impl.open_nursery() as nursery:
            nursery.start_soon(getter)
            await settle(impl)
            assert got == []
            await stream.send_all(b"xyz")
        assert got == [b"xyz"]
        await stream.send_all(b"more")
        with impl.testing.assert_checkpoints():
            assert await stream.get_data(1) == b"m"

    run(main)


def test_memory_send_stream_get_data_after_close_drains_then_returns_empty(
    impl: ModuleType, run: Run
) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        await stream.send_all(b"left")
        stream.close()
        assert await stream.get_data() == b"left"
        assert await stream.get_data() == b""
        assert stream.get_data_nowait() == b""

    run(main)


def test_memory_send_stream_close_wakes_a_waiting_get_data(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        got: list[bytes] = []

        async def getter() -> None:
            got.append(await stream.get_data())

        async with impl.open_nursery() as nursery:
            nursery.start_soon(getter)
            await settle(impl)
            await stream.aclose()
        assert got == [b""]

    run(main)


@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_memory_send_stream_get_data_checks_max_bytes(
    impl: ModuleType, run: Run, bad: object, error: type[Exception]
) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        await stream.send_all(b"x")
        with pytest.raises(error):
            stream.get_data_nowait(bad)
        with pytest.raises(error):
            await stream.get_data(bad)

    run(main)


def test_memory_send_stream_concurrent_get_data_is_busy(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(stream.get_data)
            await settle(impl)
            with pytest.raises(impl.BusyResourceError, match="another task is already fetching data"):
                await stream.get_data()
            with pytest.raises(impl.BusyResourceError):
                stream.get_data_nowait()
            nursery.cancel_scope.cancel()

    run(main)


def test_memory_send_stream_hooks_run_after_the_data_is_buffered(impl: ModuleType, run: Run) -> None:
    log: list[object] = []

    async def main() -> None:
        stream = impl.testing.MemorySendStream()

        async def send_hook() -> None:
            log.append(("send hook", bytes(stream.get_data_nowait())))

        async def wait_hook() -> None:
            log.append("wait hook")

        stream.send_all_hook = send_hook
        stream.wait_send_all_might_not_block_hook = wait_hook
        stream.close_hook = lambda: log.append("close hook")
        await stream.send_all(b"1")
        await stream.wait_send_all_might_not_block()
        stream.send_all_hook = None  # hooks can be changed at any time
        await stream.send_all(b"2")
        stream.close()
        await stream.aclose()

    run(main)
    assert log == [("send hook", b"1"), "wait hook", "close hook", "close hook"]


def test_memory_send_stream_after_close_raises_closed(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        await stream.aclose()
        with pytest.raises(impl.ClosedResourceError):
            await stream.send_all(b"x")
        with pytest.raises(impl.ClosedResourceError):
            await stream.wait_send_all_might_not_block()
        await stream.aclose()  # idempotent

    run(main)


def test_memory_send_stream_send_and_wait_conflict(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream(send_all_hook=impl.sleep_forever)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(stream.send_all, b"x")
            await settle(impl)
            with pytest.raises(impl.BusyResourceError):
                await stream.send_all(b"y")
            with pytest.raises(impl.BusyResourceError):
                await stream.wait_send_all_might_not_block()
            nursery.cancel_scope.cancel()

    run(main)


def test_memory_send_stream_cancelled_send_buffers_nothing(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        with impl.CancelScope() as scope:
            scope.cancel()
            await stream.send_all(b"x")
        with pytest.raises(impl.WouldBlock):
            stream.get_data_nowait()

    run(main)


def test_memory_send_stream_operations_are_checkpoints(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemorySendStream()
        with impl.testing.assert_checkpoints():
            await stream.send_all(b"x")
        with impl.testing.assert_checkpoints():
            await stream.wait_send_all_might_not_block()
        with impl.testing.assert_checkpoints():
            await stream.get_data()
        with impl.testing.assert_no_checkpoints():
            stream.close()
        with impl.testing.assert_checkpoints():
            await stream.aclose()

    run(main)


# ---------------------------------------------------------------- MemoryReceiveStream


def test_memory_receive_stream_returns_put_data(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream()
        stream.put_data(b"hello")
        with impl.testing.assert_checkpoints():
            assert await stream.receive_some(2) == b"he"
        assert await stream.receive_some() == b"llo"
        stream.put_eof()
        assert await stream.receive_some() == b""
        assert await stream.receive_some() == b""
        with pytest.raises(impl.ClosedResourceError):
            stream.put_data(b"late")

    run(main)


def test_memory_receive_stream_waits_for_data(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream()
        got: list[bytes] = []

        async def receiver() -> None:
            got.append(await stream.receive_some())

        async with impl.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await settle(impl)
            assert got == []
            stream.put_data(b"x")
        assert got == [b"x"]

    run(main)


def test_memory_receive_stream_hook_runs_before_reading(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream()

        async def feed() -> None:
            stream.put_data(b"fed")

        stream.receive_some_hook = feed
        assert await stream.receive_some() == b"fed"

    run(main)


def test_memory_receive_stream_close_discards_data_and_calls_hook(impl: ModuleType, run: Run) -> None:
    log: list[str] = []

    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream(close_hook=lambda: log.append("closed"))
        stream.put_data(b"lost")
        await stream.aclose()
        with pytest.raises(impl.ClosedResourceError):
            await stream.receive_some()
        with pytest.raises(impl.ClosedResourceError):
            stream.put_data(b"x")

    run(main)
    assert log == ["closed"]


def test_memory_receive_stream_close_wakes_a_blocked_receiver(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream()

        async def receiver() -> None:
            with pytest.raises(impl.ClosedResourceError):
                await stream.receive_some()

        async with impl.open_nursery() as nursery:
            nursery.start_soon(receiver)
            await settle(impl)
            stream.close()

    run(main)


@pytest.mark.parametrize(("bad", "error"), [(0, ValueError), (-1, ValueError), (1.5, TypeError)])
def test_memory_receive_stream_checks_max_bytes(
    impl: ModuleType, run: Run, bad: object, error: type[Exception]
) -> None:
    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream()
        stream.put_data(b"x")
        with pytest.raises(error):
            await stream.receive_some(bad)
        assert await stream.receive_some() == b"x"  # nothing was consumed

    run(main)


def test_memory_receive_stream_concurrent_receive_is_busy(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        stream = impl.testing.MemoryReceiveStream()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(stream.receive_some)
            await settle(impl)
            with pytest.raises(impl.BusyResourceError):
                await stream.receive_some()
            nursery.cancel_scope.cancel()

    run(main)


# ---------------------------------------------------------------- pumping and pairs


def test_memory_stream_pump_moves_bytes_and_reports_progress(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream = impl.testing.MemorySendStream()
        receive_stream = impl.testing.MemoryReceiveStream()
        pump = impl.testing.memory_stream_pump
        assert pump(send_stream, receive_stream) is False
        await send_stream.send_all(b"abcdef")
        assert pump(send_stream, receive_stream, max_bytes=2) is True
        assert await receive_stream.receive_some() == b"ab"
        assert pump(send_stream, receive_stream) is True
        assert await receive_stream.receive_some() == b"cdef"
        send_stream.close()
        assert pump(send_stream, receive_stream) is True  # the EOF
        assert await receive_stream.receive_some() == b""

    run(main)


def test_memory_stream_pump_into_closed_receiver_is_broken(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream = impl.testing.MemorySendStream()
        receive_stream = impl.testing.MemoryReceiveStream()
        receive_stream.close()
        await send_stream.send_all(b"x")
        with pytest.raises(impl.BrokenResourceError):
            impl.testing.memory_stream_pump(send_stream, receive_stream)

    run(main)


def test_memory_one_way_pair_delivers_at_once_and_passes_eof(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, receive_stream = impl.testing.memory_stream_one_way_pair()
        assert isinstance(send_stream, impl.testing.MemorySendStream)
        assert isinstance(receive_stream, impl.testing.MemoryReceiveStream)
        await send_stream.send_all(b"x")
        await send_stream.send_all(b"y")
        assert await receive_stream.receive_some() == b"xy"
        await send_stream.aclose()
        assert await receive_stream.receive_some() == b""

    run(main)


def test_memory_one_way_pair_can_be_pumped_by_hand(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, receive_stream = impl.testing.memory_stream_one_way_pair()
        send_stream.send_all_hook = None
        await send_stream.send_all(b"held back")
        with impl.move_on_after(1):
            await receive_stream.receive_some()
            raise AssertionError("nothing should have arrived")
        impl.testing.memory_stream_pump(send_stream, receive_stream, max_bytes=4)
        assert await receive_stream.receive_some() == b"held"

    run(main)


def test_memory_one_way_pair_send_after_receiver_closed_is_broken(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, receive_stream = impl.testing.memory_stream_one_way_pair()
        await receive_stream.aclose()
        with pytest.raises(impl.BrokenResourceError):
            await send_stream.send_all(b"x")

    run(main)


def test_memory_stream_pair_is_two_stapled_one_way_pairs(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        left, right = impl.testing.memory_stream_pair()
        assert isinstance(left, impl.StapledStream)
        assert isinstance(left.send_stream, impl.testing.MemorySendStream)
        assert isinstance(left.receive_stream, impl.testing.MemoryReceiveStream)
        await left.send_all(b"ping")
        assert await right.receive_some() == b"ping"
        await right.send_all(b"pong")
        await right.send_eof()
        assert await left.receive_some() == b"pong"
        assert await left.receive_some() == b""

    run(main)


# ---------------------------------------------------------------- lockstep streams


def test_lockstep_send_returns_only_after_everything_is_received(impl: ModuleType, run: Run) -> None:
    events: list[object] = []

    async def main() -> None:
        send_stream, receive_stream = impl.testing.lockstep_stream_one_way_pair()

        async def sender() -> None:
            await send_stream.send_all(b"abc")
            events.append("sent")

        async with impl.open_nursery() as nursery:
            nursery.start_soon(sender)
            await settle(impl)
            events.append(bytes(await receive_stream.receive_some(2)))
            await settle(impl)
            events.append(bytes(await receive_stream.receive_some(5)))
            await settle(impl)
            events.append("end")

    run(main)
    assert events == [b"ab", b"c", "sent", "end"]


def test_lockstep_wait_send_all_might_not_block_waits_for_a_receiver(impl: ModuleType, run: Run) -> None:
    events: list[str] = []

    async def main() -> None:
        send_stream, receive_stream = impl.testing.lockstep_stream_one_way_pair()

        async def waiter() -> None:
            await send_stream.wait_send_all_might_not_block()
            events.append("writable")

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await settle(impl)
            events.append("receiver starts")
            nursery.start_soon(receive_stream.receive_some)
            await settle(impl)
            nursery.cancel_scope.cancel()

    run(main)
    assert events == ["receiver starts", "writable"]


def test_lockstep_close_sender_gives_receiver_eof(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, receive_stream = impl.testing.lockstep_stream_one_way_pair()
        await send_stream.aclose()
        assert await receive_stream.receive_some() == b""
        with pytest.raises(impl.ClosedResourceError):
            await send_stream.send_all(b"x")
        with pytest.raises(impl.ClosedResourceError):
            await send_stream.wait_send_all_might_not_block()

    run(main)


def test_lockstep_close_receiver_breaks_blocked_sender(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, receive_stream = impl.testing.lockstep_stream_one_way_pair()

        async def sender() -> None:
            with pytest.raises(impl.BrokenResourceError):
                await send_stream.send_all(b"x")

        async with impl.open_nursery() as nursery:
            nursery.start_soon(sender)
            await settle(impl)
            await receive_stream.aclose()
        with pytest.raises(impl.ClosedResourceError):
            await receive_stream.receive_some()
        with pytest.raises(impl.BrokenResourceError):
            await send_stream.send_all(b"y")
        await send_stream.wait_send_all_might_not_block()  # returns: nobody will read

    run(main)


def test_lockstep_concurrent_use_is_busy(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_stream, receive_stream = impl.testing.lockstep_stream_one_way_pair()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(send_stream.wait_send_all_might_not_block)
            nursery.start_soon(receive_stream.receive_some)
            await settle(impl)
            # The waiter woke when the receiver arrived; now block a sender.
            nursery.start_soon(send_stream.send_all, b"x")
            await settle(impl)
            nursery.start_soon(send_stream.wait_send_all_might_not_block)
            await settle(impl)
            nursery.cancel_scope.cancel()
        with pytest.raises(impl.BusyResourceError):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(receive_stream.receive_some)
                nursery.start_soon(receive_stream.receive_some)

    with pytest.raises(BaseExceptionGroup) as caught:
        run(main)
    assert caught.group_contains(impl.BusyResourceError)


def test_lockstep_pair_is_two_stapled_one_way_pairs(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        left, right = impl.testing.lockstep_stream_pair()
        assert isinstance(left, impl.StapledStream)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(left.send_all, b"ping")
            assert await right.receive_some() == b"ping"
        async with impl.open_nursery() as nursery:
            nursery.start_soon(right.send_all, b"pong")
            assert await left.receive_some() == b"pong"

    run(main)


# ---------------------------------------------------------------- the conformance suites


def test_memory_one_way_pair_passes_check_one_way_stream(impl: ModuleType, run: Run) -> None:
    async def maker() -> Any:
        return impl.testing.memory_stream_one_way_pair()

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_one_way_stream(maker, None)

    run(main)


def test_memory_stream_pair_passes_check_half_closeable_stream(impl: ModuleType, run: Run) -> None:
    async def maker() -> Any:
        return impl.testing.memory_stream_pair()

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_half_closeable_stream(maker, None)

    run(main)


def test_lockstep_one_way_pair_passes_check_one_way_stream_clogged(impl: ModuleType, run: Run) -> None:
    async def maker() -> Any:
        return impl.testing.lockstep_stream_one_way_pair()

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_one_way_stream(maker, maker)

    run(main)


def test_lockstep_pair_passes_check_two_way_stream_clogged(impl: ModuleType, run: Run) -> None:
    async def maker() -> Any:
        return impl.testing.lockstep_stream_pair()

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_two_way_stream(maker, maker)

    run(main)


def test_lockstep_pair_passes_check_half_closeable_stream_unclogged(impl: ModuleType, run: Run) -> None:
    async def maker() -> Any:
        return impl.testing.lockstep_stream_pair()

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_half_closeable_stream(maker, None)

    run(main)


def test_stapled_lockstep_send_eof_is_not_busy_so_clogged_half_close_check_fails(
    impl: ModuleType, run: Run
) -> None:
    # StapledStream.send_eof on a plain send stream is aclose(), which never
    # reports BusyResourceError: the clogged half-close checks notice.
    async def maker() -> Any:
        return impl.testing.lockstep_stream_pair()

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_half_closeable_stream(maker, maker)

    assert_rejected(run, main)


# ---------------------------------------------------------------- broken streams are rejected


def flawed_one_way_pair(impl: ModuleType, flaw: str) -> tuple[Any, Any]:
    """A memory one-way pair with one contract violation."""
    inner_send, inner_receive = impl.testing.memory_stream_one_way_pair()

    class FlawedSend(impl.abc.SendStream):  # type: ignore[misc]
        async def send_all(self, data: Any) -> None:
            if flaw == "empty send is no checkpoint" and not data:
                return
            try:
                await inner_send.send_all(data)
            except impl.ClosedResourceError:
                if flaw != "send after close is silent":
                    raise

        async def wait_send_all_might_not_block(self) -> None:
            await inner_send.wait_send_all_might_not_block()

        async def aclose(self) -> None:
            await inner_send.aclose()

    class FlawedReceive(impl.abc.ReceiveStream):  # type: ignore[misc]
        async def receive_some(self, max_bytes: int | None = None) -> Any:
            if flaw == "max_bytes unchecked" and max_bytes is not None and max_bytes < 1:
                await impl.lowlevel.checkpoint()
                return b""
            try:
                return await inner_receive.receive_some(max_bytes)
            except impl.ClosedResourceError:
                if flaw != "closed receiver returns eof":
                    raise
                return b""

        async def aclose(self) -> None:
            await inner_receive.aclose()

    return FlawedSend(), FlawedReceive()


FLAWS = [
    "empty send is no checkpoint",
    "send after close is silent",
    "max_bytes unchecked",
    "closed receiver returns eof",
]


@pytest.mark.parametrize("flaw", FLAWS)
def test_check_one_way_stream_rejects_a_broken_stream(impl: ModuleType, run: Run, flaw: str) -> None:
    async def maker() -> Any:
        return flawed_one_way_pair(impl, flaw)

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_one_way_stream(maker, None)

    assert_rejected(run, main)


def test_check_one_way_stream_accepts_the_unflawed_wrapper(impl: ModuleType, run: Run) -> None:
    # The control for the test above: the wrapper itself is fine.
    async def maker() -> Any:
        return flawed_one_way_pair(impl, "none")

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_one_way_stream(maker, None)

    run(main)


def test_check_two_way_stream_rejects_a_stream_that_corrupts_data(impl: ModuleType, run: Run) -> None:
    class Corrupting(impl.abc.Stream):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            self.inner = inner
            self.received = 0

        async def send_all(self, data: Any) -> None:
            await self.inner.send_all(data)

        async def wait_send_all_might_not_block(self) -> None:
            await self.inner.wait_send_all_might_not_block()

        async def receive_some(self, max_bytes: int | None = None) -> Any:
            data = bytearray(await self.inner.receive_some(max_bytes))
            self.received += len(data)
            if self.received > 100_000 and data:
                data[0] ^= 1  # one flipped bit, well into the duplex transfer
            return data

        async def aclose(self) -> None:
            await self.inner.aclose()

    async def maker() -> Any:
        left, right = impl.testing.memory_stream_pair()
        return Corrupting(left), Corrupting(right)

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_two_way_stream(maker, None)

    assert_rejected(run, main)


def test_check_half_closeable_stream_rejects_a_plain_stream(impl: ModuleType, run: Run) -> None:
    class PlainStream(impl.abc.Stream):  # type: ignore[misc]
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        async def send_all(self, data: Any) -> None:
            await self.inner.send_all(data)

        async def wait_send_all_might_not_block(self) -> None:
            await self.inner.wait_send_all_might_not_block()

        async def receive_some(self, max_bytes: int | None = None) -> Any:
            return await self.inner.receive_some(max_bytes)

        async def aclose(self) -> None:
            await self.inner.aclose()

    async def maker() -> Any:
        left, right = impl.testing.memory_stream_pair()
        return PlainStream(left), PlainStream(right)

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_half_closeable_stream(maker, None)

    assert_rejected(run, main)


# ---------------------------------------------------------------- open_stream_to_socket_listener


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    before = set(os.listdir("/proc/self/fd"))
    yield
    leaked = set(os.listdir("/proc/self/fd")) - before
    assert not leaked, f"file descriptors leaked: {sorted(leaked)}"


@pytest.mark.usefixtures("no_fd_leak")
@pytest.mark.parametrize("host", ["127.0.0.1", "::1", None])
def test_open_stream_to_socket_listener_connects_to_the_listener(
    impl: ModuleType, run: Run, host: str | None
) -> None:
    # host None binds the wildcard addresses, reached through loopback.
    async def main() -> None:
        listeners = await impl.open_tcp_listeners(0, host=host)
        try:
            for listener in listeners:
                client = await impl.testing.open_stream_to_socket_listener(listener)
                assert isinstance(client, impl.SocketStream)
                async with client, await listener.accept() as server:
                    await client.send_all(b"hello")
                    assert await server.receive_some() == b"hello"
        finally:
            for listener in listeners:
                await listener.aclose()

    run(main)


@pytest.mark.usefixtures("no_fd_leak")
def test_open_stream_to_socket_listener_on_a_unix_socket(
    impl: ModuleType, run: Run, tmp_path: Any
) -> None:
    path = str(tmp_path / "listener.sock")

    async def main() -> None:
        sock = impl.socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        await sock.bind(path)
        sock.listen(1)
        async with impl.SocketListener(sock) as listener:
            async with await impl.testing.open_stream_to_socket_listener(listener) as client:
                async with await listener.accept() as server:
                    await server.send_all(b"over unix")
                    assert await client.receive_some() == b"over unix"

    run(main)
