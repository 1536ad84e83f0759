"""Fixtures for the asyncio bridge tests (tether-only: trio has no such module).

Every test runs once with asyncio's own event loop as the host and once
with uvloop's.  ``bridge_run`` wraps ``tether.asyncio_bridge.run`` and then
checks that nothing leaked: no asyncio task was left when the loop closed,
the loop is closed, and the process holds the same file descriptors as
before.  The host's clock is real, so these tests order events with
futures and events, never with sleeps; the few that need time to pass
(timeouts) are marked ``slow`` and use short ones.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from typing import Any

import outcome
import pytest
import uvloop

from tether import asyncio_bridge
from tether.asyncio_bridge import aio_await


class _CheckedSelectorLoop(asyncio.SelectorEventLoop):
    tasks_at_close: set[asyncio.Task[Any]] | None = None

    def close(self) -> None:
        self.tasks_at_close = asyncio.all_tasks(self)
        super().close()


class _CheckedUvloop(uvloop.Loop):  # type: ignore[misc]
    tasks_at_close: set[asyncio.Task[Any]] | None = None

    def close(self) -> None:
        self.tasks_at_close = asyncio.all_tasks(self)
        super().close()


HOSTS: dict[str, Callable[[], asyncio.AbstractEventLoop]] = {
    "asyncio": _CheckedSelectorLoop,
    "uvloop": _CheckedUvloop,
}


@pytest.fixture(scope="session")
def _process_wide_loop_state() -> None:
    # libuv opens a pipe pair the first time a process runs a loop and keeps
    # it for good: not a leak of the code under test.
    loop = uvloop.new_event_loop()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()


@pytest.fixture(params=sorted(HOSTS))
def host(request: pytest.FixtureRequest, _process_wide_loop_state: None) -> str:
    """The name of the host loop: "asyncio" or "uvloop"."""
    return str(request.param)


def open_fds() -> set[int]:
    return {int(name) for name in os.listdir("/proc/self/fd")}


BridgeRun = Callable[..., Any]


@pytest.fixture
def bridge_run(host: str) -> BridgeRun:
    """``bridge_run(async_fn, *args)``: ``asyncio_bridge.run`` on the host, then the leak checks.

    Returns what ``run`` returned or raises what it raised, after checking.
    """

    def _run(async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        loops: list[Any] = []

        def factory() -> asyncio.AbstractEventLoop:
            loop = HOSTS[host]()
            loops.append(loop)
            return loop

        fds_before = open_fds()
        result = outcome.capture(asyncio_bridge.run, async_fn, *args, loop_factory=factory)
        (loop,) = loops
        assert loop.is_closed()
        assert loop.tasks_at_close == set()
        assert open_fds() - fds_before == set()
        return result.unwrap()

    return _run


@pytest.fixture
def bridge_run_asyncio(bridge_run: BridgeRun) -> BridgeRun:
    """``bridge_run_asyncio(async_fn, *args)``: ``bridge_run`` of a tether main that only
    runs the asyncio function ``async_fn(*args)`` through ``aio_await``, for tests
    whose subject is the asyncio side."""

    def _run(async_fn: Callable[..., Awaitable[Any]], *args: Any) -> Any:
        async def main() -> Any:
            return await aio_await(async_fn, *args)

        return bridge_run(main)

    return _run
