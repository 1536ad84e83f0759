"""``aio_context`` and ``aio_iter``: asyncio async context managers and iterators in tether code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Any

import pytest
import sniffio

import tether
from tether.asyncio_bridge import aio_await, aio_context, aio_iter

BridgeRun = Callable[..., Any]


class Recorder:
    """An asyncio async context manager that records what its methods saw."""

    def __init__(self, events: list[str], suppress: bool = False) -> None:
        self.events = events
        self.suppress = suppress

    async def __aenter__(self) -> str:
        await asyncio.sleep(0)
        self.events.append(f"enter in {sniffio.current_async_library()}")
        return "resource"

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool:
        await asyncio.sleep(0)
        name = None if exc_type is None else exc_type.__name__
        has_tb = traceback is not None
        self.events.append(f"exit in {sniffio.current_async_library()}: {name}, traceback={has_tb}")
        return self.suppress


def test_aio_context_enters_and_exits_on_the_asyncio_side(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def main() -> None:
        async with aio_context(Recorder(events)) as value:
            events.append(f"body in {sniffio.current_async_library()} got {value}")

    bridge_run(main)
    assert events == [
        "enter in asyncio",
        "body in trio got resource",
        "exit in asyncio: None, traceback=False",
    ]


def test_aio_context_passes_the_exception_to_aexit(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def main() -> None:
        async with aio_context(Recorder(events)):
            raise KeyError("from the body")

    with pytest.raises(KeyError, match="from the body"):
        bridge_run(main)
    assert events == ["enter in asyncio", "exit in asyncio: KeyError, traceback=True"]


def test_aio_context_aexit_may_suppress_the_exception(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def main() -> str:
        async with aio_context(Recorder(events, suppress=True)):
            raise KeyError("suppressed")
        return "went on"

    assert bridge_run(main) == "went on"
    assert events == ["enter in asyncio", "exit in asyncio: KeyError, traceback=True"]


def test_aio_context_exit_runs_to_completion_when_the_body_is_cancelled(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def main() -> bool:
        with tether.CancelScope() as scope:
            async with aio_context(Recorder(events)):
                scope.cancel()
                await tether.sleep(0)
        return scope.cancelled_caught

    assert bridge_run(main) is True
    assert events == ["enter in asyncio", "exit in asyncio: Cancelled, traceback=True"]


def test_aio_context_with_an_asynccontextmanager_and_an_asyncio_lock(bridge_run: BridgeRun) -> None:
    @contextlib.asynccontextmanager
    async def opened(events: list[str]) -> AsyncIterator[int]:
        events.append("opened")
        try:
            yield 7
        finally:
            await asyncio.sleep(0)
            events.append("closed")

    async def main() -> tuple[list[str], bool]:
        events: list[str] = []
        lock = asyncio.Lock()
        async with aio_context(lock), aio_context(opened(events)) as value:
            events.append(f"inside with {value}, lock held: {lock.locked()}")
        return events, lock.locked()

    assert bridge_run(main) == (["opened", "inside with 7, lock held: True", "closed"], False)


def test_aio_context_rejects_what_is_not_an_async_context_manager() -> None:
    with pytest.raises(TypeError, match="expected an async context manager"):
        aio_context(open)  # type: ignore[arg-type]


async def countdown(start: int) -> AsyncIterator[int]:
    for n in range(start, 0, -1):
        await asyncio.sleep(0)
        yield n


def test_aio_iter_iterates_an_asyncio_async_generator(bridge_run: BridgeRun) -> None:
    async def main() -> list[int]:
        return [n async for n in aio_iter(countdown(5))]

    assert bridge_run(main) == [5, 4, 3, 2, 1]


def test_aio_iter_aclose_closes_the_generator_on_the_asyncio_side(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            n = 0
            while True:
                await asyncio.sleep(0)
                yield n
                n += 1
        finally:
            events.append(f"closed in {sniffio.current_async_library()}")

    async def main() -> list[int]:
        seen = []
        iterator = aio_iter(numbers())
        async for n in iterator:
            seen.append(n)
            if n == 2:
                break
        await iterator.aclose()
        events.append("after aclose")
        return seen

    assert bridge_run(main) == [0, 1, 2]
    assert events == ["closed in asyncio", "after aclose"]


def test_aio_iter_over_an_asyncio_queue_fed_by_asyncio(bridge_run: BridgeRun) -> None:
    class Drain:
        def __init__(self, queue: asyncio.Queue[int | None]) -> None:
            self.queue = queue

        def __aiter__(self) -> Drain:
            return self

        async def __anext__(self) -> int:
            item = await self.queue.get()
            if item is None:
                raise StopAsyncIteration
            return item

    async def feed(queue: asyncio.Queue[int | None]) -> None:
        for n in range(5):
            await queue.put(n)
        await queue.put(None)

    async def main() -> list[int]:
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(aio_await, feed, queue)
            return [n async for n in aio_iter(Drain(queue))]

    assert bridge_run(main) == [0, 1, 2, 3, 4]


def test_cancelling_aio_iter_cancels_the_pending_step(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def slow_numbers(started: asyncio.Future[None]) -> AsyncIterator[int]:
        yield 1
        started.set_result(None)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("asyncio step cancelled")
            raise
        yield 2

    async def main() -> list[int]:
        started = asyncio.get_running_loop().create_future()
        seen: list[int] = []

        async def consume() -> None:
            async for n in aio_iter(slow_numbers(started)):
                seen.append(n)

        async with tether.open_nursery() as nursery:
            nursery.start_soon(consume)
            await aio_await(started)
            nursery.cancel_scope.cancel()
        return seen

    assert bridge_run(main) == [1]
    assert events == ["asyncio step cancelled"]


def test_aio_iter_rejects_what_is_not_an_async_iterable() -> None:
    with pytest.raises(TypeError, match="expected an async iterable"):
        aio_iter([1, 2])  # type: ignore[arg-type]
