"""Guest mode: tether runs inside another event loop (the host).

The host owns the thread.  tether asks it, through two callbacks, to run a
*tick* soon; a tick is the ordinary loop (``Runner.run_loop``: deadlines,
thread callbacks, task batches) up to its next I/O poll.  That poll never
blocks on the host's thread: if it finds events, the tick goes on with
them (request/response traffic mostly finds its answer there), until it
has run ``_STEPS_BETWEEN_IO_POLLS`` task steps, which bounds how long the
host waits for its turn.  When nothing is ready, the wait that would block
happens in a worker thread instead; when it returns, the worker asks the
host (thread safely) for the next tick, which starts by handling the
events.  When tasks are still runnable the next tick is requested right
away, polling the kernel only as often as the plain loop does.

Between ticks the thread belongs to the host: ``RUN.runner``, sniffio's
name and the asyncgen hooks are tether's only during a tick (see
``_RunContext``).  ``RUN.guest`` names the run from ``start_guest_run``
until ``done_callback``, so that, as in trio, the host's code can call the
sync-colored functions (``current_time()``, ``current_trio_token()``,
``spawn_system_task()``) and cannot start a second run; for that the root
task takes its first step before ``start_guest_run`` returns, which opens
the system nursery without running any user code.
The host may still wake a task between ticks (``send_nowait`` on a memory
channel, ``CancelScope.cancel()``: anyio's test runner does so): while the
worker sleeps, the run queue is a ``_WakingRunQueue`` whose ``append``
also wakes the worker, so such a task runs at once; a tick's own
appends go to a plain list and cost nothing extra.  No task code runs
between ticks, so the worker's wait never races with changes to the
kernel registrations.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import outcome

from ._abc import Clock, Instrument
from ._local import RUN
from ._nursery import warn_nonstrict
from ._run import (
    _STEPS_BETWEEN_IO_POLLS,
    Runner,
    _final_result,
    _RunContext,
    coroutine_or_error,
    crashed,
    start_run,
)
from ._thread_cache import start_thread_soon

if TYPE_CHECKING:
    from ._task import Task

RetT = TypeVar("RetT")

_Callback = Callable[[Callable[[], object]], object]


class _WakingRunQueue(list["Task"]):
    __slots__ = ("runner",)
    runner: Runner

    def append(self, task: Task) -> None:
        super().append(task)
        runner = self.runner
        if runner.instruments.task_scheduled is not None:
            runner.instruments.call("task_scheduled", task)
        runner.entry_queue.wake_loop()


class GuestRun:
    __slots__ = (
        "context", "done_callback", "run_soon", "run_soon_threadsafe", "runner", "waking_runq"
    )

    def __init__(
        self,
        runner: Runner,
        context: _RunContext,
        run_soon_threadsafe: _Callback,
        run_soon: _Callback,
        done_callback: Callable[[outcome.Outcome[Any]], object],
    ) -> None:
        self.runner = runner
        self.context = context
        self.run_soon_threadsafe = run_soon_threadsafe
        self.run_soon = run_soon
        self.done_callback = done_callback
        self.waking_runq = _WakingRunQueue()
        self.waking_runq.runner = runner

    def tick(
        self,
        events: list[tuple[int, int]] | None = None,
        timeout: float = 0.0,
        idle_action: str | None = None,
    ) -> None:
        """One turn of the loop, on the host's thread; then arrange the next one."""
        runner = self.runner
        context = self.context
        context.activate()
        try:
            waking = self.waking_runq
            if runner.runq is waking:
                runner.runq = runner.instruments.new_runq()
                runner.runq.extend(waking)
                waking.clear()
            # A tick goes on through I/O polls that find something ready,
            # as the plain loop does, within a budget of task steps that
            # bounds how long the host waits for its turn.
            budget = _STEPS_BETWEEN_IO_POLLS
            io = runner.io
            instruments = runner.instruments
            if events is not None:
                runner.finish_io_wait(events, timeout)
            while True:
                runner.run_loop(idle_action, poll=False)
                if runner.finished:
                    break
                idle_action = None
                steps = runner.steps_since_io_poll
                budget -= steps if steps else 1
                polled = False
                if (
                    budget > 0
                    and not runner.runq
                    and instruments.before_io_wait is None
                    and instruments.after_io_wait is None
                ):
                    # The common case, kept to one system call: all tasks
                    # wait; go on with whatever is ready now.
                    events = io.wait(0)
                    if events:
                        runner.steps_since_io_poll = 0
                        io.process_events(events)
                        continue
                    polled = True
                ready = self.schedule_next(budget > 0, polled)
                if ready is None:
                    break
                events, timeout = ready
                runner.finish_io_wait(events, timeout)
        except BaseException as error:
            try:
                crashed(runner, error)
            except BaseException as internal:
                self.finish(outcome.Error(internal))
            return
        finally:
            if not runner.finished:
                context.deactivate()
        if runner.finished:
            self.finish(None)

    def schedule_next(
        self, may_go_on: bool, polled: bool
    ) -> tuple[list[tuple[int, int]], float] | None:
        """Poll for I/O or arrange it; return what is ready if this tick may go on with it.

        ``polled``: the caller just polled and found nothing.
        """
        runner = self.runner
        timeout, idle_action = runner.compute_timeout()
        if runner.instruments.before_io_wait is not None:
            runner.instruments.call("before_io_wait", timeout)
        io = runner.io
        if timeout > 0:  # nothing is runnable
            # Poll on the host's thread first: in request/response traffic
            # the answer is often there already, and a trip through the
            # worker thread costs tens of times this system call.
            events = [] if polled else io.wait(0)
            polled = True
            if events:
                if may_go_on:
                    return events, timeout
                self.run_soon(lambda: self.tick(events, timeout, None))
                return None
            # As in Runner.run_loop: set before the last look, so a
            # callback queued after it writes the wake-up pipe.
            runner.entry_queue.sleeping = True
            if runner.must_not_sleep():
                runner.entry_queue.sleeping = False
                timeout, idle_action = 0.0, None
            else:
                runner.runq = self.waking_runq
        if timeout <= 0:
            # Tasks are runnable (or a callback or interrupt is pending):
            # poll (unless that was just done), and let the host have its
            # turn before the next tick.
            events = [] if polled else io.wait(0)
            self.run_soon(lambda: self.tick(events, 0.0, idle_action))
            return None

        def wait() -> list[tuple[int, int]]:
            try:
                return io.wait(timeout)
            finally:
                runner.entry_queue.sleeping = False

        def deliver(result: outcome.Outcome[list[tuple[int, int]]]) -> None:
            # In the worker: hand the events to the host.  A failed wait
            # (not expected: epoll retries EINTR) crashes the run there.
            self.run_soon_threadsafe(lambda: self.deliver(result, timeout, idle_action))

        start_thread_soon(wait, deliver)
        return None

    def deliver(
        self,
        result: outcome.Outcome[list[tuple[int, int]]],
        timeout: float,
        idle_action: str | None,
    ) -> None:
        if isinstance(result, outcome.Error):
            self.context.activate()
            try:
                crashed(self.runner, result.error)
            except BaseException as internal:
                self.finish(outcome.Error(internal))
            return
        self.tick(result.unwrap(), timeout, idle_action)

    def finish(self, failure: outcome.Error | None) -> None:
        # Called inside an activated tick; leaves the thread to the host.
        try:
            self.context.__exit__()
        except BaseException as error:
            if failure is None:
                failure = outcome.Error(error)
        finally:
            RUN.guest = None
        result = failure if failure is not None else outcome.capture(_final_result, self.runner)
        self.done_callback(result)


def start_guest_run(
    async_fn: Callable[..., Awaitable[RetT]],
    *args: object,
    run_sync_soon_threadsafe: Callable[[Callable[[], object]], object],
    done_callback: Callable[[outcome.Outcome[RetT]], object],
    run_sync_soon_not_threadsafe: Callable[[Callable[[], object]], object] | None = None,
    host_uses_signal_set_wakeup_fd: bool = False,
    clock: Clock | None = None,
    instruments: Sequence[Instrument] = (),
    restrict_keyboard_interrupt_to_checkpoints: bool = False,
    strict_exception_groups: bool = True,
) -> None:
    """Start ``async_fn(*args)`` as a tether run inside another event loop, and return at once.

    The host loop keeps running; tether's task steps happen in callbacks
    the host runs on its own thread, its blocking I/O waits in a worker
    thread.  When the run finishes, ``done_callback`` gets its result as an
    ``outcome.Outcome`` (on the host's thread).  The host must keep running
    until then.

    Args:
        run_sync_soon_threadsafe: schedules a callback on the host's loop;
            called from other threads (asyncio: ``loop.call_soon_threadsafe``).
        done_callback: receives the run's outcome.
        run_sync_soon_not_threadsafe: a cheaper scheduler the host offers
            for calls from its own thread (asyncio: ``loop.call_soon``);
            defaults to ``run_sync_soon_threadsafe``.
        host_uses_signal_set_wakeup_fd: the host has set
            ``signal.set_wakeup_fd`` itself; tether then leaves it alone.
        clock, instruments, restrict_keyboard_interrupt_to_checkpoints,
        strict_exception_groups: as for ``tether.run``.
    """
    if not strict_exception_groups:
        warn_nonstrict("tether.lowlevel.start_guest_run(..., strict_exception_groups=False)")
    run_soon = (
        run_sync_soon_threadsafe
        if run_sync_soon_not_threadsafe is None
        else run_sync_soon_not_threadsafe
    )
    coro = None
    if RUN.runner is None and RUN.guest is None:  # else start_run raises RuntimeError
        try:
            coro = coroutine_or_error(async_fn, args)
        except BaseException as error:
            # As in trio, whatever calling async_fn raises (TypeError for
            # start_guest_run(main())) reaches done_callback, after we return.
            run_soon(functools.partial(done_callback, outcome.Error(error)))
            return
    runner, context = start_run(
        async_fn,
        args,
        clock,
        instruments,
        restrict_keyboard_interrupt_to_checkpoints,
        strict_exception_groups,
        "start_guest_run",
        set_wakeup_fd=not host_uses_signal_set_wakeup_fd,
        coro=coro,
    )
    try:
        _open_system_nursery(runner)
    except BaseException:
        context.__exit__()
        raise
    RUN.guest = runner
    context.deactivate()
    guest = GuestRun(runner, context, run_sync_soon_threadsafe, run_soon, done_callback)
    guest.run_soon(guest.tick)


def _open_system_nursery(runner: Runner) -> None:
    """Step only the root task, which opens the system nursery and spawns the main task."""
    # run_loop(poll=False) returns once an I/O poll is due, that is after a
    # batch that brings the step count to _STEPS_BETWEEN_IO_POLLS: starting
    # there makes it one batch, the root task's step, and the main task
    # waits in the run queue for the first tick.
    runner.steps_since_io_poll = _STEPS_BETWEEN_IO_POLLS
    try:
        runner.run_loop(None, poll=False)
    except BaseException as error:
        crashed(runner, error)
    runner.steps_since_io_poll = 0
    if runner.finished:  # the root task failed: a bug, raised as TrioInternalError
        _final_result(runner)
