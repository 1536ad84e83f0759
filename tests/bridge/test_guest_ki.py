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

import outcome
import pytest

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


def test_sigint_in_asyncio_code_of_a_bridged_run_interrupts_main() -> None:
    seen: list[str] = []

    async def main() -> None:
        asyncio.get_running_loop().call_soon(signal.raise_signal, signal.SIGINT)
        try:
            await tether.sleep_forever()
        finally:
            seen.append("main unwound")

    with pytest.raises(KeyboardInterrupt):
        asyncio_bridge.run(main)
    assert seen == ["main unwound"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
