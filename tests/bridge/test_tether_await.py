"""``tether_await``: asyncio code awaiting tether code, results, errors and cancellation both ways."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from typing import Any

import pytest
import sniffio

import tether
from tether._bridge import _state, _tether
from tether.asyncio_bridge import aio_await, tether_await

BridgeRun = Callable[..., Any]


async def multiply(a: int, b: int) -> tuple[int, str]:
    await tether.sleep(0)
    return a * b, sniffio.current_async_library()


def test_tether_await_returns_the_tether_result(bridge_run_asyncio: BridgeRun) -> None:
    async def asyncio_side() -> tuple[int, str]:
        return await tether_await(multiply, 6, 7)

    assert bridge_run_asyncio(asyncio_side) == (42, "trio")


def test_many_concurrent_tether_await_calls(bridge_run_asyncio: BridgeRun) -> None:
    async def asyncio_side() -> list[tuple[int, str]]:
        return await asyncio.gather(*(tether_await(multiply, n, n) for n in range(50)))

    assert bridge_run_asyncio(asyncio_side) == [(n * n, "trio") for n in range(50)]


class TetherBoom(Exception):
    pass


async def fails_in_tether() -> None:
    await tether.sleep(0)
    raise TetherBoom("from tether")


def test_tether_exception_reaches_asyncio_with_its_traceback(bridge_run_asyncio: BridgeRun) -> None:
    async def asyncio_caller() -> list[str]:
        try:
            await tether_await(fails_in_tether)
        except TetherBoom as error:
            return [frame.name for frame in traceback.extract_tb(error.__traceback__)]
        return []

    names = bridge_run_asyncio(asyncio_caller)
    assert names.index("asyncio_caller") < names.index("fails_in_tether")


# ---------------------------------------------------------------- cancellation from asyncio


def test_cancelling_asyncio_cancels_the_tether_task_and_waits_for_it(bridge_run_asyncio: BridgeRun) -> None:
    events: list[str] = []

    async def tether_side(started: asyncio.Future[None]) -> None:
        started.set_result(None)
        try:
            await tether.sleep_forever()
        except tether.Cancelled:
            events.append("tether cancelled")
            with tether.CancelScope(shield=True):
                for _ in range(3):
                    await tether.sleep(0)  # cleanup taking a few steps
            events.append("tether cleaned up")
            raise

    async def asyncio_side() -> bool:
        started = asyncio.get_running_loop().create_future()
        task = asyncio.get_running_loop().create_task(tether_await(tether_side, started))
        await started
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            events.append("asyncio caller cancelled")
        return task.cancelled()

    assert bridge_run_asyncio(asyncio_side) is True
    assert events == ["tether cancelled", "tether cleaned up", "asyncio caller cancelled"]


def test_cancelled_caller_raises_cancelled_error_even_if_tether_finished_anyway(
    bridge_run_asyncio: BridgeRun,
) -> None:
    events: list[str] = []

    async def shielded(started: asyncio.Future[None], release: asyncio.Future[None]) -> str:
        with tether.CancelScope(shield=True):
            started.set_result(None)
            await aio_await(release)
        events.append("tether finished anyway")
        return "a result nobody gets"

    async def asyncio_side() -> bool:
        loop = asyncio.get_running_loop()
        started, release = loop.create_future(), loop.create_future()
        task = loop.create_task(tether_await(shielded, started, release))
        await started
        task.cancel()
        await asyncio.sleep(0)
        release.set_result(None)
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert bridge_run_asyncio(asyncio_side) is True
    assert events == ["tether finished anyway"]


def test_tether_error_during_cancellation_wins_over_cancelled_error(bridge_run_asyncio: BridgeRun) -> None:
    async def fails_when_cancelled(started: asyncio.Future[None]) -> None:
        started.set_result(None)
        try:
            await tether.sleep_forever()
        finally:
            raise TetherBoom("cleanup failed")

    async def asyncio_side() -> str:
        started = asyncio.get_running_loop().create_future()
        task = asyncio.get_running_loop().create_task(tether_await(fails_when_cancelled, started))
        await started
        task.cancel()
        with pytest.raises(TetherBoom, match="cleanup failed"):
            await task
        return "asyncio caller saw the error"

    assert bridge_run_asyncio(asyncio_side) == "asyncio caller saw the error"


def test_caller_cancelled_right_after_calling(bridge_run_asyncio: BridgeRun) -> None:
    # Whether tether's next tick starts the task before the asyncio task
    # processes its cancellation depends on thread timing (the call wakes
    # tether's worker thread): either way the caller ends cancelled and the
    # tether side never runs unsupervised.
    events: list[str] = []

    async def tether_side() -> None:
        events.append("tether side started")
        try:
            await tether.sleep_forever()
        except tether.Cancelled:
            events.append("tether side cancelled")
            raise

    async def asyncio_side() -> bool:
        task = asyncio.get_running_loop().create_task(tether_await(tether_side))
        await asyncio.sleep(0)  # the task's first step submits the call to tether
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return task.cancelled()

    assert bridge_run_asyncio(asyncio_side) is True
    assert events in ([], ["tether side started", "tether side cancelled"])


def test_call_cancelled_before_its_task_exists_never_starts(bridge_run: BridgeRun) -> None:
    # White-box: the branch the test above reaches only when the asyncio
    # task processes its cancellation before tether's tick starts the call.
    events: list[str] = []

    async def never() -> None:
        events.append("tether side ran")

    async def main() -> tuple[bool, bool, BaseException | None]:
        bridge = _state.bridge_for_tether("test")
        assert bridge.token is not None
        call = _tether.TetherCall(never, (), asyncio.get_running_loop().create_future(), bridge.token)
        call.cancel()
        _tether.start_call(bridge, call)
        await tether.sleep(0)
        return call.finished, call.waiter.done(), call.error

    assert bridge_run(main) == (True, True, None)
    assert events == []


@pytest.mark.slow
def test_asyncio_timeout_around_tether_await_cancels_the_tether_task(bridge_run_asyncio: BridgeRun) -> None:
    events: list[str] = []

    async def tether_forever() -> None:
        try:
            await tether.sleep_forever()
        except tether.Cancelled:
            events.append("tether task cancelled")
            raise

    async def asyncio_side() -> str:
        try:
            async with asyncio.timeout(0.01):
                await tether_await(tether_forever)
        except TimeoutError:
            return "asyncio timed out"
        return "no timeout"

    assert bridge_run_asyncio(asyncio_side) == "asyncio timed out"
    assert events == ["tether task cancelled"]


# ---------------------------------------------------------------- cancellation from tether


def test_tether_task_cancelled_by_tether_is_cancelled_error_in_asyncio(bridge_run: BridgeRun) -> None:
    # White-box: a tether_await task cancelled by tether itself (not by its
    # asyncio caller) happens only as a run ends; the mapping of its outcome.
    async def main() -> tuple[str, bool]:
        caught: list[tether.Cancelled] = []
        with tether.CancelScope() as scope:
            scope.cancel()
            try:
                await tether.sleep(0)
            except tether.Cancelled as cancelled:
                caught.append(cancelled)
                raise
        call = _tether.TetherCall(tether.sleep, (0,), asyncio.get_running_loop().create_future(), None)  # type: ignore[arg-type]
        call.error = caught[0]
        with pytest.raises(asyncio.CancelledError) as error:
            _tether._outcome(call, None)
        return str(error.value), error.value.__cause__ is caught[0]

    assert bridge_run(main) == ("the tether task run by tether_await() was cancelled", True)
