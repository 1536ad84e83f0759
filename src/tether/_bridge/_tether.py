"""asyncio code awaiting tether: ``tether_await`` and the nursery its tasks run in.

A call travels from the asyncio task to tether through the run's
``TrioToken`` (the guest's entry queue: it wakes tether's worker if tether
sleeps), becomes a task in the bridge's nursery (opened by the system task
``serve_calls``), and comes back as the result of an asyncio future the
asyncio task awaits.  Cancelling the asyncio task cancels the tether task's
own cancel scope and waits for it to finish.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar, TypeVarTuple, Unpack

from .._core import Cancelled, CancelScope, RunFinishedError, TrioToken, open_nursery
from .._timeouts import sleep_forever
from ._state import Bridge, bridge_for_asyncio, poll_before_sleeping

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

_CLOSING = "tether.asyncio_bridge.run() is finishing: its tether side takes no new tether_await() calls"


class TetherCall:
    """One ``tether_await``: the function to run, its tether task's scope, and its outcome."""

    __slots__ = (
        "args",
        "async_fn",
        "cancel_requested",
        "context",
        "error",
        "finished",
        "scope",
        "token",
        "value",
        "waiter",
    )

    def __init__(
        self,
        async_fn: Callable[..., Awaitable[object]],
        args: tuple[object, ...],
        waiter: asyncio.Future[None],
        token: TrioToken,
    ) -> None:
        self.token = token
        self.async_fn = async_fn
        self.args = args
        self.context = contextvars.copy_context()
        # The asyncio side awaits this; replaced by a fresh one after a
        # cancellation (which cancels the future being awaited).
        self.waiter = waiter
        self.scope: CancelScope | None = None
        self.cancel_requested = False
        self.finished = False
        self.value: object = None
        self.error: BaseException | None = None

    def cancel(self) -> None:
        """asyncio side: the awaiting task was cancelled; cancel the tether task."""
        self.cancel_requested = True
        if self.scope is not None:
            self.scope.cancel(reason="the asyncio task awaiting tether_await() was cancelled")

    def finish(self) -> None:
        """tether side: the outcome is in ``value`` / ``error``; wake the asyncio side."""
        self.finished = True
        self.async_fn = self.args = None  # type: ignore[assignment]  # nothing to keep alive now
        if not self.waiter.done():
            self.waiter.set_result(None)
            poll_before_sleeping(self.token)

    def fail(self, error: BaseException) -> None:
        self.error = error
        self.finish()


def start_call(bridge: Bridge, call: TetherCall) -> None:
    """In a tick (an entry-queue callback, so it must not raise): start the call's task."""
    if call.cancel_requested:
        call.finish()  # the asyncio side gave up before the task existed
        return
    nursery = bridge.nursery
    if nursery is None:
        if bridge.closing:
            call.fail(RuntimeError(_CLOSING))
        else:
            bridge.pending_calls.append(call)  # serve_calls starts it
        return
    try:
        call.context.run(nursery.start_soon, run_call, call, name=call.async_fn)
    except BaseException as error:
        call.fail(error)


async def run_call(call: TetherCall) -> None:
    """The tether task of one ``tether_await``: run the function, report its outcome, never raise."""
    with CancelScope() as scope:
        call.scope = scope
        if call.cancel_requested:
            call.cancel()  # requested between start_call and this first step
        try:
            call.value = await call.async_fn(*call.args)
        except BaseException as error:
            # Cancelled included: this task ends here either way, and the
            # asyncio side turns it into CancelledError.
            call.error = error
    call.finish()


async def serve_calls(bridge: Bridge) -> None:
    """System task: holds the nursery of the ``tether_await`` tasks until the run ends."""
    try:
        async with open_nursery() as nursery:
            bridge.nursery = nursery
            if bridge.closing:  # the run ended before this task took its first step
                nursery.cancel_scope.cancel()
            pending, bridge.pending_calls = bridge.pending_calls, []
            for call in pending:
                start_call(bridge, call)
            await sleep_forever()
    finally:
        bridge.closing = True
        bridge.nursery = None
        for call in bridge.pending_calls:
            call.fail(RuntimeError(_CLOSING))
        bridge.pending_calls.clear()
        assert bridge.calls_done is not None
        bridge.calls_done.set()


async def tether_await(async_fn: Callable[[Unpack[Ts]], Awaitable[T]], /, *args: *Ts) -> T:
    """From asyncio code: run ``async_fn(*args)`` as a tether task and return its result.

    The task runs in the bridge's nursery, in a copy of the caller's context
    variables; ``tether.asyncio_bridge.run`` waits for it before returning.
    Cancelling the asyncio caller cancels the tether task and waits for it
    to finish; the caller then raises its ``CancelledError`` (a result the
    tether task produced anyway is dropped: asyncio's cancellation is
    delivered once, and swallowing it would lose it), unless the tether task
    failed with an exception other than ``Cancelled``, which is raised
    instead.

    Returns:
        What ``async_fn`` returned.

    Raises:
        asyncio.CancelledError: the caller was cancelled, or the tether task
            was cancelled by tether (the run is ending).
        RuntimeError: not called from asyncio code on the loop of
            ``tether.asyncio_bridge.run()``, or that run is finishing.
        TypeError: ``async_fn`` is not callable (or is a coroutine object).
        Exception: whatever ``async_fn`` raised, with its traceback.
    """
    if inspect.iscoroutine(async_fn):
        async_fn.close()  # avoids a misleading "never awaited" warning
        raise TypeError(
            f"tether_await() expected an async function, got the coroutine object "
            f"{async_fn.__qualname__}()\n"
            "pass the function and its arguments separately: tether_await(fn, arg1, arg2)"
        )
    if not callable(async_fn):
        raise TypeError(f"tether_await() expected an async function, got {async_fn!r}")
    bridge = bridge_for_asyncio("tether_await")
    if bridge.closing or bridge.token is None:
        raise RuntimeError(_CLOSING)
    loop = bridge.loop
    token = bridge.token
    call = TetherCall(async_fn, args, loop.create_future(), token)
    try:
        token.run_sync_soon(start_call, bridge, call)
    except RunFinishedError:
        raise RuntimeError(_CLOSING) from None
    cancelled: asyncio.CancelledError | None = None
    try:
        await call.waiter
    except asyncio.CancelledError as error:
        cancelled = error
    except GeneratorExit:
        call.cancel()  # this coroutine is being closed: nobody waits any more
        raise
    if cancelled is not None:
        call.cancel()
        while not call.finished:
            call.waiter = loop.create_future()
            try:
                await call.waiter
            except asyncio.CancelledError:
                pass  # cancelled again while the tether task winds down: keep waiting
    return _outcome(call, cancelled)  # type: ignore[no-any-return]


def _outcome(call: TetherCall, cancelled: asyncio.CancelledError | None) -> Any:
    error = call.error
    call.error = None
    try:
        if error is not None and not isinstance(error, Cancelled):
            raise error
        if cancelled is not None:
            raise cancelled
        if error is not None:
            raise asyncio.CancelledError("the tether task run by tether_await() was cancelled") from error
        return call.value
    finally:
        del error, cancelled
