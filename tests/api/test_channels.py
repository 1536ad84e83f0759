"""Black-box tests for open_memory_channel, its send/receive handles, and as_safe_channel."""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator, Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest

Run = Callable[..., Any]
Case = Callable[[ModuleType], Awaitable[None]]


async def settle(impl: ModuleType) -> None:
    """Let every other task run until it blocks."""
    await impl.testing.wait_all_tasks_blocked()


def stats(
    impl: ModuleType,
    *,
    current_buffer_used: int = 0,
    max_buffer_size: float = 0,
    open_send_channels: int = 1,
    open_receive_channels: int = 1,
    tasks_waiting_send: int = 0,
    tasks_waiting_receive: int = 0,
    peak_buffer_used: int = 0,
) -> Any:
    """The MemoryChannelStatistics record expected from ``statistics()``."""
    return impl.MemoryChannelStatistics(
        current_buffer_used=current_buffer_used,
        max_buffer_size=max_buffer_size,
        open_send_channels=open_send_channels,
        open_receive_channels=open_receive_channels,
        tasks_waiting_send=tasks_waiting_send,
        tasks_waiting_receive=tasks_waiting_receive,
        peak_buffer_used=peak_buffer_used,
    )


async def send_recording(
    impl: ModuleType, channel: Any, value: object, record: list[tuple[object, str]]
) -> None:
    """Send ``value`` and note how the send ended."""
    try:
        await channel.send(value)
    except impl.Cancelled:
        record.append((value, "cancelled"))
        raise
    except (impl.BrokenResourceError, impl.ClosedResourceError) as exc:
        record.append((value, type(exc).__name__))
    else:
        record.append((value, "sent"))


async def receive_recording(
    impl: ModuleType, channel: Any, name: object, record: list[tuple[object, object]]
) -> None:
    """Receive once and note what arrived (or which error ended the wait)."""
    try:
        value = await channel.receive()
    except (impl.EndOfChannel, impl.ClosedResourceError) as exc:
        record.append((name, type(exc).__name__))
    else:
        record.append((name, value))


# ---------------------------------------------------------------------------
# Construction


@pytest.mark.parametrize("size", [0, 1, 10, math.inf])
def test_open_memory_channel_returns_a_send_and_a_receive_handle(
    impl: ModuleType, size: float
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(size)
    assert isinstance(send_channel, impl.MemorySendChannel)
    assert isinstance(receive_channel, impl.MemoryReceiveChannel)
    assert isinstance(send_channel, impl.abc.SendChannel)
    assert isinstance(receive_channel, impl.abc.ReceiveChannel)
    assert send_channel.statistics() == stats(impl, max_buffer_size=size)
    assert receive_channel.statistics() == stats(impl, max_buffer_size=size)


def test_open_memory_channel_can_be_subscripted_with_a_type(impl: ModuleType) -> None:
    send_channel, _receive_channel = impl.open_memory_channel[int](3)
    assert send_channel.statistics().max_buffer_size == 3


def test_open_memory_channel_negative_size_raises_value_error(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="max_buffer_size"):
        impl.open_memory_channel(-1)


@pytest.mark.parametrize("bad", [1.5, 3.0, "3", None, -math.inf])
def test_open_memory_channel_non_integer_size_raises_type_error(
    impl: ModuleType, bad: object
) -> None:
    with pytest.raises(TypeError, match="max_buffer_size"):
        impl.open_memory_channel(bad)


@pytest.mark.parametrize("class_name", ["MemorySendChannel", "MemoryReceiveChannel"])
def test_memory_channel_handles_have_no_public_constructor(
    impl: ModuleType, class_name: str
) -> None:
    with pytest.raises(TypeError):
        getattr(impl, class_name)()


def test_channel_created_outside_run_carries_values_between_runs(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def produce() -> None:
        for n in range(3):
            await send_channel.send(n)

    async def consume() -> list[int]:
        return [await receive_channel.receive() for _ in range(3)]

    run(produce)
    assert send_channel.statistics() == stats(
        impl, current_buffer_used=3, max_buffer_size=5, peak_buffer_used=3
    )
    assert run(consume) == [0, 1, 2]


def test_channel_created_outside_run_rendezvous_works_in_two_runs(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)

    async def main(value: str) -> tuple[str, float]:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(send_channel.send, value)
            await impl.sleep(1)
            received = await receive_channel.receive()
        return received, float(impl.current_time())

    assert run(main, "first") == ("first", 1.0)
    assert run(main, "second") == ("second", 1.0)


# ---------------------------------------------------------------------------
# Buffer semantics


def test_unbuffered_send_nowait_without_waiting_receiver_would_block(
    impl: ModuleType, run: Run
) -> None:
    send_channel, _receive_channel = impl.open_memory_channel(0)

    async def main() -> None:
        with pytest.raises(impl.WouldBlock):
            send_channel.send_nowait("x")
        assert send_channel.statistics() == stats(impl)

    run(main)


def test_unbuffered_send_nowait_hands_value_to_waiting_receiver(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, object]] = []

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(receive_recording, impl, receive_channel, "r", record)
            await settle(impl)
            assert send_channel.statistics() == stats(impl, tasks_waiting_receive=1)
            send_channel.send_nowait("x")
            assert send_channel.statistics() == stats(impl)

    run(main)
    assert record == [("r", "x")]


def test_unbuffered_send_blocks_until_received(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[str, float]] = []

    async def sender() -> None:
        await send_channel.send("x")
        record.append(("send returned", impl.current_time()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(sender)
            await impl.sleep(2)
            assert send_channel.statistics() == stats(impl, tasks_waiting_send=1)
            assert await receive_channel.receive() == "x"
            record.append(("received", impl.current_time()))

    run(main)
    assert sorted(record) == [("received", 2.0), ("send returned", 2.0)]


def test_unbuffered_receive_nowait_takes_value_from_blocked_sender(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, str]] = []

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(send_recording, impl, send_channel, "x", record)
            await settle(impl)
            assert receive_channel.receive_nowait() == "x"
            # The value passed straight through: the buffer was never used.
            assert receive_channel.statistics() == stats(impl)
            await settle(impl)
            assert record == [("x", "sent")]

    run(main)


def test_buffered_channel_accepts_exactly_max_buffer_size_values(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(2)

    async def main() -> None:
        send_channel.send_nowait("a")
        send_channel.send_nowait("b")
        with pytest.raises(impl.WouldBlock):
            send_channel.send_nowait("c")
        assert send_channel.statistics() == stats(
            impl, current_buffer_used=2, max_buffer_size=2, peak_buffer_used=2
        )
        assert [receive_channel.receive_nowait() for _ in range(2)] == ["a", "b"]
        with pytest.raises(impl.WouldBlock):
            receive_channel.receive_nowait()

    run(main)


def test_buffered_send_returns_without_a_receiver(impl: ModuleType, run: Run) -> None:
    send_channel, _receive_channel = impl.open_memory_channel(3)

    async def main() -> None:
        for value in "abc":
            await send_channel.send(value)
        assert impl.current_time() == 0.0
        assert send_channel.statistics().current_buffer_used == 3

    run(main)


def test_infinite_buffer_never_blocks_senders(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(math.inf)

    async def main() -> None:
        for n in range(1000):
            send_channel.send_nowait(n)
        assert send_channel.statistics() == stats(
            impl, current_buffer_used=1000, max_buffer_size=math.inf, peak_buffer_used=1000
        )
        assert [receive_channel.receive_nowait() for _ in range(1000)] == list(range(1000))

    run(main)


def test_values_arrive_in_send_order(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(1)
    received: list[int] = []

    async def producer() -> None:
        async with send_channel:
            for n in range(6):
                await send_channel.send(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(producer)
            async for value in receive_channel:
                received.append(value)

    run(main)
    assert received == [0, 1, 2, 3, 4, 5]


def test_blocked_senders_deliver_in_arrival_order(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(1)

    async def main() -> None:
        send_channel.send_nowait("buffered")
        async with impl.open_nursery() as nursery:
            for value in ("a", "b", "c"):
                nursery.start_soon(send_channel.send, value)
                await settle(impl)
            assert [receive_channel.receive_nowait() for _ in range(4)] == [
                "buffered",
                "a",
                "b",
                "c",
            ]

    run(main)


def test_blocked_receivers_get_values_in_arrival_order(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, object]] = []

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(receive_recording, impl, receive_channel, n, record)
                await settle(impl)
            for value in ("a", "b", "c"):
                send_channel.send_nowait(value)

    run(main)
    assert sorted(record) == [(0, "a"), (1, "b"), (2, "c")]


def test_receive_with_blocked_sender_refills_buffer_in_order(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(2)

    async def main() -> None:
        send_channel.send_nowait(1)
        send_channel.send_nowait(2)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(send_channel.send, 3)
            await settle(impl)
            nursery.start_soon(send_channel.send, 4)
            await settle(impl)
            assert send_channel.statistics() == stats(
                impl,
                current_buffer_used=2,
                max_buffer_size=2,
                tasks_waiting_send=2,
                peak_buffer_used=2,
            )
            assert receive_channel.receive_nowait() == 1
            # The first blocked sender's value moved into the buffer.
            assert send_channel.statistics() == stats(
                impl,
                current_buffer_used=2,
                max_buffer_size=2,
                tasks_waiting_send=1,
                peak_buffer_used=2,
            )
            assert [receive_channel.receive_nowait() for _ in range(3)] == [2, 3, 4]

    run(main)


def test_peak_buffer_used_remembers_the_high_water_mark(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(10)

    async def main() -> None:
        for n in range(4):
            send_channel.send_nowait(n)
        for _ in range(4):
            receive_channel.receive_nowait()
        send_channel.send_nowait("again")
        assert send_channel.statistics() == stats(
            impl, current_buffer_used=1, max_buffer_size=10, peak_buffer_used=4
        )

    run(main)


# ---------------------------------------------------------------------------
# Clones and closing


def test_clone_counts_as_another_open_handle(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    send_clone = send_channel.clone()
    receive_clone = receive_channel.clone()
    receive_clone.clone()
    assert send_clone.statistics() == stats(impl, open_send_channels=2, open_receive_channels=3)


def test_clones_share_one_buffer(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        send_clone = send_channel.clone()
        receive_clone = receive_channel.clone()
        send_channel.send_nowait("from original")
        send_clone.send_nowait("from clone")
        assert receive_clone.receive_nowait() == "from original"
        assert receive_channel.receive_nowait() == "from clone"

    run(main)


@pytest.mark.parametrize("side", [0, 1], ids=["send", "receive"])
def test_clone_of_closed_handle_raises_closed_resource_error(impl: ModuleType, side: int) -> None:
    handle = impl.open_memory_channel(0)[side]
    handle.close()
    with pytest.raises(impl.ClosedResourceError):
        handle.clone()


def test_close_is_idempotent(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    send_channel.close()
    send_channel.close()
    receive_channel.close()
    receive_channel.close()
    assert send_channel.statistics() == stats(impl, open_send_channels=0, open_receive_channels=0)


def test_closing_one_send_clone_keeps_the_channel_open(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(1)

    async def main() -> None:
        send_clone = send_channel.clone()
        send_channel.close()
        send_clone.send_nowait("still open")
        assert receive_channel.receive_nowait() == "still open"
        with pytest.raises(impl.WouldBlock):
            receive_channel.receive_nowait()

    run(main)


def test_closing_every_send_clone_ends_iteration_after_buffered_values(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> list[str]:
        send_clone = send_channel.clone()
        send_channel.send_nowait("a")
        send_clone.send_nowait("b")
        send_channel.close()
        send_clone.close()
        return [value async for value in receive_channel]

    assert run(main) == ["a", "b"]


def test_receive_after_all_senders_closed_drains_then_raises_end_of_channel(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        send_channel.send_nowait("a")
        send_channel.close()
        assert receive_channel.statistics() == stats(
            impl,
            current_buffer_used=1,
            max_buffer_size=5,
            open_send_channels=0,
            peak_buffer_used=1,
        )
        assert receive_channel.receive_nowait() == "a"
        with pytest.raises(impl.EndOfChannel):
            receive_channel.receive_nowait()
        with pytest.raises(impl.EndOfChannel):
            await receive_channel.receive()
        with pytest.raises(impl.EndOfChannel):
            await receive_channel.receive()

    run(main)


def test_closing_last_sender_wakes_blocked_receivers_with_end_of_channel(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, object]] = []

    async def main() -> None:
        send_clone = send_channel.clone()
        async with impl.open_nursery() as nursery:
            for n in range(2):
                nursery.start_soon(receive_recording, impl, receive_channel, n, record)
            await settle(impl)
            send_channel.close()
            await settle(impl)
            assert record == []
            send_clone.close()
            assert receive_channel.statistics() == stats(impl, open_send_channels=0)

    run(main)
    assert sorted(record) == [(0, "EndOfChannel"), (1, "EndOfChannel")]


def test_send_after_all_receivers_closed_raises_broken_resource_error(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        receive_clone = receive_channel.clone()
        receive_channel.close()
        send_channel.send_nowait("one receiver left")
        receive_clone.close()
        with pytest.raises(impl.BrokenResourceError):
            send_channel.send_nowait("nobody")
        with pytest.raises(impl.BrokenResourceError):
            await send_channel.send("nobody")

    run(main)


def test_closing_last_receiver_discards_buffer(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        send_channel.send_nowait("a")
        send_channel.send_nowait("b")
        receive_channel.close()
        assert send_channel.statistics() == stats(
            impl, max_buffer_size=5, open_receive_channels=0, peak_buffer_used=2
        )

    run(main)


def test_closing_last_receiver_breaks_blocked_senders(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, str]] = []

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for value in ("a", "b"):
                nursery.start_soon(send_recording, impl, send_channel, value, record)
            await settle(impl)
            receive_channel.close()
            assert send_channel.statistics() == stats(impl, open_receive_channels=0)

    run(main)
    assert sorted(record) == [("a", "BrokenResourceError"), ("b", "BrokenResourceError")]


def test_closing_a_send_handle_fails_its_own_blocked_senders_only(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, str]] = []

    async def main() -> None:
        send_clone = send_channel.clone()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(send_recording, impl, send_channel, "original", record)
            await settle(impl)
            nursery.start_soon(send_recording, impl, send_clone, "clone", record)
            await settle(impl)
            send_channel.close()
            await settle(impl)
            assert record == [("original", "ClosedResourceError")]
            assert receive_channel.statistics() == stats(impl, tasks_waiting_send=1)
            assert receive_channel.receive_nowait() == "clone"

    run(main)
    assert record == [("original", "ClosedResourceError"), ("clone", "sent")]


def test_closing_a_receive_handle_fails_its_own_blocked_receivers(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, object]] = []

    async def main() -> None:
        receive_clone = receive_channel.clone()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(receive_recording, impl, receive_channel, "original", record)
            await settle(impl)
            nursery.start_soon(receive_recording, impl, receive_clone, "clone", record)
            await settle(impl)
            receive_channel.close()
            await settle(impl)
            assert record == [("original", "ClosedResourceError")]
            send_channel.send_nowait("v")

    run(main)
    assert record == [("original", "ClosedResourceError"), ("clone", "v")]


def test_closed_send_handle_raises_closed_resource_error(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        send_channel.close()
        with pytest.raises(impl.ClosedResourceError):
            send_channel.send_nowait("x")
        with pytest.raises(impl.ClosedResourceError):
            await send_channel.send("x")
        receive_channel.close()
        # Closed wins over broken.
        with pytest.raises(impl.ClosedResourceError):
            send_channel.send_nowait("x")

    run(main)


def test_closed_receive_handle_raises_closed_resource_error_even_with_data(
    impl: ModuleType, run: Run
) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        receive_clone = receive_channel.clone()
        send_channel.send_nowait("x")
        receive_channel.close()
        with pytest.raises(impl.ClosedResourceError):
            receive_channel.receive_nowait()
        with pytest.raises(impl.ClosedResourceError):
            await receive_channel.receive()
        assert receive_clone.receive_nowait() == "x"

    run(main)


def test_statistics_of_a_closed_handle_still_work(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(2)
    send_channel.close()
    receive_channel.close()
    assert send_channel.statistics() == stats(
        impl, max_buffer_size=2, open_send_channels=0, open_receive_channels=0
    )


@pytest.mark.parametrize("side", [0, 1], ids=["send", "receive"])
def test_async_with_closes_the_handle(impl: ModuleType, run: Run, side: int) -> None:
    channels = impl.open_memory_channel(0)
    handle = channels[side]

    async def main() -> None:
        async with handle as entered:
            assert entered is handle
        assert handle.statistics() == stats(
            impl,
            open_send_channels=1 - (side == 0),
            open_receive_channels=1 - (side == 1),
        )
        with pytest.raises(impl.ClosedResourceError):
            handle.clone()

    run(main)


@pytest.mark.parametrize("side", [0, 1], ids=["send", "receive"])
def test_sync_with_closes_the_handle(impl: ModuleType, side: int) -> None:
    channels = impl.open_memory_channel(0)
    handle = channels[side]
    with handle as entered:
        assert entered is handle
    assert handle.statistics() == stats(
        impl,
        open_send_channels=1 - (side == 0),
        open_receive_channels=1 - (side == 1),
    )


@pytest.mark.parametrize("side", [0, 1], ids=["send", "receive"])
def test_aclose_closes_the_handle(impl: ModuleType, run: Run, side: int) -> None:
    channels = impl.open_memory_channel(0)
    handle = channels[side]

    async def main() -> None:
        await handle.aclose()
        await handle.aclose()
        with pytest.raises(impl.ClosedResourceError):
            handle.clone()

    run(main)


# ---------------------------------------------------------------------------
# Cancellation never loses or duplicates a value


def test_cancelled_blocked_sender_does_not_deliver_its_value(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, str]] = []

    async def sender(value: str, scope: Any) -> None:
        with scope:
            await send_recording(impl, send_channel, value, record)

    async def main() -> None:
        scopes = {value: impl.CancelScope() for value in "abc"}
        async with impl.open_nursery() as nursery:
            for value in "abc":
                nursery.start_soon(sender, value, scopes[value])
                await settle(impl)
            scopes["b"].cancel()
            await settle(impl)
            assert record == [("b", "cancelled")]
            assert send_channel.statistics() == stats(impl, tasks_waiting_send=2)
            assert receive_channel.receive_nowait() == "a"
            assert receive_channel.receive_nowait() == "c"
            with pytest.raises(impl.WouldBlock):
                receive_channel.receive_nowait()

    run(main)
    assert sorted(record) == [("a", "sent"), ("b", "cancelled"), ("c", "sent")]


def test_send_in_cancelled_scope_does_not_buffer_the_value(impl: ModuleType, run: Run) -> None:
    send_channel, _receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        with impl.CancelScope() as scope:
            scope.cancel()
            await send_channel.send("x")
        assert scope.cancelled_caught is True
        assert send_channel.statistics() == stats(impl, max_buffer_size=5)

    run(main)


def test_cancelled_blocked_receiver_takes_nothing(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)

    async def main() -> None:
        with impl.move_on_after(1) as scope:
            await receive_channel.receive()
        assert scope.cancelled_caught is True
        assert receive_channel.statistics() == stats(impl)
        # Nobody is waiting any more, so a rendezvous send cannot complete.
        with pytest.raises(impl.WouldBlock):
            send_channel.send_nowait("x")

    run(main)


def test_value_skips_cancelled_receiver_and_reaches_the_next(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    record: list[tuple[object, object]] = []

    async def receiver(name: str, scope: Any) -> None:
        with scope:
            await receive_recording(impl, receive_channel, name, record)

    async def main() -> None:
        first_scope = impl.CancelScope()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(receiver, "first", first_scope)
            await settle(impl)
            nursery.start_soon(receiver, "second", impl.CancelScope())
            await settle(impl)
            first_scope.cancel()
            await settle(impl)
            send_channel.send_nowait("x")

    run(main)
    assert record == [("second", "x")]


def test_receive_in_cancelled_scope_leaves_buffered_value(impl: ModuleType, run: Run) -> None:
    send_channel, receive_channel = impl.open_memory_channel(5)

    async def main() -> None:
        send_channel.send_nowait("kept")
        with impl.CancelScope() as scope:
            scope.cancel()
            await receive_channel.receive()
        assert scope.cancelled_caught is True
        assert receive_channel.receive_nowait() == "kept"

    run(main)


def test_cancelled_nursery_leaves_no_task_waiting_on_a_channel(impl: ModuleType, run: Run) -> None:
    send_channel, _receive_channel = impl.open_memory_channel(0)
    _other_send, other_receive = impl.open_memory_channel(0)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(send_channel.send, n)
                nursery.start_soon(other_receive.receive)
            await settle(impl)
            assert send_channel.statistics().tasks_waiting_send == 3
            assert other_receive.statistics().tasks_waiting_receive == 3
            nursery.cancel_scope.cancel()
        assert send_channel.statistics() == stats(impl)
        assert other_receive.statistics() == stats(impl)

    run(main)


# ---------------------------------------------------------------------------
# Checkpoints


async def _send_with_buffer_space(impl: ModuleType) -> None:
    send_channel, _ = impl.open_memory_channel(1)
    with impl.testing.assert_checkpoints():
        await send_channel.send("x")


async def _send_to_waiting_receiver(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    async with impl.open_nursery() as nursery:
        nursery.start_soon(receive_channel.receive)
        await settle(impl)
        with impl.testing.assert_checkpoints():
            await send_channel.send("x")


async def _receive_with_buffered_value(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(1)
    send_channel.send_nowait("x")
    with impl.testing.assert_checkpoints():
        await receive_channel.receive()


async def _receive_from_blocked_sender(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    async with impl.open_nursery() as nursery:
        nursery.start_soon(send_channel.send, "x")
        await settle(impl)
        with impl.testing.assert_checkpoints():
            await receive_channel.receive()


async def _async_for_step_with_buffered_value(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(1)
    send_channel.send_nowait("x")
    with impl.testing.assert_checkpoints():
        async for _ in receive_channel:
            break


async def _send_aclose(impl: ModuleType) -> None:
    send_channel, _ = impl.open_memory_channel(0)
    with impl.testing.assert_checkpoints():
        await send_channel.aclose()
    with impl.testing.assert_checkpoints():
        await send_channel.aclose()


async def _receive_aclose(impl: ModuleType) -> None:
    _, receive_channel = impl.open_memory_channel(0)
    with impl.testing.assert_checkpoints():
        await receive_channel.aclose()
    with impl.testing.assert_checkpoints():
        await receive_channel.aclose()


async def _async_with_exit(impl: ModuleType) -> None:
    send_channel, receive_channel = impl.open_memory_channel(0)
    for handle in (send_channel, receive_channel):
        await handle.__aenter__()
        with impl.testing.assert_checkpoints():
            await handle.__aexit__(None, None, None)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_send_with_buffer_space, id="send-buffer-space"),
        pytest.param(_send_to_waiting_receiver, id="send-to-waiting-receiver"),
        pytest.param(_receive_with_buffered_value, id="receive-buffered"),
        pytest.param(_receive_from_blocked_sender, id="receive-from-blocked-sender"),
        pytest.param(_async_for_step_with_buffered_value, id="async-for"),
        pytest.param(_send_aclose, id="send-aclose"),
        pytest.param(_receive_aclose, id="receive-aclose"),
        pytest.param(_async_with_exit, id="async-with-exit"),
    ],
)
def test_channel_async_method_is_a_checkpoint_even_when_it_need_not_block(
    impl: ModuleType, run: Run, case: Case
) -> None:
    run(case, impl)


def test_channel_sync_methods_are_never_checkpoints(impl: ModuleType, run: Run) -> None:
    async def main() -> None:
        send_channel, receive_channel = impl.open_memory_channel(1)
        with impl.testing.assert_no_checkpoints():
            send_channel.send_nowait("x")
            receive_channel.receive_nowait()
            send_clone = send_channel.clone()
            receive_clone = receive_channel.clone()
            send_channel.statistics()
            receive_channel.statistics()
            send_clone.close()
            receive_clone.close()
            with send_channel:
                pass
            with receive_channel:
                pass

    run(main)


# ---------------------------------------------------------------------------
# as_safe_channel


def test_as_safe_channel_yields_generator_values_then_runs_its_finally(
    impl: ModuleType, run: Run
) -> None:
    record: list[object] = []

    @impl.as_safe_channel
    async def numbers(count: int) -> AsyncGenerator[int, None]:
        try:
            for n in range(count):
                yield n
        finally:
            record.append("generator finally")

    async def main() -> None:
        async with numbers(3) as receive_channel:
            assert isinstance(receive_channel, impl.abc.ReceiveChannel)
            async for value in receive_channel:
                record.append(value)
        record.append("after async with")

    run(main)
    assert record == [0, 1, 2, "generator finally", "after async with"]


def test_as_safe_channel_advances_generator_only_when_consumer_receives(
    impl: ModuleType, run: Run
) -> None:
    record: list[object] = []

    @impl.as_safe_channel
    async def numbers() -> AsyncGenerator[int, None]:
        for n in range(10):
            record.append(("produce", n))
            yield n

    async def main() -> None:
        async with numbers() as receive_channel:
            record.append("entered")
            await settle(impl)
            record.append(("got", await receive_channel.receive()))
            await settle(impl)
            record.append(("got", await receive_channel.receive()))
            await settle(impl)

    run(main)
    assert record == ["entered", ("produce", 0), ("got", 0), ("produce", 1), ("got", 1)]


def test_as_safe_channel_passes_arguments_and_keeps_the_name(impl: ModuleType, run: Run) -> None:
    @impl.as_safe_channel
    async def pairs(first: int, *, second: str) -> AsyncGenerator[tuple[int, str], None]:
        yield (first, second)

    async def main() -> list[tuple[int, str]]:
        async with pairs(1, second="two") as receive_channel:
            return [value async for value in receive_channel]

    assert pairs.__name__ == "pairs"
    assert run(main) == [(1, "two")]


def test_as_safe_channel_early_exit_closes_the_generator(impl: ModuleType, run: Run) -> None:
    record: list[object] = []

    @impl.as_safe_channel
    async def forever() -> AsyncGenerator[int, None]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            record.append("generator finally")

    async def main() -> None:
        async with forever() as receive_channel:
            record.append(await receive_channel.receive())
            record.append("leaving body")
        record.append("after async with")

    run(main)
    assert record == [0, "leaving body", "generator finally", "after async with"]


def test_as_safe_channel_receive_after_generator_ends_raises_end_of_channel(
    impl: ModuleType, run: Run
) -> None:
    @impl.as_safe_channel
    async def one() -> AsyncGenerator[str, None]:
        yield "only"

    async def main() -> None:
        async with one() as receive_channel:
            assert await receive_channel.receive() == "only"
            with pytest.raises(impl.EndOfChannel):
                await receive_channel.receive()

    run(main)


def test_as_safe_channel_generator_sleeps_in_virtual_time(impl: ModuleType, run: Run) -> None:
    @impl.as_safe_channel
    async def slow() -> AsyncGenerator[float, None]:
        for _ in range(2):
            await impl.sleep(5)
            yield impl.current_time()

    async def main() -> list[float]:
        async with slow() as receive_channel:
            return [value async for value in receive_channel]

    assert run(main) == [5.0, 10.0]


def test_as_safe_channel_generator_exception_reaches_consumer_unwrapped(
    impl: ModuleType, run: Run
) -> None:
    record: list[object] = []

    @impl.as_safe_channel
    async def failing() -> AsyncGenerator[int, None]:
        yield 1
        raise ValueError("generator failed")

    async def main() -> None:
        async with failing() as receive_channel:
            async for value in receive_channel:
                record.append(value)
            record.append("iteration ended")
        record.append("not reached")

    with pytest.raises(ValueError, match="generator failed"):
        run(main)
    assert record == [1, "iteration ended"]


def test_as_safe_channel_consumer_exception_propagates_unwrapped(
    impl: ModuleType, run: Run
) -> None:
    record: list[object] = []

    @impl.as_safe_channel
    async def numbers() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            record.append("generator finally")

    async def main() -> None:
        async with numbers() as receive_channel:
            record.append(await receive_channel.receive())
            raise KeyError("consumer failed")

    with pytest.raises(KeyError, match="consumer failed"):
        run(main)
    assert record == [1, "generator finally"]


def test_as_safe_channel_consumer_and_generator_failing_raise_a_group(
    impl: ModuleType, run: Run
) -> None:
    @impl.as_safe_channel
    async def fails_on_close() -> AsyncGenerator[int, None]:
        try:
            yield 1
            yield 2
        finally:
            raise ValueError("cleanup failed")

    async def main() -> None:
        async with fails_on_close() as receive_channel:
            await receive_channel.receive()
            raise KeyError("consumer failed")

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    group = info.value
    assert sorted(type(exc).__name__ for exc in group.exceptions) == ["KeyError", "ValueError"]
    assert any("unable to unwrap" in note for note in getattr(group, "__notes__", []))


def test_as_safe_channel_cancelled_consumer_closes_sleeping_generator(
    impl: ModuleType, run: Run
) -> None:
    record: list[object] = []

    @impl.as_safe_channel
    async def slow() -> AsyncGenerator[int, None]:
        try:
            await impl.sleep(10)
            yield 1
        finally:
            record.append(("generator finally", impl.current_time()))

    async def main() -> None:
        with impl.move_on_after(1) as scope:
            async with slow() as receive_channel:
                await receive_channel.receive()
        record.append(("cancelled", scope.cancelled_caught, impl.current_time()))

    run(main)
    assert record == [("generator finally", 1.0), ("cancelled", True, 1.0)]


def test_as_safe_channel_cancelled_receive_loses_no_value(impl: ModuleType, run: Run) -> None:
    @impl.as_safe_channel
    async def slow() -> AsyncGenerator[str, None]:
        await impl.sleep(10)
        yield "late"

    async def main() -> list[object]:
        got: list[object] = []
        async with slow() as receive_channel:
            with impl.move_on_after(1):
                await receive_channel.receive()
            got.append(impl.current_time())
            got.append(await receive_channel.receive())
            got.append(impl.current_time())
        return got

    assert run(main) == [1.0, "late", 10.0]
