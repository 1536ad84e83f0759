"""``tether.asyncio_bridge.run``: an asyncio loop as host, tether as its guest.

The lifecycle, top to bottom:

1. ``run`` makes the loop and runs it until a plain future (not a task, so
   no asyncio code can cancel it) holds the guest's outcome.  The guest
   starts from the loop's first callback, once the loop runs: a host such
   as uvloop installs its signal wake-up fd only then.
2. ``_guest_main`` is tether's main task: it starts the system task that
   holds ``tether_await``'s nursery, then runs the user's function.
3. When that function is done (value, error, or KeyboardInterrupt), still
   inside tether, the asyncio tasks left behind are cancelled and awaited
   (their ``tether_await`` calls end with them), then the nursery is closed.
4. The guest's run ends; back on the host, whatever asyncio tasks remain
   are cancelled, async generators and the default executor are shut
   down, and the loop is closed.

If an exception escapes the host loop while the guest still runs (asyncio
lets KeyboardInterrupt and SystemExit out of tasks and callbacks), the
user's function is cancelled, the guest is run to its end, and then that
exception is raised.
"""

from __future__ import annotations

import asyncio
import inspect
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import TypeVar, TypeVarTuple, Unpack, cast

import outcome

from .._core import (
    RUN,
    CancelScope,
    current_runner,
    current_trio_token,
    disable_ki_protection,
    spawn_system_task,
    start_guest_run,
)
from .._sync import Event
from ._aio import aio_await, is_aio_await_task
from ._state import BRIDGES_BY_LOOP, BRIDGES_BY_RUNNER, STOP_REASON, Bridge
from ._tether import serve_calls

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


def run(
    async_fn: Callable[[Unpack[Ts]], Awaitable[T]],
    *args: *Ts,
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> T:
    """Run ``async_fn(*args)`` with tether as the guest of a new asyncio event loop.

    Inside, tether code awaits asyncio code with ``aio_await`` (and the
    adapters ``aio_context``, ``aio_iter``), and asyncio code awaits tether
    code with ``tether_await``.  When ``async_fn`` is done, asyncio tasks
    still running are cancelled and awaited, tether tasks started by
    ``tether_await`` are finished, and the loop is shut down and closed
    (async generators, default executor) before ``run`` returns.

    Ctrl-C raises KeyboardInterrupt in ``async_fn``'s task, as in
    ``tether.run``.

    Args:
        loop_factory: makes the event loop, e.g. ``uvloop.new_event_loop``;
            default ``asyncio.new_event_loop`` (then it is also set as the
            thread's current event loop while ``run`` runs, as
            ``asyncio.run`` does).

    Returns:
        What ``async_fn`` returned.

    Raises:
        RuntimeError: called inside a tether run or a running asyncio loop.
        TypeError: ``async_fn`` is a coroutine object, not a function.
        BaseException: whatever ``async_fn`` raised.
    """
    if inspect.iscoroutine(async_fn):
        async_fn.close()  # avoids a misleading "never awaited" warning
        raise TypeError(
            f"expected an async function, got the coroutine object {async_fn.__qualname__}()\n"
            "pass the function and its arguments separately: "
            "tether.asyncio_bridge.run(fn, arg1, arg2)"
        )
    if RUN.runner is not None:
        raise RuntimeError("tether.asyncio_bridge.run() cannot be called from inside a tether run")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("tether.asyncio_bridge.run() cannot be called from a running event loop")
    loop = asyncio.new_event_loop() if loop_factory is None else loop_factory()
    if loop_factory is None:
        asyncio.set_event_loop(loop)
    bridge = Bridge(loop)
    BRIDGES_BY_LOOP[loop] = bridge
    try:
        result = _run_host(loop, bridge, async_fn, args)
    finally:
        try:
            _close_loop(loop)
        finally:
            del BRIDGES_BY_LOOP[loop]
            if bridge.runner is not None:
                BRIDGES_BY_RUNNER.pop(bridge.runner, None)
            if loop_factory is None:
                asyncio.set_event_loop(None)
    return cast(T, result.unwrap())


def _run_host(
    loop: asyncio.AbstractEventLoop,
    bridge: Bridge,
    async_fn: Callable[..., Awaitable[object]],
    args: tuple[object, ...],
) -> outcome.Outcome[object]:
    done: asyncio.Future[outcome.Outcome[object]] = loop.create_future()

    def start() -> None:
        try:
            start_guest_run(
                _guest_main,
                bridge,
                async_fn,
                args,
                run_sync_soon_threadsafe=loop.call_soon_threadsafe,
                run_sync_soon_not_threadsafe=loop.call_soon,
                done_callback=done.set_result,
                host_uses_signal_set_wakeup_fd=_host_uses_wakeup_fd(),
            )
        except BaseException as error:
            done.set_result(outcome.Error(error))

    loop.call_soon(start)
    escaped: BaseException | None = None
    while True:
        try:
            result = loop.run_until_complete(done)
            break
        except BaseException as error:
            if done.done():
                raise
            # Something escaped the loop (KeyboardInterrupt or SystemExit
            # from an asyncio task or callback): the guest still runs, so
            # stop it and run the loop until it has finished.
            if escaped is None:
                escaped = error
            bridge.request_stop()
    if escaped is not None:
        raise escaped
    return result


def _host_uses_wakeup_fd() -> bool:
    """Whether the running host loop has set ``signal.set_wakeup_fd`` (uvloop does; asyncio's
    selector loops only once they have a signal handler).  If not, tether sets its own."""
    if threading.current_thread() is not threading.main_thread():
        return False  # only the main thread has one, and tether sets none elsewhere
    fd = signal.set_wakeup_fd(-1)
    if fd == -1:
        return False
    # Put it back (Python offers no way to read it without replacing it).
    signal.set_wakeup_fd(fd, warn_on_full_buffer=False)
    return True


async def _guest_main(
    bridge: Bridge, async_fn: Callable[..., Awaitable[object]], args: tuple[object, ...]
) -> object:
    runner = current_runner()
    bridge.runner = runner
    bridge.token = current_trio_token()
    bridge.calls_done = Event()
    BRIDGES_BY_RUNNER[runner] = bridge
    spawn_system_task(serve_calls, bridge, name="<tether.asyncio_bridge: tether_await tasks>")
    try:
        with CancelScope() as scope:
            bridge.main_scope = scope
            if bridge.stop_requested:
                scope.cancel(reason=STOP_REASON)
            return await _call_main(async_fn, args)
        return None  # cancelled by request_stop: run() raises what escaped the loop
    finally:
        with CancelScope(shield=True):
            await _shutdown(bridge)


@disable_ki_protection
async def _call_main(async_fn: Callable[..., Awaitable[object]], args: tuple[object, ...]) -> object:
    # The frame between the user's function and the bridge (whose own
    # frames are tether's, so KeyboardInterrupt-protected): Ctrl-C reaches
    # the user's code as it does in tether.run's main task.
    return await async_fn(*args)


async def _shutdown(bridge: Bridge) -> None:
    await aio_await(_cancel_leftover_tasks, False)
    bridge.closing = True
    if bridge.nursery is not None:
        bridge.nursery.cancel_scope.cancel(reason="tether.asyncio_bridge.run() is finishing")
    assert bridge.calls_done is not None
    await bridge.calls_done.wait()


async def _cancel_leftover_tasks(include_aio_await_tasks: bool) -> None:
    """asyncio side: cancel every other asyncio task of this loop and wait for them, as
    ``asyncio.run`` does; repeated while cancelling them leaves new ones behind."""
    loop = asyncio.get_running_loop()
    current = asyncio.current_task()
    while True:
        tasks = [
            task
            for task in asyncio.all_tasks(loop)
            if task is not current and (include_aio_await_tasks or not is_aio_await_task(task))
        ]
        if not tasks:
            return
        for task in tasks:
            task.cancel()
        await asyncio.wait(tasks)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception in an asyncio task cancelled "
                        "when tether.asyncio_bridge.run() finished",
                        "exception": task.exception(),
                        "task": task,
                    }
                )


def _close_loop(loop: asyncio.AbstractEventLoop) -> None:
    # The guest has finished: what is left is asyncio's alone.
    try:
        loop.run_until_complete(_cancel_leftover_tasks(True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        loop.close()
