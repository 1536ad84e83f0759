"""Tether code awaiting asyncio: ``aio_await`` and the adapters built on it.

``aio_await`` runs the asyncio work as a new asyncio task (``_drive``) on
the host loop and blocks the tether task in ``wait_task_rescheduled``.  The
asyncio task reports its outcome and wakes the tether task itself, between
ticks (``reschedule`` may be called there: the guest wakes its worker).
Cancelling the tether task cancels the asyncio task and keeps waiting for
it (``Abort.FAILED``): the asyncio side always finishes before
``aio_await`` returns.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from contextvars import copy_context
from types import CoroutineType, TracebackType
from typing import Any, Generic, TypeVar, final

import sniffio

from .._core import (
    RUN,
    Abort,
    CancelScope,
    RaiseCancelT,
    Task,
    current_task,
    reschedule,
    wait_task_rescheduled,
)
from ._state import (
    BRIDGES_BY_RUNNER,
    AsyncioCancelledError,
    Bridge,
    bridge_for_tether,
    poll_before_sleeping,
)

T = TypeVar("T")


class AioCall:
    """One ``aio_await``: the waiting tether task and what the asyncio task reported."""

    __slots__ = ("aio_task", "error", "raise_cancel", "task", "unawaited", "value")

    def __init__(self, task: Task, unawaited: object) -> None:
        self.task = task
        self.aio_task: asyncio.Task[None] | None = None
        self.value: object = None
        self.error: BaseException | None = None
        # Set when tether cancelled the asyncio task: raises the tether
        # outcome of that cancellation (Cancelled, or a KeyboardInterrupt).
        self.raise_cancel: RaiseCancelT | None = None
        # A coroutine object handed to aio_await, to close if it never runs.
        self.unawaited = unawaited

    def abort(self, raise_cancel: RaiseCancelT) -> Abort:
        # Tether wants the task back: cancel the asyncio side and keep
        # waiting until it has finished.  May be called again (a pending
        # KeyboardInterrupt after a Cancelled, or the reverse): the first
        # request stands.
        if self.raise_cancel is None:
            self.raise_cancel = raise_cancel
            assert self.aio_task is not None
            self.aio_task.cancel()
        return Abort.FAILED

    def ended_before_start(self, aio_task: asyncio.Task[None]) -> None:
        # Done callback, removed by _drive's first step: the asyncio task was
        # cancelled before it ran (by our abort, or by asyncio code).
        if inspect.iscoroutine(self.unawaited):
            self.unawaited.close()
        self.error = asyncio.CancelledError()
        reschedule(self.task)


async def _drive(call: AioCall, target: Any, args: tuple[object, ...] | None) -> None:
    """The asyncio task of one ``aio_await``: await the target, report to tether, never raise."""
    task = call.aio_task
    assert task is not None
    task.remove_done_callback(call.ended_before_start)
    call.unawaited = None
    try:
        if args is None:
            call.value = await target
        else:
            call.value = await target(*args)
    except GeneratorExit:
        raise  # the coroutine is being closed, not run: nobody waits any more
    except BaseException as error:
        # Everything else, KeyboardInterrupt and SystemExit too: asyncio
        # would let those escape its loop; they belong to the tether caller.
        call.error = error
    reschedule(call.task)


def is_aio_await_task(task: asyncio.Task[object]) -> bool:
    """Whether ``task`` is the asyncio task of an ``aio_await`` (one a tether task waits for)."""
    return getattr(task.get_coro(), "cr_code", None) is _drive.__code__


async def aio_await(
    awaitable_or_async_fn: Awaitable[T] | Callable[..., Awaitable[T]], /, *args: object
) -> T:
    """Run asyncio code on the bridge's asyncio loop and wait for its result.

    ``aio_await(coroutine_or_future)`` awaits an awaitable;
    ``aio_await(async_fn, *args)`` calls ``async_fn(*args)`` and awaits what
    it returns.  Either way the await happens in a new asyncio task on the
    host loop, so asyncio code sees a current task and sniffio says
    "asyncio"; the task runs in a copy of the caller's context variables.

    Always a checkpoint.  Cancelling the caller cancels the asyncio task and
    waits for it to finish; if the asyncio side swallows that cancellation
    and returns a value anyway, the value is returned (tether's
    cancellation stays in force: the next checkpoint raises ``Cancelled``).

    Returns:
        What the asyncio side returned.

    Raises:
        Cancelled: the caller was cancelled and the asyncio side ended
            with ``CancelledError`` (KeyboardInterrupt likewise).
        AsyncioCancelledError: the asyncio side was cancelled by asyncio code.
        RuntimeError: not called from tether code inside
            ``tether.asyncio_bridge.run()``.
        TypeError: the argument is neither awaitable nor callable.
        Exception: whatever the asyncio side raised, with its traceback.
    """
    target: Any = awaitable_or_async_fn
    # The common case, a coroutine object, skips the general inspection.
    call_args = None if type(target) is CoroutineType and not args else _normalize(target, args)
    bridge = BRIDGES_BY_RUNNER.get(RUN.runner)  # type: ignore[arg-type]  # None: no run
    if bridge is None:
        _discard(target)
        bridge = bridge_for_tether("aio_await")  # raises the error that fits
    call = AioCall(current_task(), target)
    _start(bridge, call, target, call_args)
    # The checkpoint: a caller already cancelled is aborted at once, which
    # cancels the asyncio task before its first step (its coroutine never
    # runs), so no separate cancellation check is needed first.
    await wait_task_rescheduled(call.abort)
    error = call.error
    if error is None:
        return call.value  # type: ignore[return-value]  # what the asyncio side's T gave
    call.error = None  # the exception must not keep this frame alive through call
    try:
        if isinstance(error, asyncio.CancelledError):
            if call.raise_cancel is not None:
                call.raise_cancel()
            raise AsyncioCancelledError(
                "the asyncio side of aio_await() was cancelled by asyncio code, not by tether"
            ) from error
        raise error
    finally:
        del error


def _normalize(target: Any, args: tuple[object, ...]) -> tuple[object, ...] | None:
    """The arguments to call ``target`` with, or None to await it as it is."""
    if args:
        if not callable(target):
            _discard(target)
            raise TypeError(
                f"aio_await() got arguments, so expected an async function, got {target!r}"
            )
        return args
    if inspect.isawaitable(target):
        return None
    if callable(target):
        return ()
    raise TypeError(
        f"aio_await() expected an awaitable or an async function, got {target!r}\n"
        "pass a coroutine, a future, or the function and its arguments: aio_await(fn, arg1, arg2)"
    )


def _discard(target: object) -> None:
    if inspect.iscoroutine(target):
        target.close()  # avoids a misleading "never awaited" warning


def _start(bridge: Bridge, call: AioCall, target: Any, args: tuple[object, ...] | None) -> None:
    # asyncio.Task itself, not loop.create_task: a task factory installed
    # on the loop could start the task eagerly (asyncio.eager_task_factory),
    # running asyncio code inside this tick, before the tether task waits.
    # The task runs in a copy of the caller's context.
    coro = _drive(call, target, args)
    if sniffio.current_async_library_cvar.get(None) is None:
        aio_task = asyncio.Task(coro, loop=bridge.loop)
    else:
        # Copied into the asyncio task, a name set for tether code would
        # make sniffio answer for tether there.
        context = copy_context()
        context.run(sniffio.current_async_library_cvar.set, None)
        aio_task = asyncio.Task(coro, loop=bridge.loop, context=context)
    call.aio_task = aio_task
    aio_task.add_done_callback(call.ended_before_start)
    assert bridge.token is not None
    poll_before_sleeping(bridge.token)


@final
class aio_context(Generic[T]):
    """Use an asyncio async context manager from tether code: ``async with aio_context(cm) as x:``.

    ``__aenter__`` and ``__aexit__`` each run on the asyncio loop through
    ``aio_await`` (so in two different asyncio tasks: context managers
    bound to the current asyncio task, like ``asyncio.timeout`` or
    ``asyncio.TaskGroup``, do not work here).  ``__aexit__`` receives the
    tether block's exception as it is, and runs to completion even when the
    tether code is cancelled (it is shielded), so the asyncio resource is
    always released.
    """

    __slots__ = ("_cm",)

    def __init__(self, cm: AbstractAsyncContextManager[T]) -> None:
        if not (hasattr(type(cm), "__aenter__") and hasattr(type(cm), "__aexit__")):
            _discard(cm)
            raise TypeError(f"aio_context() expected an async context manager, got {cm!r}")
        self._cm = cm

    async def __aenter__(self) -> T:
        """Run the asyncio ``__aenter__``; a checkpoint (as ``aio_await``)."""
        return await aio_await(type(self._cm).__aenter__, self._cm)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        """Run the asyncio ``__aexit__`` with the block's exception, shielded from cancellation."""
        with CancelScope(shield=True):
            exit_fn = type(self._cm).__aexit__
            return await aio_await(exit_fn, self._cm, exc_type, exc_value, traceback)
        return None  # not reached: a shielded scope catches nothing


@final
class aio_iter(Generic[T]):
    """Iterate an asyncio async iterable from tether code: ``async for x in aio_iter(it):``.

    Each ``__anext__`` runs on the asyncio loop through ``aio_await``, so
    each step is a checkpoint and cancelling it cancels that step on the
    asyncio side.  Call ``aclose()`` to close an asyncio async generator
    early; one left unfinished is closed by the loop when ``run`` ends.
    """

    __slots__ = ("_iterator",)

    def __init__(self, iterable: AsyncIterable[T]) -> None:
        if not hasattr(type(iterable), "__aiter__"):
            raise TypeError(f"aio_iter() expected an async iterable, got {iterable!r}")
        self._iterator: AsyncIterator[T] = aiter(iterable)

    def __aiter__(self) -> aio_iter[T]:
        return self

    async def __anext__(self) -> T:
        """The next item, fetched on the asyncio loop; ``StopAsyncIteration`` at the end."""
        return await aio_await(type(self._iterator).__anext__, self._iterator)

    async def aclose(self) -> None:
        """Close the underlying iterator on the asyncio loop, if it can be closed."""
        close = getattr(self._iterator, "aclose", None)
        if close is not None:
            await aio_await(close)
