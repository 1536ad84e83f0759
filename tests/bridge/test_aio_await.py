"""``aio_await``: tether code awaiting asyncio code, results, errors and cancellation both ways."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import sniffio

import tether
from tether.asyncio_bridge import AsyncioCancelledError, aio_await
from tether.testing import assert_checkpoints

BridgeRun = Callable[..., Any]


async def add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


# ---------------------------------------------------------------- results


def test_aio_await_accepts_a_coroutine_a_future_or_a_function_and_arguments(bridge_run: BridgeRun) -> None:
    async def main() -> list[int]:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        loop.call_soon(future.set_result, 30)
        return [await aio_await(add(1, 2)), await aio_await(add, 10, 20), await aio_await(future)]

    assert bridge_run(main) == [3, 30, 30]


def test_aio_await_runs_in_its_own_asyncio_task(bridge_run: BridgeRun) -> None:
    async def where() -> tuple[bool, str]:
        return asyncio.current_task() is not None, sniffio.current_async_library()

    async def main() -> tuple[tuple[bool, str], bool]:
        # Tether code runs in a loop callback: no asyncio task is current there.
        return await aio_await(where), asyncio.current_task() is None

    assert bridge_run(main) == ((True, "asyncio"), True)


def test_aio_await_is_a_checkpoint(bridge_run: BridgeRun) -> None:
    async def main() -> None:
        with assert_checkpoints():
            await aio_await(add, 1, 2)

    bridge_run(main)


# ---------------------------------------------------------------- errors


class AsyncioBoom(Exception):
    pass


async def fails_in_asyncio() -> None:
    await asyncio.sleep(0)
    raise AsyncioBoom("from asyncio")


def test_asyncio_exception_reaches_tether_with_its_traceback(bridge_run: BridgeRun) -> None:
    async def tether_caller() -> None:
        await aio_await(fails_in_asyncio)

    with pytest.raises(AsyncioBoom, match="from asyncio") as caught:
        bridge_run(tether_caller)
    names = [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]
    assert names.index("tether_caller") < names.index("fails_in_asyncio")


def test_keyboard_interrupt_on_the_asyncio_side_is_raised_in_the_tether_caller(
    bridge_run: BridgeRun,
) -> None:
    events: list[str] = []

    async def interrupts() -> None:
        raise KeyboardInterrupt

    async def main() -> None:
        try:
            await aio_await(interrupts)
        except KeyboardInterrupt:
            events.append("tether caller got KeyboardInterrupt")
            raise

    with pytest.raises(KeyboardInterrupt):
        bridge_run(main)
    assert events == ["tether caller got KeyboardInterrupt"]


# ---------------------------------------------------------------- cancellation from tether


def test_cancelling_tether_cancels_the_asyncio_task_and_waits_for_it(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def asyncio_side(started: asyncio.Future[None]) -> None:
        started.set_result(None)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("asyncio cancelled")
            for _ in range(3):
                await asyncio.sleep(0)  # cleanup taking a few loop iterations
            events.append("asyncio cleaned up")
            raise

    async def tether_side(started: asyncio.Future[None]) -> None:
        try:
            await aio_await(asyncio_side, started)
        except tether.Cancelled:
            events.append("tether cancelled")
            raise

    async def main() -> bool:
        started = asyncio.get_running_loop().create_future()
        with tether.CancelScope() as scope:
            async with tether.open_nursery() as nursery:
                nursery.start_soon(tether_side, started)
                await aio_await(started)
                scope.cancel()
        return scope.cancelled_caught

    assert bridge_run(main) is True
    assert events == ["asyncio cancelled", "asyncio cleaned up", "tether cancelled"]


def test_asyncio_side_swallowing_the_cancellation_returns_its_value(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def stubborn(started: asyncio.Future[None]) -> str:
        started.set_result(None)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            return "finished anyway"
        return "not cancelled"

    async def tether_side(started: asyncio.Future[None]) -> None:
        events.append(await aio_await(stubborn, started))
        try:
            await tether.sleep(0)
        except tether.Cancelled:
            events.append("cancelled at the next checkpoint")
            raise

    async def main() -> None:
        started = asyncio.get_running_loop().create_future()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether_side, started)
            await aio_await(started)
            nursery.cancel_scope.cancel()

    bridge_run(main)
    assert events == ["finished anyway", "cancelled at the next checkpoint"]


@pytest.mark.slow
def test_tether_timeout_cancels_the_asyncio_side(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def slow() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("asyncio sleep cancelled")
            raise

    async def main() -> bool:
        with tether.move_on_after(0.01) as scope:
            await aio_await(slow)
        return scope.cancelled_caught

    assert bridge_run(main) is True
    assert events == ["asyncio sleep cancelled"]


def test_aio_await_in_a_cancelled_scope_does_not_start_the_asyncio_side(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def never() -> None:
        events.append("asyncio side ran")

    async def main() -> None:
        with tether.CancelScope() as scope:
            scope.cancel()
            await aio_await(never())  # the coroutine is closed, not left unawaited
        events.append("main went on")

    bridge_run(main)
    assert events == ["main went on"]


def test_cancel_before_the_asyncio_task_took_its_first_step(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def never() -> None:
        events.append("asyncio side ran")

    async def waiter(scope: tether.CancelScope) -> None:
        with scope:
            await aio_await(never())
        events.append(f"tether waiter cancelled: {scope.cancelled_caught}")

    async def canceller(scope: tether.CancelScope) -> None:
        scope.cancel()  # same batch as waiter's aio_await: the asyncio task has not run yet

    async def main() -> None:
        scope = tether.CancelScope()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(waiter, scope)
            nursery.start_soon(canceller, scope)

    bridge_run(main)
    assert events == ["tether waiter cancelled: True"]


# ---------------------------------------------------------------- cancellation from asyncio


def test_asyncio_cancelling_its_own_side_is_an_error_for_tether(bridge_run: BridgeRun) -> None:
    async def cancels_itself() -> None:
        task = asyncio.current_task()
        assert task is not None
        task.cancel()
        await asyncio.sleep(0)

    async def main() -> str:
        try:
            await aio_await(cancels_itself)
        except AsyncioCancelledError as error:
            assert isinstance(error.__cause__, asyncio.CancelledError)
        await tether.sleep(0)  # the tether task itself is not cancelled
        return "main went on"

    assert bridge_run(main) == "main went on"


def test_asyncio_task_cancelled_by_asyncio_before_its_first_step(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def never() -> None:
        events.append("asyncio side ran")

    def cancel_other_tasks() -> None:
        for task in asyncio.all_tasks():
            task.cancel()

    async def main() -> str:
        # Runs before the asyncio task's first step (callbacks run in order).
        asyncio.get_running_loop().call_soon(cancel_other_tasks)
        with pytest.raises(AsyncioCancelledError):
            await aio_await(never())
        return "main went on"

    assert bridge_run(main) == "main went on"
    assert events == []


# ---------------------------------------------------------------- asyncio primitives


def test_asyncio_queue_between_a_tether_producer_and_an_asyncio_consumer(bridge_run: BridgeRun) -> None:
    async def consume(queue: asyncio.Queue[int | None]) -> list[int]:
        received = []
        while (item := await queue.get()) is not None:
            received.append(item)
        return received

    async def start_consumer(queue: asyncio.Queue[int | None]) -> asyncio.Task[list[int]]:
        return asyncio.get_running_loop().create_task(consume(queue))

    async def main() -> list[int]:
        queue: asyncio.Queue[int | None] = asyncio.Queue(maxsize=2)
        consumer = await aio_await(start_consumer, queue)
        for n in range(10):
            await aio_await(queue.put, n)  # blocks while the queue is full
        await aio_await(queue.put, None)
        return await aio_await(consumer)

    assert bridge_run(main) == list(range(10))


def test_asyncio_queue_between_an_asyncio_producer_and_tether_consumers(bridge_run: BridgeRun) -> None:
    async def produce(queue: asyncio.Queue[int]) -> None:
        for n in range(20):
            await queue.put(n)

    async def main() -> list[int]:
        queue: asyncio.Queue[int] = asyncio.Queue()
        received: list[int] = []

        async def consumer() -> None:
            for _ in range(10):
                received.append(await aio_await(queue.get))

        async with tether.open_nursery() as nursery:
            nursery.start_soon(consumer)
            nursery.start_soon(consumer)
            await aio_await(produce, queue)
        return sorted(received)

    assert bridge_run(main) == list(range(20))


@pytest.mark.slow
def test_asyncio_timeout_inside_the_asyncio_side(bridge_run: BridgeRun) -> None:
    async def times_out() -> None:
        async with asyncio.timeout(0.01):
            await asyncio.sleep(3600)

    async def main() -> None:
        await aio_await(times_out)

    with pytest.raises(TimeoutError):
        bridge_run(main)
