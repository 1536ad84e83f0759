"""The record of one bridged run, and how each side finds it.

``run`` registers a ``Bridge`` under both of its keys: the asyncio loop
(asyncio code finds it with ``asyncio.get_running_loop()``) and the tether
``Runner`` (tether code finds it through ``RUN.runner``, which is set only
during the guest's ticks, that is while tether code runs).  Between ticks
``RUN.runner`` is ``None``, and that is how ``tether_await`` tells asyncio
code from tether code: both run on the same thread and see the same
running asyncio loop.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, NoReturn

from .._core import RUN, CancelScope, RunFinishedError, Runner, TrioToken

if TYPE_CHECKING:
    from .._core import Nursery
    from .._sync import Event
    from ._tether import TetherCall

# Invariant: a Bridge is in both maps from the start of its tether run until
# that run has finished; ``run`` removes it in a ``finally``.
BRIDGES_BY_LOOP: dict[asyncio.AbstractEventLoop, Bridge] = {}
BRIDGES_BY_RUNNER: dict[Runner, Bridge] = {}


STOP_REASON = "an exception escaped the asyncio event loop of tether.asyncio_bridge.run()"


class AsyncioCancelledError(Exception):
    """The asyncio side of ``aio_await`` was cancelled by asyncio code, not by tether.

    Raised in the tether task that called ``aio_await`` when the asyncio
    task it waited for ended with ``asyncio.CancelledError`` that tether did
    not ask for (asyncio code cancelled that task or the future it awaited,
    or raised ``CancelledError`` itself).  The tether task itself is not
    cancelled, so this is an ordinary error; the original
    ``CancelledError`` is its ``__cause__``.
    """


class Bridge:
    """One bridged run: the asyncio loop (host), tether's run (guest), and the shared state."""

    __slots__ = (
        "calls_done",
        "closing",
        "loop",
        "main_scope",
        "nursery",
        "pending_calls",
        "runner",
        "stop_requested",
        "token",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.runner: Runner | None = None
        self.token: TrioToken | None = None
        # The nursery that tether_await's tasks run in (opened by a system
        # task), and the calls that arrived before it was open.
        self.nursery: Nursery | None = None
        self.pending_calls: list[TetherCall] = []
        self.calls_done: Event | None = None
        # Set once new tether_await calls are refused (the run is ending).
        self.closing = False
        # Around the user's main function: cancelled if the host loop is
        # torn down under the guest (an exception escaped it).
        self.main_scope: CancelScope | None = None
        self.stop_requested = False

    def request_stop(self) -> None:
        """Host side: end the tether run as soon as possible (its main function is cancelled)."""
        self.stop_requested = True
        if self.main_scope is not None:
            self.main_scope.cancel(reason=STOP_REASON)


def poll_before_sleeping(token: TrioToken) -> None:
    """Make tether's next I/O wait a poll instead of a sleep in the guest's worker thread.

    Called just before asyncio code runs that will probably wake tether at
    once: the asyncio task an ``aio_await`` just created, the asyncio task a
    finished ``tether_await`` call wakes.  A pending entry-queue callback
    means the guest may not sleep: it polls (timeout 0) and asks the host
    for the next tick at once, queued behind those asyncio callbacks.  If
    they wake a tether task, it runs in that tick, without the round trip
    through the worker thread (about 45 µs of a 55 µs call here).  If they
    do not, that tick finds nothing to do and tether sleeps as usual.
    """
    try:
        token.run_sync_soon(_nothing)
    except RunFinishedError:
        pass  # the run is over: nothing will sleep


def _nothing() -> None:
    pass


def bridge_for_tether(caller: str) -> Bridge:
    """The bridge of the tether run this tether code runs in; RuntimeError if none."""
    runner = RUN.runner
    if runner is not None:
        bridge = BRIDGES_BY_RUNNER.get(runner)
        if bridge is not None:
            return bridge
        raise RuntimeError(
            f"{caller}() needs an asyncio event loop to run on, and this tether run has none: "
            "start the program with tether.asyncio_bridge.run(main) instead of tether.run(main)"
        )
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None and loop in BRIDGES_BY_LOOP:
        raise RuntimeError(
            f"{caller}() was called from asyncio code; it is for tether code. "
            "asyncio code awaits asyncio objects directly"
        )
    outside_bridge(caller)


def bridge_for_asyncio(caller: str) -> Bridge:
    """The bridge whose asyncio loop this asyncio code runs on; RuntimeError if none."""
    if RUN.runner is not None:
        raise RuntimeError(
            f"{caller}() was called from tether code; it is for asyncio code. "
            "Tether code awaits tether functions directly"
        )
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        outside_bridge(caller)
    bridge = BRIDGES_BY_LOOP.get(loop)
    if bridge is None:
        outside_bridge(caller)
    return bridge


def outside_bridge(caller: str) -> NoReturn:
    raise RuntimeError(
        f"{caller}() must be called inside tether.asyncio_bridge.run(): "
        "start the program with tether.asyncio_bridge.run(main), which runs an asyncio "
        "event loop with tether as its guest"
    )
