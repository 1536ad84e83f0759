"""The Runner and ``run()``: the loop, task spawning, stepping and exits.

The loop (``Runner.run_loop``, one frame for the whole run) turns through
four steps:

1. ``expire_deadlines`` wake sleepers, cancel scopes whose deadline passed;
2. ``run_callbacks``    run callbacks that other threads sent via TrioToken;
3. batches              step every task that was runnable at the start of
                        the batch (and keep going while nothing else needs
                        the loop);
4. the I/O poll         ask the kernel what is ready (timeout 0 when tasks
                        are runnable; at most every 64 steps while they are).

``run_loop`` is the hot path.  It must not allocate per step, look up
instruments that are not installed, or call anything for a plain
checkpoint beyond one cancellation check and a list append.
"""

from __future__ import annotations

import contextvars
import heapq
import inspect
import math
import random
import signal
import threading
import types
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass
from heapq import heappop, heappush
from typing import TYPE_CHECKING, Any, Final, NoReturn, TypeVar, final

import outcome
import sniffio

from . import _ki
from ._abc import Clock, Instrument
from ._asyncgens import AsyncGenerators
from ._cancel import CancelScope
from ._debug_hooks import DEBUG_HOOKS
from ._entry_queue import EntryQueue, TrioToken
from ._exceptions import Cancelled, TrioInternalError
from ._instruments import Instruments
from ._io import IOManager, IOStatistics
from ._local import RUN, current_runner, no_run_error
from ._nursery import warn_nonstrict
from ._task import _PRIVATE, Task, name_for
from ._traps import (
    CHECKED_CHECKPOINT,
    CHECKPOINT,
    SHIELDED_CHECKPOINT,
    Abort,
    PermanentlyDetach,
    WaitTaskRescheduled,
    abort_always_succeeds,
    wait_task_rescheduled,
)

if TYPE_CHECKING:
    from ._nursery import Nursery

RetT = TypeVar("RetT")

_inf = math.inf
# How many task steps may run back to back before the loop polls for I/O
# even though tasks are still runnable.  Bounds I/O latency under load
# while sparing a syscall per step for ping-pong style workloads.
_STEPS_BETWEEN_IO_POLLS: Final = 64
# Rebuild the deadline heap once this many stale entries pile up (and they
# are at least half of it): ``move_on_after`` in a loop leaves one behind
# each time.
_STALE_DEADLINES_LIMIT: Final = 1000
_MAX_TIMEOUT: Final = 86400.0


def _sleep_abort_marker(raise_cancel: Any) -> Abort:  # pragma: no cover - never called
    # Identity marker: a task sleeping on its own deadline-heap entry.  The
    # loop aborts such a sleep inline (see Runner.try_abort).
    raise AssertionError("unreachable")


# The de-facto API (docs/guide.md): under install(), pytest-trio registers
# ``trio._core._run._r`` with hypothesis and sets the flag below, and real
# trio's installed metadata names ``_hypothesis_plugin_setup`` as a
# hypothesis plugin.  tether's batches run in FIFO order (or shuffled from
# tether.debug's seed, with a Random of its own): nothing draws from ``_r``.
_r = random.Random()
_ALLOW_DETERMINISTIC_SCHEDULING = False


def _hypothesis_plugin_setup() -> None:
    """Called by hypothesis through trio's plugin entry point (under install())."""
    global _ALLOW_DETERMINISTIC_SCHEDULING
    from hypothesis import register_random

    _ALLOW_DETERMINISTIC_SCHEDULING = True
    register_random(_r)


@final
class SystemClock(Clock):
    """The default clock: ``time.perf_counter`` plus a random offset.

    The offset (as in trio) makes code that assumes time starts at 0 fail
    early instead of in production.
    """

    __slots__ = ("_offset",)

    def __init__(self) -> None:
        self._offset = random.uniform(10000.0, 200000.0)

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self._offset + _perf_counter()

    def deadline_to_sleep_time(self, deadline: float) -> float:
        return deadline - self.current_time()


from time import perf_counter as _perf_counter  # noqa: E402  (used by SystemClock)


@final
class CheckpointWatcher(Instrument):
    """Counts one task's cancellation points and schedule points (for assert_checkpoints).

    Installed as an instrument, so that the loop reports each step; the
    loop does no counting at all while none is installed.
    """

    __slots__ = ("cancel_points", "schedule_points", "task")

    def __init__(self, task: Task) -> None:
        self.task = task
        self.cancel_points = 0
        self.schedule_points = 0

    def after_task_step(self, task: Task) -> None:
        pass  # the counting happens in Runner.count_points

    def __enter__(self) -> CheckpointWatcher:
        runner = self.task._runner
        runner.checkpoint_watchers.append(self)
        runner.instruments.add(self)
        return self

    def __exit__(self, *exc_info: object) -> None:
        runner = self.task._runner
        runner.checkpoint_watchers.remove(self)
        try:
            runner.instruments.remove(self)
        except KeyError:
            pass


@final
@dataclass(frozen=True, slots=True)
class RunStatistics:
    """A snapshot of the run, from ``current_statistics()``."""

    tasks_living: int
    tasks_runnable: int
    seconds_to_next_deadline: float
    io_statistics: IOStatistics
    run_sync_soon_queue_size: int


def coroutine_or_error(
    async_fn: Callable[..., Awaitable[object]], args: tuple[object, ...]
) -> Coroutine[Any, Any, Any]:
    """Call ``async_fn(*args)`` and check that it gave a coroutine; explain mistakes."""
    if isinstance(async_fn, types.CoroutineType):
        async_fn.close()  # avoids a misleading "never awaited" warning
        raise TypeError(
            f"expected an async function, got the coroutine object {async_fn.__qualname__}()\n"
            "pass the function and its arguments separately:\n"
            "  tether.run(main, arg)  /  nursery.start_soon(fn, arg1, arg2)   # correct\n"
            "  tether.run(main(arg))  /  nursery.start_soon(fn(arg1, arg2))   # incorrect"
        )
    if not callable(async_fn):
        raise TypeError(f"expected an async function, got {async_fn!r}, which is not callable")
    coro = async_fn(*args)
    if type(coro) is types.CoroutineType:
        return coro
    if isinstance(coro, types.GeneratorType) and coro.gi_code.co_flags & inspect.CO_ITERABLE_COROUTINE:
        return coro  # a @types.coroutine generator
    if inspect.isawaitable(coro) or hasattr(coro, "_asyncio_future_blocking"):
        close = getattr(coro, "close", None)
        if callable(close) and inspect.iscoroutine(coro):
            close()
        raise TypeError(
            f"expected an async function returning a coroutine, but {async_fn!r} returned "
            f"{coro!r}. Is it from a library written for another framework (asyncio, "
            "twisted, tornado...)? That needs a bridge such as tether.asyncio_bridge"
        )
    if isinstance(coro, types.AsyncGeneratorType):
        raise TypeError(
            f"expected an async function, but {async_fn!r} is an async generator function; "
            "iterate it with 'async for' inside an async function instead"
        )
    raise TypeError(
        f"expected an async function, but {async_fn!r} appears to be synchronous: it "
        f"returned {coro!r}, not a coroutine. Did you forget 'async' in 'async def'?"
    )


@final
class Runner:
    """The state of one ``tether.run()`` call.  Found through ``RUN.runner``."""

    # Seeded schedule shuffling (tether.debug sets a Random's shuffle), read
    # once per run_loop call and tested once per batch.
    shuffle_batch: Callable[[list[Task]], object] | None = None

    def __init__(
        self,
        clock: Clock,
        instruments: Sequence[Instrument],
        restrict_ki_to_checkpoints: bool,
        strict_exception_groups: bool,
    ) -> None:
        self.clock = clock
        self.instruments = Instruments(instruments)
        self.restrict_ki_to_checkpoints = restrict_ki_to_checkpoints
        self.strict_exception_groups = strict_exception_groups
        self.runq: list[Task] = self.instruments.new_runq()
        # Entries are [deadline, sequence, target]; a None target is stale.
        self.deadlines: list[list[Any]] = []
        self.deadline_sequence = 0
        self.stale_deadlines = 0
        self.io = IOManager(self)
        self.entry_queue = EntryQueue(self)
        self.io.register_wakeup_fd(self.entry_queue.wakeup_read_fd)
        self.ki_pending = False
        # The abort function of the main task's wait that refused a pending
        # KeyboardInterrupt: it is not asked again (nor does the loop spin).
        self.ki_refused_by: Callable[..., Any] | None = None
        self.current: Task | None = None
        self.init_task: Task | None = None
        self.main_task: Task | None = None
        self.system_nursery: Nursery | None = None
        self.main_task_outcome: outcome.Outcome[Any] | None = None
        self.init_task_outcome: outcome.Outcome[Any] | None = None
        self.tasks_living = 0
        self.steps_since_io_poll = 0
        # Sorted list of (cushion, sequence, task) for wait_all_tasks_blocked.
        self.waiting_for_idle: list[tuple[float, int, Task]] = []
        self.idle_sequence = 0
        self.autojump_threshold = _inf
        self.run_vars: dict[Any, Any] = {}
        self.asyncgens = AsyncGenerators(self)
        self.trio_token: TrioToken | None = None
        self.system_context = contextvars.copy_context()
        self.finished = False
        self.checkpoint_watchers: list[CheckpointWatcher] = []
        # Set while task_scheduled reports owed for the running batch (an
        # instrument was added in the middle of it): the index they start at.
        self.unreported_from: int | None = None

    # ---- current task ----------------------------------------------------

    def current_task(self) -> Task:
        task = self.current
        if task is None:
            no_run_error()
        return task

    def current_task_or_none(self) -> Task | None:
        return self.current

    # ---- spawning ----------------------------------------------------------

    def spawn(
        self,
        async_fn: Callable[..., Awaitable[object]],
        args: tuple[object, ...],
        nursery: Nursery | None,
        name: object = None,
        *,
        system_task: bool = False,
        context: contextvars.Context | None = None,
    ) -> Task:
        coro = coroutine_or_error(async_fn, args)
        if context is None:
            context = self.system_context.copy() if system_task else contextvars.copy_context()
        task = Task(
            _PRIVATE,
            self,
            coro,
            context,
            async_fn if name is None else name,
            nursery,
            system_task,
        )
        if nursery is not None:
            nursery._children[task] = None
            task._cancel_status = nursery.cancel_scope
        self.tasks_living += 1
        if self.instruments.task_spawned is not None:
            self.instruments.call("task_spawned", task)
        self.runq.append(task)
        return task

    # ---- waking tasks -------------------------------------------------------

    def reschedule_value(self, task: Task, value: object) -> None:
        if task._abort_func is None:
            raise RuntimeError(f"can't reschedule {task!r}: it is not blocked")
        if self.ki_pending and task is self.main_task:
            self.ki_refused_by = None  # its next wait is offered the interrupt again
        task._abort_func = None
        task._next_value = value
        self.runq.append(task)

    def reschedule_error(self, task: Task, error: BaseException) -> None:
        if task._abort_func is None:
            raise RuntimeError(f"can't reschedule {task!r}: it is not blocked")
        if self.ki_pending and task is self.main_task:
            self.ki_refused_by = None
        task._abort_func = None
        task._next_exc = error
        self.runq.append(task)

    def make_cancelled(self, task: Task) -> Cancelled:
        source, source_task, reason = task._cancel_status.cancel_source()
        cancelled = Cancelled._create(source, source_task, reason)
        if DEBUG_HOOKS.cancel_tracer is not None:
            DEBUG_HOOKS.cancel_tracer.annotate(cancelled, task)
        return cancelled

    def try_abort(self, task: Task) -> None:
        """A blocked task's cancel status just became cancelled: try to wake it."""
        abort = task._abort_func
        if abort is None:
            return
        if abort is _sleep_abort_marker or abort is abort_always_succeeds:
            if task._timer is not None:
                self.discard_timer(task)
            task._abort_func = None
            task._next_exc = self.make_cancelled(task)
            self.runq.append(task)
            return

        def raise_cancel() -> NoReturn:
            raise self.make_cancelled(task)

        if abort(raise_cancel) is Abort.SUCCEEDED:
            task._abort_func = None
            task._next_exc = self.make_cancelled(task)
            self.runq.append(task)

    def deliver_ki(self) -> None:
        """Called from the SIGINT handler when the interrupted code is protected."""
        self.ki_pending = True
        self.entry_queue.wake_loop()

    def ki_refused(self) -> bool:
        main = self.main_task
        return main is not None and main._abort_func is self.ki_refused_by

    def deliver_pending_ki(self) -> None:
        # Between batches: raise the pending KeyboardInterrupt in the main
        # task if it sits at a checkpoint, or abort its wait if it is blocked.
        task = self.main_task
        if task is None:
            return
        abort = task._abort_func
        if abort is None:
            if task._next_value is not CHECKPOINT or task._next_exc is not None:
                return  # running normally; it will reach a checkpoint later
        elif abort is _sleep_abort_marker or abort is abort_always_succeeds:
            if task._timer is not None:
                self.discard_timer(task)
            task._abort_func = None
            self.runq.append(task)
        else:

            def raise_ki() -> NoReturn:
                # Whoever calls this takes the interrupt over (a nursery's
                # __aexit__ records it and keeps waiting): it is delivered.
                self.ki_pending = False
                raise KeyboardInterrupt

            if abort is self.ki_refused_by:
                return  # this wait refused once; the next checkpoint gets it
            if abort(raise_ki) is not Abort.SUCCEEDED:
                self.ki_refused_by = abort
                return
            task._abort_func = None
            self.runq.append(task)
        self.ki_pending = False
        self.ki_refused_by = None
        task._next_value = None
        task._next_exc = KeyboardInterrupt()

    def add_instrument(self, instrument: Instrument) -> None:
        reporting_before = self.instruments.task_scheduled is not None
        self.instruments.add(instrument)
        if (
            not reporting_before
            and self.instruments.task_scheduled is not None
            and self.current is not None
        ):
            # Added in the middle of a step: the running batch appends to a
            # plain list; what it appends from now on is reported at the
            # end of the batch (run_loop), and later batches report live.
            self.unreported_from = len(self.runq)

    def report_late_scheduled(self) -> None:
        start = self.unreported_from
        self.unreported_from = None
        if start is None or self.instruments.task_scheduled is None:
            return
        queued = self.runq
        self.runq = self.instruments.new_runq()
        list.extend(self.runq, queued)
        for task in queued[start:]:
            self.instruments.call("task_scheduled", task)

    # ---- deadlines ------------------------------------------------------------

    def add_scope_deadline(self, scope: CancelScope) -> None:
        self.deadline_sequence += 1
        entry = [scope._deadline, self.deadline_sequence, scope]
        scope._timer = entry
        heappush(self.deadlines, entry)

    def discard_timer(self, task: Task) -> None:
        entry = task._timer
        if entry is not None:
            entry[2] = None
            task._timer = None
            self.count_stale_deadline()

    def count_stale_deadline(self) -> None:
        self.stale_deadlines += 1
        if (
            self.stale_deadlines > _STALE_DEADLINES_LIMIT
            and self.stale_deadlines * 2 > len(self.deadlines)
        ):
            live = [entry for entry in self.deadlines if entry[2] is not None]
            heapq.heapify(live)
            self.deadlines = live
            self.stale_deadlines = 0

    def next_deadline(self) -> float:
        heap = self.deadlines
        while heap and heap[0][2] is None:
            heappop(heap)
            self.stale_deadlines -= 1
        return heap[0][0] if heap else _inf

    def expire_deadlines(self) -> None:
        heap = self.deadlines
        if not heap:
            return
        now = self.clock.current_time()
        runq = self.runq
        while heap and heap[0][0] <= now:
            target = heappop(heap)[2]
            if target is None:
                self.stale_deadlines -= 1
            elif type(target) is Task:
                target._timer = None
                target._abort_func = None
                runq.append(target)
            else:
                target._expire()

    # ---- the loop --------------------------------------------------------------

    def compute_timeout(self) -> tuple[float, str | None]:
        """How long the next I/O wait may block, and what to do if it was idle."""
        # The caller checks must_not_sleep() at its last look before the wait.
        if self.runq:
            return 0.0, None
        deadline = self.next_deadline() if self.deadlines else _inf
        timeout = self.clock.deadline_to_sleep_time(deadline) if deadline != _inf else _inf
        idle_action = None
        if self.waiting_for_idle:
            cushion = self.waiting_for_idle[0][0]
            if cushion < timeout:
                timeout, idle_action = cushion, "wake-idle"
        elif self.autojump_threshold < timeout:
            # Only with no wait_all_tasks_blocked() callers: those wake
            # without the clock moving.
            timeout, idle_action = self.autojump_threshold, "autojump"
        if timeout > _MAX_TIMEOUT:
            timeout = _MAX_TIMEOUT
        return (timeout if timeout > 0 else 0.0), idle_action

    def must_not_sleep(self) -> bool:
        """Something arrived that the coming I/O wait must not sleep through."""
        entry_queue = self.entry_queue
        return bool(
            self.runq  # an instrument's before_io_wait woke a task
            or entry_queue.queue
            or entry_queue.idempotent
            or (self.ki_pending and not self.ki_refused())
        )

    def finish_io_wait(self, events: list[tuple[int, int]], timeout: float) -> None:
        self.steps_since_io_poll = 0
        if events:
            self.io.process_events(events)
        if self.instruments.after_io_wait is not None:
            self.instruments.call("after_io_wait", timeout)

    def handle_idle(self, idle_action: str | None) -> None:
        # The I/O wait timed out with nothing runnable: wake the
        # wait_all_tasks_blocked() callers with the smallest cushion, or
        # let a MockClock jump to the next deadline.
        if idle_action is None or self.runq:
            return
        if idle_action == "wake-idle":
            waiting = self.waiting_for_idle
            cushion = waiting[0][0]
            while waiting and waiting[0][0] == cushion:
                _, _, task = waiting.pop(0)
                self.reschedule_value(task, None)
        else:
            jump = getattr(self.clock, "_autojump", None)
            if jump is not None:
                jump()

    def run_loop(self, idle_action: str | None, poll: bool) -> None:
        """The loop: deadlines, thread callbacks, batches of task steps, I/O polls.

        With ``poll`` (a plain run) it runs until the run finishes, polling
        for I/O itself; without (a guest's tick) it returns as soon as an
        I/O poll is due, leaving the wait to the guest driver.  ``idle_action``
        is what the previous I/O wait's timeout meant, if it was idle.

        The hot path: see the module docstring for what it must not do.
        Batches follow each other without leaving this frame while nothing
        else needs the loop (no deadline, thread callback, pending interrupt
        or due I/O poll); the I/O poll itself is inline too, so a few tasks
        ping-ponging, or a connection's request/response turns, pay the
        setup below once.
        """
        checkpoint_message = CHECKPOINT
        shielded_message = SHIELDED_CHECKPOINT
        checked_message = CHECKED_CHECKPOINT
        wait_type = WaitTaskRescheduled
        instruments = self.instruments
        entry_queue = self.entry_queue
        io = self.io
        steps = self.steps_since_io_poll
        message: object = None
        shuffle = self.shuffle_batch
        while True:
            if self.deadlines:
                self.expire_deadlines()
            if entry_queue.queue or entry_queue.idempotent:
                entry_queue.run_callbacks()
            if idle_action is not None:
                self.handle_idle(idle_action)
                idle_action = None
            while self.runq:
                batch = self.runq
                self.runq = runq = [] if instruments.task_scheduled is None else instruments.new_runq()
                if shuffle is not None:
                    shuffle(batch)
                append = runq.append
                before_step = instruments.before_task_step
                steps += len(batch)
                for task in batch:
                    self.current = task
                    if before_step is not None:
                        instruments.call("before_task_step", task)
                    exc = task._next_exc
                    try:
                        if exc is None:
                            value = task._next_value
                            task._next_value = None
                            message = task.context.run(task._send, value)
                        else:
                            task._next_exc = None
                            message = task.context.run(task.coro.throw, exc)
                    except StopIteration as stop:
                        message = None
                        self.task_exited(task, stop.value, None)
                    except BaseException as error:
                        message = None
                        # Drop this frame from the traceback; and drop every
                        # local that refers to the exception, or this frame and
                        # the exception would keep each other alive.
                        traceback = error.__traceback__
                        if traceback is not None:
                            error = error.with_traceback(traceback.tb_next)
                        self.task_exited(task, None, error)
                        del error, traceback
                        exc = None
                    else:
                        if message is checkpoint_message:
                            if task._cancel_status.effectively_cancelled:
                                task._next_exc = self.make_cancelled(task)
                            else:
                                # Marks "resumes from a checkpoint": a pending
                                # KeyboardInterrupt may replace this resumption.
                                task._next_value = checkpoint_message
                            append(task)
                        elif message is shielded_message or message is checked_message:
                            append(task)
                        elif type(message) is float:
                            self.sleep_until(task, message)
                        elif type(message) is wait_type:
                            task._abort_func = message.abort_func
                            if task._cancel_status.effectively_cancelled:
                                self.try_abort(task)
                        else:
                            self.unexpected_message(task, message)
                    # Read per step: assert_checkpoints installs its watcher in
                    # the middle of a step and needs that very step counted.
                    if instruments.after_task_step is not None:
                        self.count_points(task, message)
                        instruments.call("after_task_step", task)
                if self.unreported_from is not None:
                    self.report_late_scheduled()
                if (
                    steps >= _STEPS_BETWEEN_IO_POLLS
                    or self.deadlines
                    or entry_queue.queue
                    or entry_queue.idempotent
                    or self.ki_pending
                ):
                    break
            self.steps_since_io_poll = steps
            self.current = None
            if self.finished:
                return
            if self.ki_pending:
                self.deliver_pending_ki()
            if self.runq and steps < _STEPS_BETWEEN_IO_POLLS:
                continue
            if not poll:
                return
            if self.runq:
                timeout = 0.0
            elif self.deadlines or self.waiting_for_idle or self.autojump_threshold != _inf:
                timeout, idle_action = self.compute_timeout()
            else:
                timeout = _MAX_TIMEOUT  # only I/O, a thread or a signal can wake a task
            if instruments.before_io_wait is not None:
                instruments.call("before_io_wait", timeout)
            if timeout == 0.0:
                events = io.wait(0)
            else:
                # Set before the last look at the queue: a thread that
                # queues a callback after that look sees it and writes the
                # wake-up pipe.
                entry_queue.sleeping = True
                try:
                    if (
                        self.runq or entry_queue.queue or entry_queue.idempotent or self.ki_pending
                    ) and self.must_not_sleep():
                        timeout, idle_action = 0.0, None
                    events = io.wait(timeout)
                finally:
                    entry_queue.sleeping = False
            if events:
                io.process_events(events)
            if instruments.after_io_wait is not None:
                instruments.call("after_io_wait", timeout)
            steps = self.steps_since_io_poll = 0

    def count_points(self, task: Task, message: object) -> None:
        # Only while some instrument watches steps (assert_checkpoints does):
        # the step loop proper never counts.
        if message is not None:
            for watcher in self.checkpoint_watchers:
                if watcher.task is task:
                    watcher.schedule_points += 1
                    if message is not SHIELDED_CHECKPOINT:
                        watcher.cancel_points += 1

    def sleep_until(self, task: Task, deadline: float) -> None:
        self.deadline_sequence += 1
        entry = [deadline, self.deadline_sequence, task]
        heappush(self.deadlines, entry)
        task._timer = entry
        task._abort_func = _sleep_abort_marker
        if task._cancel_status.effectively_cancelled:
            self.try_abort(task)

    def unexpected_message(self, task: Task, message: object) -> None:
        if type(message) is PermanentlyDetach:
            final = message.final_outcome
            if isinstance(final, outcome.Error):
                self.task_exited(task, None, final.error)
            else:
                self.task_exited(task, final.unwrap(), None)
            return
        if message is None:
            detail = (
                "a bare 'yield' (None), which is how asyncio.sleep(0) and other "
                "asyncio primitives talk to asyncio's loop"
            )
        else:
            detail = f"{message!r}"
        task._next_exc = TypeError(
            f"tether.run received unrecognized yield message {detail}. Are you awaiting "
            "something from a library written for another framework, like asyncio? For "
            "asyncio, run the program with tether.asyncio_bridge.run(main) and await the "
            "asyncio code through tether.asyncio_bridge.aio_await(coroutine_or_future)"
        )
        self.runq.append(task)

    # ---- task exit -----------------------------------------------------------

    def task_exited(self, task: Task, value: object, error: BaseException | None) -> None:
        nursery = task._parent_nursery
        if nursery is not None and task._cancel_status is not nursery.cancel_scope:
            # The task left a cancel scope or nursery open (say, by yielding
            # from an async generator that held one).  Repair the tree.
            error = self._repair_exit(task, error, nursery)
        self.tasks_living -= 1
        if task._timer is not None:
            self.discard_timer(task)
        breakers = task._parking_lot_breakers
        if breakers:
            for lot in list(breakers):
                lot.break_lot(task)
        if self.instruments.task_exited is not None:
            self.instruments.call("task_exited", task)
        if nursery is not None and task is not self.main_task:
            # An error from a system task lands in the system nursery, which
            # makes the root task fail, and run() raise TrioInternalError.
            nursery._child_finished(task, error)
            return
        result: outcome.Outcome[Any] = (
            outcome.Value(value) if error is None else outcome.Error(error)
        )
        if task is self.main_task:
            self.main_task_outcome = result
            assert self.system_nursery is not None
            self.system_nursery.cancel_scope._cancel_with("shutdown", None, "main task exited")
            self.system_nursery._child_finished(task, None)
        else:
            self.init_task_outcome = result
            self.finished = True

    def _repair_exit(
        self, task: Task, error: BaseException | None, nursery: Nursery
    ) -> RuntimeError:
        scope: CancelScope | None = task._cancel_status
        while scope is not None and scope is not nursery.cancel_scope:
            parent = scope._parent
            scope._detach()
            scope = parent
        task._cancel_status = nursery.cancel_scope
        repaired = RuntimeError(
            f"{task!r} exited with a cancel scope or nursery still open; "
            "a cancel scope must be exited by the task that entered it"
        )
        repaired.__context__ = error
        return repaired

    # ---- statistics ------------------------------------------------------------

    def statistics(self) -> RunStatistics:
        deadline = self.next_deadline()
        seconds = deadline - self.clock.current_time() if deadline != _inf else _inf
        return RunStatistics(
            tasks_living=self.tasks_living,
            tasks_runnable=len(self.runq),
            seconds_to_next_deadline=seconds,
            io_statistics=self.io.statistics(),
            run_sync_soon_queue_size=self.entry_queue.size(),
        )


# ---- run() ---------------------------------------------------------------------


async def _init(
    runner: Runner, async_fn: Callable[..., Awaitable[object]], name: str
) -> None:
    from ._nursery import open_nursery

    async with open_nursery(strict_exception_groups=True) as system_nursery:
        runner.system_nursery = system_nursery
        runner.main_task = runner.spawn(async_fn, (), system_nursery, name)
        if DEBUG_HOOKS.system_nursery_opened is not None:
            DEBUG_HOOKS.system_nursery_opened(runner)
        # Sleep until the main task's exit cancels the system nursery.
        await wait_task_rescheduled(abort_always_succeeds)
    await runner.asyncgens.finalize_remaining()


def run(
    async_fn: Callable[..., Awaitable[RetT]],
    *args: object,
    clock: Clock | None = None,
    instruments: Sequence[Instrument] = (),
    restrict_keyboard_interrupt_to_checkpoints: bool = False,
    strict_exception_groups: bool = True,
) -> RetT:
    """Run ``async_fn(*args)`` as the main task of a new tether run, and return its result.

    Everything tether does happens inside a ``run()``: it starts the loop,
    runs the main task until it and every task it spawned have finished,
    and returns the main task's return value or raises its exception.

    Args:
        async_fn: the async function to run (the function, not a coroutine).
        *args: positional arguments for ``async_fn``.
        clock: a ``tether.abc.Clock`` (default: the system clock); tests use
            ``tether.testing.MockClock``.
        instruments: ``tether.abc.Instrument`` objects to notify of events.
        restrict_keyboard_interrupt_to_checkpoints: deliver Ctrl-C only at
            checkpoints of the main task, never in the middle of user code.
        strict_exception_groups: nurseries always wrap errors in an
            ExceptionGroup (default); ``False`` lets a single error through.

    Raises:
        TrioInternalError: a bug in tether, or a crash in a system task.
        RuntimeError: ``run()`` called inside another ``run()`` in this thread.
    """
    if not strict_exception_groups:
        warn_nonstrict("tether.run(..., strict_exception_groups=False)")
    runner, run_context = start_run(
        async_fn,
        args,
        clock,
        instruments,
        restrict_keyboard_interrupt_to_checkpoints,
        strict_exception_groups,
        "run",
    )
    try:
        runner.run_loop(None, poll=True)
    except BaseException as error:
        crashed(runner, error)
    finally:
        run_context.__exit__()
    result: RetT = _final_result(runner)
    return result


def start_run(
    async_fn: Callable[..., Awaitable[object]],
    args: tuple[object, ...],
    clock: Clock | None,
    instruments: Sequence[Instrument],
    restrict_keyboard_interrupt_to_checkpoints: bool,
    strict_exception_groups: bool,
    caller: str,
    set_wakeup_fd: bool = True,
    coro: Coroutine[Any, Any, Any] | None = None,
) -> tuple[Runner, _RunContext]:
    """Set up a run whose first tick will start ``async_fn(*args)``: shared by run() and guests.

    ``coro`` is ``async_fn(*args)`` when the caller has already made it.
    """
    if RUN.runner is not None or RUN.guest is not None:
        if inspect.iscoroutine(async_fn):
            async_fn.close()
        raise RuntimeError(f"Attempted to call {caller}() from inside a run()")
    # Check the main function before touching any global state, so a
    # mistake like run(main()) gives its TypeError with nothing to undo.
    if coro is None:
        coro = coroutine_or_error(async_fn, args)
    try:
        runner = Runner(
            SystemClock() if clock is None else clock,
            instruments,
            restrict_keyboard_interrupt_to_checkpoints,
            strict_exception_groups,
        )
        run_context = _RunContext(runner, set_wakeup_fd)
        run_context.__enter__()
    except BaseException:
        coro.close()
        raise

    def first_call() -> Coroutine[Any, Any, Any]:
        return coro

    try:
        runner.clock.start_clock()
        runner.init_task = runner.spawn(
            _init, (runner, first_call, name_for(async_fn)), None, "<init>", system_task=True
        )
        root = _root_scope(runner)
        runner.init_task._cancel_status = root
        root._task = runner.init_task
        if DEBUG_HOOKS.run_starting is not None:
            DEBUG_HOOKS.run_starting(runner)
    except BaseException as error:
        try:
            crashed(runner, error)
        finally:
            run_context.__exit__()
    return runner, run_context


def crashed(runner: Runner, error: BaseException) -> NoReturn:
    """tether itself failed: close every task's coroutine and raise TrioInternalError."""
    runner.finished = True
    _close_abandoned_tasks(runner)
    raise TrioInternalError("internal error in tether - please report it") from error


def _close_abandoned_tasks(runner: Runner) -> None:
    # After a crash, close every coroutine still suspended, so none is
    # finalized later by the garbage collector (in some unrelated place,
    # with a "coroutine ignored GeneratorExit" error).
    pending = [runner.init_task] if runner.init_task is not None else []
    while pending:
        task = pending.pop()
        for nursery in task._child_nurseries or ():
            pending.extend(nursery._children)
        try:
            task.coro.close()
        except BaseException:
            pass


def _root_scope(runner: Runner) -> CancelScope:
    scope = CancelScope()
    scope._state = scope._state.__class__.ACTIVE
    return scope


def _final_result(runner: Runner) -> Any:
    init = runner.init_task_outcome
    if isinstance(init, outcome.Error):
        raise TrioInternalError("internal error in tether - please report it") from init.error
    main = runner.main_task_outcome
    assert main is not None
    if runner.ki_pending:
        ki = KeyboardInterrupt()
        if isinstance(main, outcome.Error):
            ki.__context__ = main.error
        raise ki
    return main.unwrap()


class _RunContext:
    """Installs and removes the per-thread state of a run.

    Two layers: what stays for the whole run (SIGINT handler, the signal
    wake-up fd, ``before_run``/``after_run``), and what marks the thread as
    "inside tether" (``RUN``, sniffio's name, the asyncgen hooks).  A plain
    run is inside tether from start to end; a guest run only during its
    ticks (``activate``/``deactivate``), so the host's code between ticks
    sees its own world.
    """

    def __init__(self, runner: Runner, set_wakeup_fd: bool = True) -> None:
        self.runner = runner
        self.set_wakeup_fd = set_wakeup_fd
        self.previous_sigint: Any = None
        self.installed_sigint = False
        self.previous_wakeup_fd: int | None = None
        self.previous_sniffio: str | None = None

    def __enter__(self) -> None:
        runner = self.runner
        try:
            self.activate()
            if threading.current_thread() is threading.main_thread():
                if self.set_wakeup_fd:
                    # A signal that lands just before the loop enters
                    # epoll_wait runs its Python handler only after the
                    # wait: the C-level handler must wake the loop itself.
                    self.previous_wakeup_fd = signal.set_wakeup_fd(
                        runner.entry_queue.wakeup_write_fd, warn_on_full_buffer=False
                    )
                    if self.previous_wakeup_fd != -1:
                        warnings.warn(
                            "tether replaced a signal wake-up fd that other code had set "
                            "(signal.set_wakeup_fd), until the run ends. If tether runs as a "
                            "guest of an event loop that uses one (uvloop does), pass "
                            "host_uses_signal_set_wakeup_fd=True to start_guest_run",
                            RuntimeWarning,
                            stacklevel=4,  # the caller of run() or start_guest_run()
                        )
                current = signal.getsignal(signal.SIGINT)
                if current is signal.default_int_handler:
                    self.previous_sigint = current
                    signal.signal(signal.SIGINT, _ki.ki_handler_for(runner))
                    self.installed_sigint = True
            if runner.instruments.before_run is not None:
                runner.instruments.call("before_run")
        except BaseException:
            self.__exit__()
            raise

    def activate(self) -> None:
        RUN.runner = self.runner
        self.previous_sniffio = sniffio.thread_local.name
        sniffio.thread_local.name = "trio"
        self.runner.asyncgens.install_hooks()

    def deactivate(self) -> None:
        asyncgens = self.runner.asyncgens
        if asyncgens.previous_hooks is not None:
            asyncgens.uninstall_hooks()
        sniffio.thread_local.name = self.previous_sniffio
        RUN.runner = None
        self.runner.current = None

    def __exit__(self, *exc_info: object) -> None:
        # Every step runs even if an earlier one raises (an instrument, or a
        # callback run by the entry queue's close): the thread must be left
        # able to start another run.
        runner = self.runner
        try:
            if runner.instruments.after_run is not None:
                runner.instruments.call("after_run")
        finally:
            try:
                runner.entry_queue.close()
            finally:
                try:
                    if self.installed_sigint:
                        signal.signal(signal.SIGINT, self.previous_sigint)
                    if self.previous_wakeup_fd is not None:
                        signal.set_wakeup_fd(self.previous_wakeup_fd)
                    runner.io.close()
                finally:
                    self.deactivate()


_ki.TASK_BOUNDARY_CODES.add(Runner.run_loop.__code__)


# ---- public functions that read the current run ------------------------------------


def current_time() -> float:
    """Return the current time of the run's clock (seconds, arbitrary origin)."""
    return current_runner().clock.current_time()


def current_clock() -> Clock:
    """Return the run's clock object."""
    return current_runner().clock


def current_statistics() -> RunStatistics:
    """Return a ``RunStatistics`` snapshot of the current run."""
    return current_runner().statistics()


def current_task() -> Task:
    """Return the Task object of the calling task."""
    return current_runner().current_task()


def current_root_task() -> Task | None:
    """Return the run's root task (the ancestor of every task), or None if not yet started."""
    return current_runner().init_task


def current_trio_token() -> TrioToken:
    """Return the TrioToken of the current run, for calling in from other threads."""
    runner = current_runner()
    if runner.trio_token is None:
        runner.trio_token = TrioToken._create(runner.entry_queue)
    return runner.trio_token


def current_runner_or_none() -> Runner | None:
    return RUN.runner


def in_trio_run() -> bool:
    """Whether the caller runs inside ``tether.run()`` (in a task or in a loop callback).

    Also true in a guest run's host code, from ``start_guest_run`` until the
    run is done, as in trio: the sync-colored functions work there.
    """
    return RUN.runner is not None or RUN.guest is not None


def in_trio_task() -> bool:
    """Whether the caller runs inside a tether task."""
    runner = RUN.runner
    return runner is not None and runner.current is not None


def current_effective_deadline() -> float:
    """Return the earliest deadline among the scopes that can cancel the caller.

    Shielded scopes hide the deadlines outside them; a scope that is already
    cancelled counts as ``-inf``.
    """
    scope: CancelScope | None = current_task()._cancel_status
    deadline = _inf
    while scope is not None:
        if scope._cancel_called:
            return -_inf
        if scope._deadline < deadline:
            deadline = scope._deadline
        if scope._shield:
            break
        scope = scope._parent
    return deadline


def add_instrument(instrument: Instrument) -> None:
    """Start calling ``instrument``'s hooks in the current run."""
    current_runner().add_instrument(instrument)


def remove_instrument(instrument: Instrument) -> None:
    """Stop calling ``instrument``'s hooks.

    Raises:
        KeyError: ``instrument`` is not installed.
    """
    current_runner().instruments.remove(instrument)


_NO_OUTCOME: Final[Any] = object()


def reschedule(task: Task, next_send: outcome.Outcome[Any] = _NO_OUTCOME) -> None:
    """Wake ``task``, blocked in ``wait_task_rescheduled``, with ``next_send``.

    The default wakes it with ``None``.  Must be called exactly once per
    wait, from the run's thread.
    """
    runner = task._runner
    if next_send is _NO_OUTCOME:
        runner.reschedule_value(task, None)
    elif isinstance(next_send, outcome.Error):
        runner.reschedule_error(task, next_send.error)
    else:
        runner.reschedule_value(task, next_send.unwrap())


def spawn_system_task(
    async_fn: Callable[..., Awaitable[object]],
    *args: object,
    name: object = None,
    context: contextvars.Context | None = None,
) -> Task:
    """Start a system task: protected from KeyboardInterrupt, cancelled when the main task ends.

    An exception escaping a system task crashes the run with TrioInternalError.
    """
    runner = current_runner()
    assert runner.system_nursery is not None
    return runner.spawn(
        async_fn, args, runner.system_nursery, name, system_task=True, context=context
    )


async def wait_all_tasks_blocked(cushion: float = 0.0) -> None:
    """Block until every other task is blocked, and stays so for ``cushion`` seconds.

    "Blocked" means no task is runnable and no I/O or deadline woke one
    during the cushion.  Several waiters with the same cushion wake together;
    smaller cushions wake first.  Meant for tests.
    """
    runner = current_runner()
    task = runner.current_task()
    runner.idle_sequence += 1
    key = (float(cushion), runner.idle_sequence, task)
    waiting = runner.waiting_for_idle
    index = 0
    while index < len(waiting) and waiting[index][:2] < key[:2]:
        index += 1
    waiting.insert(index, key)

    def abort(_: Any) -> Abort:
        waiting.remove(key)
        return Abort.SUCCEEDED

    await wait_task_rescheduled(abort)


