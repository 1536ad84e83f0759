"""Ctrl-C while the host loop of a guest run executes its own code (between ticks).

Regression: ``_ki.frame_is_protected`` answered "unprotected" for a stack
with no tether frame at all, so a SIGINT landing in the host's code raised
KeyboardInterrupt right there, tearing the host loop with the guest still
running.  trio defers it to the guest's main task; so does tether now.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Awaitable, Callable

import outcome
import pytest
import uvloop

import tether
from tether import asyncio_bridge
from tether.lowlevel import start_guest_run

pytestmark = pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread()
    or signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs the main thread with Python's default SIGINT handler",
)


def test_sigint_in_host_code_is_delivered_to_the_guest_main_task() -> None:
    scopes: list[tether.CancelScope] = []

    async def main() -> str:
        # A loop callback runs between ticks: pure host code.
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        with tether.CancelScope() as scope:
            scopes.append(scope)
            try:
                await tether.sleep_forever()
            except KeyboardInterrupt:
                return "KeyboardInterrupt in the guest's main task"
        return "cancelled by the test's cleanup"

    loop = asyncio.new_event_loop()
    try:
        done: asyncio.Future[outcome.Outcome[str]] = loop.create_future()
        start_guest_run(
            main,
            run_sync_soon_threadsafe=loop.call_soon_threadsafe,
            run_sync_soon_not_threadsafe=loop.call_soon,
            done_callback=done.set_result,
        )
        escaped = outcome.capture(loop.run_until_complete, done)
        if not done.done():  # the bug: it tore the host loop; end the guest cleanly
            scopes[0].cancel()
            loop.run_until_complete(done)
        assert isinstance(escaped, outcome.Value)
        assert done.result().unwrap() == "KeyboardInterrupt in the guest's main task"
    finally:
        loop.close()


FACTORIES = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


def test_sigint_in_asyncio_code_of_a_bridged_run_interrupts_main(host: str) -> None:
    seen: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await tether.sleep_forever()
        finally:
            seen.append("main unwound")

    with pytest.raises(KeyboardInterrupt):
        asyncio_bridge.run(main, loop_factory=FACTORIES[host])
    assert seen == ["main unwound"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_main_function_of_a_bridged_run_is_not_ki_protected(host: str) -> None:
    async def main() -> bool:
        return tether.lowlevel.currently_ki_protected()

    assert asyncio_bridge.run(main, loop_factory=FACTORIES[host]) is False


def run_until_main_is_interrupted(
    asyncio_fn: Callable[[], Awaitable[None]], host: str, events: list[str]
) -> None:
    """A bridged run whose main awaits ``asyncio_fn`` with aio_await; it must end with
    KeyboardInterrupt, which main records."""

    async def main() -> None:
        try:
            await asyncio_bridge.aio_await(asyncio_fn)
        except KeyboardInterrupt:
            events.append("KeyboardInterrupt in main")
            raise

    with pytest.raises(KeyboardInterrupt):
        asyncio_bridge.run(main, loop_factory=FACTORIES[host])


def test_sigint_while_main_waits_in_aio_await_cancels_the_asyncio_side(host: str) -> None:
    events: list[str] = []

    async def asyncio_side() -> None:
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            events.append("asyncio side cancelled")
            raise

    run_until_main_is_interrupted(asyncio_side, host, events)
    assert events == ["asyncio side cancelled", "KeyboardInterrupt in main"]


def test_sigint_in_a_tether_await_task_goes_to_main(host: str) -> None:
    events: list[str] = []

    async def tether_side() -> None:
        signal.raise_signal(signal.SIGINT)  # deferred: this task runs under the bridge
        events.append("tether_await task went on")
        try:
            await tether.sleep_forever()
        except tether.Cancelled:
            events.append("tether_await task cancelled")
            raise

    async def asyncio_side() -> None:
        await asyncio_bridge.tether_await(tether_side)

    run_until_main_is_interrupted(asyncio_side, host, events)
    assert events == [
        "tether_await task went on",
        "tether_await task cancelled",
        "KeyboardInterrupt in main",
    ]
