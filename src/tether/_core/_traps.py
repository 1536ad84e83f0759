"""The only code that yields to the run loop.

A task's coroutine talks to the loop solely through the messages below:

* ``CHECKPOINT``          a schedule point that raises if the task is cancelled;
* ``SHIELDED_CHECKPOINT`` a schedule point that never raises;
* ``CHECKED_CHECKPOINT``  the same, after the caller checked cancellation;
* a ``float``             "wake me at this deadline" (the whole of ``sleep``);
* ``WaitTaskRescheduled`` "I am blocked; here is my abort function";
* ``PermanentlyDetach``   "forget this coroutine".

Anything else is a foreign awaitable (an asyncio future, ...) and the loop
throws a TypeError naming it back into the task.  Each message is a shared
constant or a tiny object: the hot path allocates nothing here.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, NoReturn, final

import outcome

from ._local import current_runner

if TYPE_CHECKING:
    from ._task import Task


@final
class _LoopMessage:
    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def __repr__(self) -> str:
        # Shown by foreign event loops ("Task got bad yield: ...") when a
        # tether function is awaited outside tether.run().
        return f"<{self._text}: tether functions must be awaited inside tether.run()>"


CHECKPOINT = _LoopMessage("tether checkpoint")
SHIELDED_CHECKPOINT = _LoopMessage("tether shielded checkpoint")
# A schedule point after an operation that checked for cancellation itself
# before acting (the try-first socket calls): the loop treats it like
# SHIELDED_CHECKPOINT, but checkpoint counting sees a full checkpoint.
CHECKED_CHECKPOINT = _LoopMessage("tether checkpoint after a cancellation check")


@final
class WaitTaskRescheduled:
    __slots__ = ("abort_func",)

    def __init__(self, abort_func: Callable[[RaiseCancelT], Abort]) -> None:
        self.abort_func = abort_func


@final
class PermanentlyDetach:
    __slots__ = ("final_outcome",)

    def __init__(self, final_outcome: outcome.Outcome[object]) -> None:
        self.final_outcome = final_outcome


class Abort(enum.Enum):
    """What an abort function tells the loop when a blocked task is cancelled.

    ``SUCCEEDED``: the task is no longer waiting; the loop resumes it with
    Cancelled.  ``FAILED``: the wait could not be undone; whoever wakes the
    task later must call ``reschedule`` as usual.
    """

    SUCCEEDED = 1
    FAILED = 2


RaiseCancelT = Callable[[], NoReturn]


def abort_always_succeeds(raise_cancel: RaiseCancelT) -> Abort:
    """The abort function of a wait that can always be abandoned (sleep_forever, ...).

    Shared, so that the loop recognizes it and cancels such waits without
    building a ``raise_cancel`` callable for each.
    """
    return Abort.SUCCEEDED


@types.coroutine
def checkpoint() -> Generator[Any, Any, None]:
    """A checkpoint: raise Cancelled if cancelled, and let other tasks run.

    Equivalent to ``await tether.sleep(0)``.
    """
    yield CHECKPOINT


@types.coroutine
def cancel_shielded_checkpoint() -> Generator[Any, Any, None]:
    """A schedule point that never raises Cancelled (as if under a shield)."""
    yield SHIELDED_CHECKPOINT


@types.coroutine
def checked_schedule_point() -> Generator[Any, Any, None]:
    """The schedule point that completes a checkpoint whose cancellation check was inline.

    For operations that look at ``task._cancel_status.effectively_cancelled``
    before acting and must not raise Cancelled once they acted.
    """
    yield CHECKED_CHECKPOINT


@types.coroutine
def checkpoint_if_cancelled() -> Generator[Any, Any, None]:
    """Raise Cancelled if the caller is cancelled; otherwise return without yielding.

    A cancellation point but not a schedule point.
    """
    runner = current_runner()
    task = runner.current_task()
    for watcher in runner.checkpoint_watchers:
        if watcher.task is task:
            watcher.cancel_points += 1
    if task._cancel_status.effectively_cancelled or (
        runner.ki_pending and task is runner.main_task
    ):
        yield CHECKPOINT
        raise AssertionError("a cancelled checkpoint resumed normally")  # pragma: no cover


@types.coroutine
def wait_task_rescheduled(abort_func: Callable[[RaiseCancelT], Abort]) -> Generator[Any, Any, Any]:
    """Block the calling task until ``reschedule(task, outcome)`` is called.

    Before calling this, arrange for something to call ``reschedule`` later
    (store ``current_task()`` somewhere).  If the task is cancelled while
    blocked, ``abort_func(raise_cancel)`` is called: return
    ``Abort.SUCCEEDED`` if the wait is undone (the task then gets Cancelled),
    or ``Abort.FAILED`` and make sure ``reschedule`` still happens.

    Returns:
        The value of the outcome passed to ``reschedule`` (or raises its error).
    """
    return (yield WaitTaskRescheduled(abort_func))


@types.coroutine
def sleep_until_trap(deadline: float) -> Generator[Any, Any, None]:
    yield deadline


@types.coroutine
def permanently_detach_coroutine_object(
    final_outcome: outcome.Outcome[object],
) -> Generator[Any, Any, Any]:
    """Detach the calling coroutine from its task forever; the task exits with ``final_outcome``.

    The task must not have open nurseries or cancel scopes of its own.
    Returns whatever the new owner of the coroutine sends into it.
    """
    runner = current_runner()
    task = runner.current_task()
    if task._child_nurseries:
        raise RuntimeError("can't permanently detach a coroutine object with open nurseries")
    return (yield PermanentlyDetach(final_outcome))


@types.coroutine
def temporarily_detach_coroutine_object(
    abort_func: Callable[[RaiseCancelT], Abort],
) -> Generator[Any, Any, Any]:
    """Detach the calling coroutine from its task for a while.

    Until ``reattach_detached_coroutine_object`` is called, the coroutine may
    be driven by other code; the task stays blocked, and ``abort_func`` is
    called if it is cancelled (as for ``wait_task_rescheduled``).
    """
    return (yield WaitTaskRescheduled(abort_func))


async def reattach_detached_coroutine_object(task: Task, yield_value: object) -> None:
    """Give a temporarily detached coroutine back to ``task``.

    Await it from the detached coroutine while its temporary owner drives
    it: ``yield_value`` goes to that owner one last time, and the next
    resumption comes from the tether loop, in ``task``.
    """
    if task._abort_func is None:
        raise RuntimeError(f"{task!r} is not detached: it was not blocked in a detach")
    if not getattr(task.coro, "cr_running", False):
        raise RuntimeError(
            f"reattach_detached_coroutine_object must be awaited from {task!r}'s own "
            "coroutine, while its temporary owner is running it"
        )
    task._runner.reschedule_value(task, None)
    await _yield_to_owner(yield_value)


@types.coroutine
def _yield_to_owner(value: object) -> Generator[Any, Any, None]:
    yield value
