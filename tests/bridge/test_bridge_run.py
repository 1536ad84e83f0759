"""``tether.asyncio_bridge.run``: results, errors, what each side sees, and a clean end."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import sniffio

import tether
from tether import asyncio_bridge
from tether._bridge import _state
from tether.asyncio_bridge import aio_await, aio_iter, tether_await

BridgeRun = Callable[..., Any]


def test_run_returns_what_async_fn_returns(bridge_run: BridgeRun) -> None:
    async def main(a: int, b: int) -> int:
        await tether.sleep(0)
        return a + b

    assert bridge_run(main, 2, 3) == 5


class Boom(Exception):
    pass


def test_run_raises_what_async_fn_raises_with_its_traceback(bridge_run: BridgeRun) -> None:
    async def fails_in_tether() -> None:
        await tether.sleep(0)
        raise Boom("from tether")

    with pytest.raises(Boom, match="from tether") as caught:
        bridge_run(fails_in_tether)
    assert "fails_in_tether" in [frame.name for frame in traceback.extract_tb(caught.value.__traceback__)]


def test_run_with_asyncio_default_loop_when_no_factory_is_given() -> None:
    async def main() -> type[asyncio.AbstractEventLoop]:
        return type(await aio_await(_running_loop))

    assert issubclass(asyncio_bridge.run(main), asyncio.BaseEventLoop)


async def _running_loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


def test_sniffio_names_each_side_across_nested_calls(bridge_run: BridgeRun) -> None:
    async def in_tether_again() -> str:
        return sniffio.current_async_library()

    async def in_asyncio() -> tuple[str, str]:
        inner = await tether_await(in_tether_again)
        return sniffio.current_async_library(), inner

    async def main() -> tuple[str, tuple[str, str], str]:
        before = sniffio.current_async_library()
        across = await aio_await(in_asyncio)
        return before, across, sniffio.current_async_library()

    assert bridge_run(main) == ("trio", ("asyncio", "trio"), "trio")
    with pytest.raises(sniffio.AsyncLibraryNotFoundError):
        sniffio.current_async_library()


REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("REQUEST_ID", default="unset")


def test_context_variables_cross_the_bridge_as_copies(bridge_run: BridgeRun) -> None:
    async def tether_side() -> str:
        seen = REQUEST_ID.get()
        REQUEST_ID.set("changed by the tether task")
        return seen

    async def asyncio_side() -> tuple[str, str, str]:
        seen = REQUEST_ID.get()
        REQUEST_ID.set("set in asyncio")
        from_tether = await tether_await(tether_side)
        after = REQUEST_ID.get()
        REQUEST_ID.set("changed by the asyncio task")
        return seen, from_tether, after

    async def main() -> tuple[tuple[str, str, str], str]:
        REQUEST_ID.set("set in tether")
        across = await aio_await(asyncio_side)
        return across, REQUEST_ID.get()

    assert bridge_run(main) == (
        ("set in tether", "set in asyncio", "set in asyncio"),
        "set in tether",
    )


def test_asyncio_tasks_left_running_are_cancelled_and_awaited(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def background() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await asyncio.sleep(0)  # cleanup that takes a loop iteration
            events.append("background task cancelled and cleaned up")
            raise

    async def start_background() -> None:
        asyncio.get_running_loop().create_task(background())

    async def main() -> None:
        await aio_await(start_background)
        events.append("main returned")

    bridge_run(main)
    assert events == ["main returned", "background task cancelled and cleaned up"]


def test_tether_task_of_a_leftover_asyncio_task_finishes_before_run_returns(
    bridge_run: BridgeRun,
) -> None:
    events: list[str] = []
    started: list[asyncio.Future[None]] = []

    async def tether_forever() -> None:
        try:
            started[0].set_result(None)
            await tether.sleep_forever()
        finally:
            events.append(f"tether task ended in {sniffio.current_async_library()}")

    async def asyncio_caller() -> None:
        try:
            await tether_await(tether_forever)
        except asyncio.CancelledError:
            events.append("asyncio caller cancelled")
            raise

    async def start_caller() -> None:
        started.append(asyncio.get_running_loop().create_future())
        asyncio.get_running_loop().create_task(asyncio_caller())
        await started[0]

    async def main() -> None:
        await aio_await(start_caller)
        events.append("main returned")

    bridge_run(main)
    assert events == ["main returned", "tether task ended in trio", "asyncio caller cancelled"]


def test_unfinished_asyncio_async_generator_is_closed_when_run_ends(bridge_run: BridgeRun) -> None:
    events: list[str] = []

    async def numbers() -> AsyncIterator[int]:
        try:
            for n in range(10):
                await asyncio.sleep(0)
                yield n
        finally:
            events.append(f"generator closed in {sniffio.current_async_library()}")

    async def main() -> list[int]:
        seen = []
        async for n in aio_iter(numbers()):
            seen.append(n)
            if n == 2:
                break
        return seen

    assert bridge_run(main) == [0, 1, 2]
    assert events == ["generator closed in asyncio"]


def test_default_executor_is_shut_down(bridge_run: BridgeRun) -> None:
    def in_executor() -> str:
        return threading.current_thread().name

    async def main() -> str:
        loop = await aio_await(_running_loop)
        return await aio_await(loop.run_in_executor(None, in_executor))

    name = bridge_run(main)
    assert name.startswith(("asyncio_", "uvloop_"))  # the default executor's worker
    assert name not in [thread.name for thread in threading.enumerate()]


def test_system_exit_escaping_an_asyncio_task_unwinds_tether_then_is_raised(
    bridge_run: BridgeRun,
) -> None:
    events: list[str] = []

    async def exits() -> None:
        raise SystemExit(3)

    async def start_exiting_task() -> None:
        asyncio.get_running_loop().create_task(exits())

    async def main() -> None:
        await aio_await(start_exiting_task)
        try:
            await tether.sleep_forever()
        except tether.Cancelled:
            events.append("tether main cancelled")
            raise

    with pytest.raises(SystemExit) as caught:
        bridge_run(main)
    assert caught.value.code == 3
    assert events == ["tether main cancelled"]


def test_run_works_in_a_thread_other_than_main(host: str) -> None:
    results: list[object] = []

    async def main() -> str:
        await aio_await(asyncio.sleep, 0)
        return sniffio.current_async_library()

    factory = {"asyncio": asyncio.new_event_loop, "uvloop": _uvloop_factory()}[host]
    thread = threading.Thread(target=lambda: results.append(asyncio_bridge.run(main, loop_factory=factory)))
    thread.start()
    thread.join(timeout=30)
    assert results == ["trio"]


def _uvloop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    import uvloop

    return uvloop.new_event_loop  # type: ignore[no-any-return]


def test_runs_leave_no_bridge_registered(bridge_run: BridgeRun) -> None:
    async def main() -> int:
        return len(_state.BRIDGES_BY_LOOP) + len(_state.BRIDGES_BY_RUNNER)

    assert bridge_run(main) == 2
    assert bridge_run(main) == 2
    assert _state.BRIDGES_BY_LOOP == {}
    assert _state.BRIDGES_BY_RUNNER == {}


def test_public_names_are_exported_and_documented() -> None:
    # isidentifier(): pytest 9.2 (not 9.0) also rewrites the asserts of an editable plugin's
    # package (tether ships its plugin), which adds `@py_builtins` and `@pytest_ar`.
    public = {name for name in vars(asyncio_bridge) if name.isidentifier() and not name.startswith("_")}
    assert set(asyncio_bridge.__all__) == public
    for name in asyncio_bridge.__all__:
        assert getattr(asyncio_bridge, name).__doc__, name
