"""Mistakes get errors that say what to do: asyncio code without the bridge, bridge
functions outside it or on the wrong side of it, wrong arguments."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import Any

import pytest

import tether
from tether import asyncio_bridge
from tether.asyncio_bridge import aio_await, tether_await

BridgeRun = Callable[..., Any]

NAMES_THE_FIX = re.compile(r"tether\.asyncio_bridge\.run\(main\).*tether\.asyncio_bridge\.aio_await", re.S)


# ---------------------------------------------------------------- asyncio code without the bridge


def test_awaiting_an_asyncio_future_in_plain_tether_names_the_bridge() -> None:
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()

        async def main() -> None:
            await future

        with pytest.raises(TypeError, match=NAMES_THE_FIX):
            tether.run(main)
    finally:
        loop.close()


def test_awaiting_asyncio_sleep_0_in_plain_tether_names_the_bridge() -> None:
    async def main() -> None:
        await asyncio.sleep(0)  # a bare yield

    with pytest.raises(TypeError, match=NAMES_THE_FIX):
        tether.run(main)


def test_awaiting_an_asyncio_future_directly_inside_the_bridge_names_aio_await(
    bridge_run: BridgeRun,
) -> None:
    async def main() -> None:
        future = asyncio.get_running_loop().create_future()
        try:
            await future
        finally:
            future.cancel()

    with pytest.raises(TypeError, match=NAMES_THE_FIX):
        bridge_run(main)


# ---------------------------------------------------------------- bridge functions outside the bridge


async def _one() -> int:
    return 1


def test_aio_await_in_plain_tether_run_says_to_use_the_bridge() -> None:
    async def main() -> None:
        await aio_await(_one)

    with pytest.raises(RuntimeError, match=r"this tether run has none.*tether\.asyncio_bridge\.run\(main\)"):
        tether.run(main)


def test_aio_await_with_no_run_at_all_says_to_use_the_bridge() -> None:
    with pytest.raises(RuntimeError, match=r"must be called inside tether\.asyncio_bridge\.run\(\)"):
        asyncio.run(aio_await(_one))


def test_tether_await_on_a_plain_asyncio_loop_says_to_use_the_bridge() -> None:
    with pytest.raises(RuntimeError, match=r"must be called inside tether\.asyncio_bridge\.run\(\)"):
        asyncio.run(tether_await(tether.sleep, 0))


def test_tether_await_in_plain_tether_run_says_it_is_for_asyncio_code() -> None:
    async def main() -> None:
        await tether_await(tether.sleep, 0)

    with pytest.raises(RuntimeError, match="called from tether code; it is for asyncio code"):
        tether.run(main)


def test_tether_await_from_tether_code_in_the_bridge_says_it_is_for_asyncio_code(
    bridge_run: BridgeRun,
) -> None:
    async def main() -> None:
        await tether_await(tether.sleep, 0)

    with pytest.raises(RuntimeError, match="called from tether code; it is for asyncio code"):
        bridge_run(main)


def test_aio_await_from_asyncio_code_in_the_bridge_says_it_is_for_tether_code(
    bridge_run: BridgeRun,
) -> None:
    async def asyncio_side() -> None:
        await aio_await(_one)

    async def main() -> None:
        await aio_await(asyncio_side)

    with pytest.raises(RuntimeError, match="called from asyncio code; it is for tether code"):
        bridge_run(main)


def test_run_inside_a_tether_run_is_refused() -> None:
    async def main() -> None:
        asyncio_bridge.run(_one)

    with pytest.raises(RuntimeError, match="cannot be called from inside a tether run"):
        tether.run(main)


def test_run_inside_a_running_asyncio_loop_is_refused() -> None:
    async def main() -> None:
        asyncio_bridge.run(_one)

    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        asyncio.run(main())


# ---------------------------------------------------------------- wrong arguments


def test_run_given_a_coroutine_object_shows_the_fix() -> None:
    with pytest.raises(TypeError, match=r"pass the function and its arguments separately"):
        asyncio_bridge.run(_one())  # type: ignore[arg-type]


def test_aio_await_given_a_non_awaitable_is_a_type_error(bridge_run: BridgeRun) -> None:
    async def main() -> None:
        await aio_await(42)  # type: ignore[arg-type]

    with pytest.raises(TypeError, match=r"expected an awaitable or an async function, got 42"):
        bridge_run(main)


def test_aio_await_given_a_coroutine_and_arguments_is_a_type_error(bridge_run: BridgeRun) -> None:
    async def main() -> None:
        await aio_await(_one(), 1)  # closed, so no "never awaited" warning

    with pytest.raises(TypeError, match="got arguments, so expected an async function"):
        bridge_run(main)


def test_tether_await_given_a_coroutine_object_shows_the_fix(bridge_run: BridgeRun) -> None:
    async def asyncio_side() -> None:
        await tether_await(_one())  # type: ignore[arg-type]

    async def main() -> None:
        await aio_await(asyncio_side)

    with pytest.raises(TypeError, match=r"tether_await\(fn, arg1, arg2\)"):
        bridge_run(main)
