"""Deadlock detection: a run where every task is blocked and nothing can wake one.

``DeadlockDetector`` is an instrument.  Its ``before_io_wait`` hook runs
when the loop is about to wait; if no task is runnable it asks whether
anything at all could ever wake a task (``wake_sources``).  If nothing can,
the run is stuck for good: the detector raises ``DeadlockError`` into the
main task's wait (through its abort function, the way a KeyboardInterrupt is
delivered) and makes the loop's coming wait return at once.

Wake sources, in the order they are checked: a runnable task, a thread
callback queued, a pending KeyboardInterrupt, a ``wait_all_tasks_blocked``
caller, a deadline (a sleep or a scope's), a task waiting for an fd, a
``to_thread.run_sync`` job that has not reported back (abandoned ones too),
and any reference to the run's TrioToken besides the run's own: that is how
foreign threads, signal receivers and ``start_thread_soon`` callbacks reach
the run, so while one exists the run may still be woken.  (tether's worker
threads drop theirs before they wake the run: a thread that just reported
back must not hide a deadlock.)  A KeyboardInterrupt
that might come some day is not counted.

The monitor's own waits (``tether.debug.serve_monitor``) are not counted:
a client asking for the tree wakes nobody else.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, Any, final

from .._core import RUN, Abort, Instrument, RunVar
from .._threads import jobs_in_flight
from ._tree import format_runner_tree

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._core import Runner, Task

# Tasks whose fd waits wake nobody but themselves (the monitor's), per run.
QUIET_TASKS: RunVar[frozenset[Task]] = RunVar("tether.debug.quiet_tasks", frozenset())

# References to the TrioToken that are the run's own when the detector
# looks: Runner.trio_token, the local variable, getrefcount's argument.
_OWN_TOKEN_REFERENCES = 3


@final
class DeadlockError(RuntimeError):
    """Every task of the run is blocked, and nothing can ever wake one of them.

    Raised in the main task by ``tether.debug.detect_deadlocks()`` (or
    ``TETHER_DETECT_DEADLOCKS=1``).  The message holds the task tree at the
    moment the deadlock was found.  A main task waiting for its nursery gets
    it through the nursery, like any error of the nursery's body: inside an
    ExceptionGroup.
    """

    def __repr__(self) -> str:
        # The first line only: a nursery quotes the repr in its cancel reason.
        first_line = str(self).split("\n", 1)[0]
        return f"DeadlockError({first_line!r})"


def detect_deadlocks() -> Instrument:
    """Return an instrument that raises ``DeadlockError`` instead of letting the run hang.

    Pass it to ``tether.run(..., instruments=[...])`` or add it with
    ``tether.lowlevel.add_instrument``.  ``TETHER_DETECT_DEADLOCKS=1`` in the
    environment adds one to every run; tether's pytest plugin adds one to
    every test's run.  Costs nothing while tasks run; a few attribute reads
    each time the loop is about to wait with nothing runnable.
    """
    return DeadlockDetector()


@final
class DeadlockDetector(Instrument):
    """The instrument behind ``detect_deadlocks()``."""

    __slots__ = ("_in_guest_runs", "_refused_by")

    def __init__(self, in_guest_runs: bool = True) -> None:
        # The abort function of a main-task wait that would not take the
        # error: it is not asked again (nor is the tree printed again).
        self._refused_by: Callable[..., Any] | None = None
        # A guest run's host may wake its tasks directly, without any of the
        # wake sources below (anyio's test runner sends on a memory channel
        # from the host): only a detector the guest was explicitly given
        # looks at guest runs, never the one TETHER_DETECT_DEADLOCKS adds.
        self._in_guest_runs = in_guest_runs

    def before_io_wait(self, timeout: float) -> None:
        runner = RUN.runner
        if runner is None or runner.runq or wake_sources(runner) is not None:
            return
        if not self._in_guest_runs and RUN.guest is runner:
            return
        main = runner.main_task
        if main is None or main._abort_func is None or main._abort_func is self._refused_by:
            return
        error = DeadlockError(
            "deadlock: every task is blocked, and nothing can ever wake one of them\n"
            "(no I/O wait, deadline, worker thread, thread callback or signal receiver is "
            "pending, and no other thread holds the run's TrioToken)\n\n" + format_runner_tree(runner)
        )
        if not _raise_in(runner, main, error):
            self._refused_by = main._abort_func
            sys.stderr.write(
                "tether: deadlock detected, but the main task's wait refused the DeadlockError:\n"
                + str(error)
                + "\n"
            )
        # The loop (or a guest run's driver) computed its timeout before
        # calling us: a byte in the wake-up pipe makes the coming wait
        # return at once, so the woken tasks run.
        try:
            os.write(runner.entry_queue.wakeup_write_fd, b"\0")
        except OSError:
            pass  # the pipe is full: the wait returns at once anyway


def _raise_in(runner: Runner, task: Task, error: BaseException) -> bool:
    """Deliver ``error`` to the blocked ``task`` through its abort function; whether it was taken."""
    abort = task._abort_func
    assert abort is not None
    taken = False

    def raise_error() -> Any:
        nonlocal taken
        taken = True
        raise error

    if abort(raise_error) is Abort.SUCCEEDED:
        runner.reschedule_error(task, error)
        return True
    return taken  # a nursery's __aexit__ records the error and cancels its children


def wake_sources(runner: Runner) -> str | None:
    """What could still wake a task of ``runner`` (in words), or None if nothing can."""
    if runner.runq or runner.current is not None:
        return "a task is runnable"
    entry_queue = runner.entry_queue
    if entry_queue.queue or entry_queue.idempotent:
        return "a thread callback is queued"
    if runner.ki_pending:
        return "a KeyboardInterrupt is pending"
    if runner.waiting_for_idle:
        return "a task waits in wait_all_tasks_blocked"
    if runner.deadlines and runner.next_deadline() != float("inf"):
        return "a deadline is pending"
    quiet = QUIET_TASKS.get()
    for waiting in list(runner.io.waiting.values()):
        for task in (waiting.read_task, waiting.write_task):
            if task is not None and task not in quiet:
                return f"a task waits for fd {waiting.fd}"
    if jobs_in_flight():
        return "a worker thread is running"
    token = runner.trio_token
    if token is not None and sys.getrefcount(token) > _OWN_TOKEN_REFERENCES:
        return "something else holds the run's TrioToken (a thread or a signal receiver)"
    return None
