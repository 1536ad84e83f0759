"""ParkingLot: the FIFO queue of blocked tasks that every waiting primitive uses.

Event, Lock, Semaphore, Condition, CapacityLimiter and memory channels park
their waiters here, either through ``ParkingLot.park`` or, one coroutine
level shorter, through the ``park_current_task`` / ``wait_tagged`` traps.

The queue is a deque of per-wait abort callables (``MethodType(abort, task)``)
with lazy deletion: an entry is live exactly while its task is still blocked
on it, i.e. ``entry.__self__._abort_func is entry`` (the loop clears
``_abort_func`` when the task is woken or its wait is aborted).  A cancelled
waiter therefore costs O(1); its dead entry is skipped later, and the deque is
compacted when dead entries outnumber live ones.

Invariant: ``_count`` is the number of live entries.

``task_unless_cancelled`` is the first half of a trio-style checkpoint for
operations that act first and then yield (``cancel_shielded_checkpoint``).
"""

from __future__ import annotations

import math
import types
from collections import deque
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol, final

from ._exceptions import BrokenResourceError
from ._local import RUN, no_run_error
from ._traps import Abort, RaiseCancelT, WaitTaskRescheduled

if TYPE_CHECKING:
    from ._task import Task

_MethodType: Final = types.MethodType
_inf: Final = math.inf
# Compact a lot's deque once it holds this many more dead entries than live ones.
_DEAD_ENTRY_SLACK: Final = 16


class _HasWaitLot(Protocol):
    """A tag for waits made with ``wait_tagged``: it names the lot they wait in."""

    _wait_lot: ParkingLot


@final
@dataclass(frozen=True, slots=True)
class ParkingLotStatistics:
    """A snapshot of a :class:`ParkingLot`, from its ``statistics()`` method.

    Attributes:
        tasks_waiting: How many tasks are parked in the lot.
    """

    tasks_waiting: int


def _abort_parked(task: Task, raise_cancel: RaiseCancelT) -> Abort:
    # The abort function of a ParkingLot wait, bound to its task with
    # MethodType.  The task's lot is read at abort time: repark moves it.
    lot: ParkingLot = task.custom_sleep_data
    lot._forget(task)
    return Abort.SUCCEEDED


def _abort_tagged(task: Task, raise_cancel: RaiseCancelT) -> Abort:
    # The abort function of a ``wait_tagged`` wait: the tag knows the lot.
    tag: _HasWaitLot = task.custom_sleep_data
    tag._wait_lot._forget(task)
    return Abort.SUCCEEDED


@final
class ParkingLot:
    """A fair wait queue: tasks park in it and are unparked in arrival order.

    The building block of tether's locks, events, semaphores and queues.
    ``len(lot)`` is the number of parked tasks, and ``bool(lot)`` whether there
    are any.  A lot is plain data: it can be created outside a run and used in
    several runs.

    A lot can be *broken* (``break_lot``): its parked tasks, and any task that
    parks later, get :exc:`tether.BrokenResourceError`.
    """

    __slots__ = ("__weakref__", "_aborts", "_count", "_message", "_values", "_wait", "broken_by")

    def __init__(self) -> None:
        # Entries are abort callables bound to their task (see module docstring);
        # created on first park, since many lots never see a waiter.
        self._aborts: deque[Any] | None = None
        # The message a parking task yields, reused by every wait here (see
        # park_current_task), and what park_current_task awaits to yield it;
        # created along with _aborts.
        self._message: WaitTaskRescheduled | None = None
        self._wait: _YieldOnce | None = None
        # Only channel lots carry a value per entry, in step with _aborts.
        self._values: deque[object] | None = None
        # Invariant: the number of live entries in _aborts.
        self._count = 0
        self.broken_by: list[Task] = []

    def __len__(self) -> int:
        return self._count

    def __bool__(self) -> bool:
        return self._count != 0

    def __repr__(self) -> str:
        broken = f", broken by {self.broken_by}" if self.broken_by else ""
        return f"<ParkingLot at {id(self):#x}, {self._count} parked{broken}>"

    # ---- parking -------------------------------------------------------------

    async def park(self) -> None:
        """Block until another task unparks this one. A checkpoint.

        Raises:
            BrokenResourceError: the lot is broken, or breaks while we wait.
        """
        await park_current_task(self)

    def _forget(self, task: Task) -> None:
        # ``task``'s wait here was aborted; its entries are dead from now on
        # (the loop clears its _abort_func once we return).
        self._count -= 1
        if not self._count:
            self._emptied()
            return
        aborts = self._aborts
        if aborts is not None and len(aborts) > 2 * self._count + _DEAD_ENTRY_SLACK:
            self._compact(task)

    def _emptied(self) -> None:
        # Nobody waits here any more: drop the dead entries and the wait
        # message's last abort, so that an idle lot keeps no task alive.
        aborts = self._aborts
        if aborts is not None:
            aborts.clear()
        if self._values is not None:
            self._values.clear()
        if self._message is not None:
            self._message.abort_func = _abort_parked  # type: ignore[assignment]

    def _compact(self, leaving: Task | None) -> None:
        aborts = self._aborts
        assert aborts is not None
        values = self._values
        live_aborts: deque[Any] = deque()
        if values is None:
            for entry in aborts:
                task = entry.__self__
                if task._abort_func is entry and task is not leaving:
                    live_aborts.append(entry)
        else:
            live_values: deque[object] = deque()
            for entry, value in zip(aborts, values, strict=True):
                task = entry.__self__
                if task._abort_func is entry and task is not leaving:
                    live_aborts.append(entry)
                    live_values.append(value)
            self._values = live_values
        self._aborts = live_aborts

    def _pop_live(self) -> Any:
        # Precondition: _count > 0.  Returns the first live entry, removed.
        aborts = self._aborts
        assert aborts is not None
        values = self._values
        popleft = aborts.popleft
        while True:
            entry = popleft()
            if values is not None:
                values.popleft()
            if entry.__self__._abort_func is entry:
                self._count -= 1
                if not self._count:
                    self._emptied()
                return entry

    def _pop_count(self, count: int | float) -> list[Task]:
        if type(count) is not int:
            if isinstance(count, float) and count == _inf:
                count = self._count
            elif isinstance(count, int):
                count = int(count)
            else:
                raise ValueError(f"Cannot pop a non-integer number of tasks: count={count!r}")
        count = min(count, self._count)
        pop_live = self._pop_live
        return [pop_live().__self__ for _ in range(count)]

    # ---- waking --------------------------------------------------------------

    def unpark(self, *, count: int | float = 1) -> list[Task]:
        """Wake the first ``count`` parked tasks (fewer if fewer are parked).

        Not a checkpoint.

        Args:
            count: how many tasks to wake: an int, or ``math.inf`` for all.

        Returns:
            The woken tasks, in the order they parked.

        Raises:
            ValueError: ``count`` is a non-integer number.
        """
        tasks = self._pop_count(count)
        for task in tasks:
            task._runner.reschedule_value(task, None)
        return tasks

    def unpark_all(self) -> list[Task]:
        """Wake every parked task. Not a checkpoint.

        Returns:
            The woken tasks, in the order they parked.
        """
        return self.unpark(count=self._count)

    def repark(self, new_lot: ParkingLot, *, count: int | float = 1) -> None:
        """Move the first ``count`` parked tasks to ``new_lot``, keeping their order.

        They stay blocked, queued behind the tasks already in ``new_lot``,
        and are woken by ``new_lot`` from now on.  Not a checkpoint.

        Args:
            new_lot: the lot to move the tasks to.
            count: how many tasks to move: an int, or ``math.inf`` for all.

        Raises:
            TypeError: ``new_lot`` is not a ParkingLot.
            ValueError: ``count`` is a non-integer number.
        """
        if not isinstance(new_lot, ParkingLot):
            raise TypeError(f"new_lot must be a ParkingLot, not {new_lot!r}")
        tasks = self._pop_count(count)
        if not tasks:
            return
        # As in trio, tasks moved into a broken lot stay parked there.
        aborts = new_lot._aborts
        if aborts is None:
            aborts = new_lot._aborts = deque()
        for task in tasks:
            task.custom_sleep_data = new_lot
            aborts.append(task._abort_func)
        new_lot._count += len(tasks)

    def repark_all(self, new_lot: ParkingLot) -> None:
        """Move every parked task to ``new_lot`` (see :meth:`repark`). Not a checkpoint."""
        self.repark(new_lot, count=self._count)

    def break_lot(self, task: Task | None = None) -> None:
        """Break the lot: wake every parked task with BrokenResourceError.

        Tasks that park later get the same error.  The breaking task is
        recorded in ``broken_by`` (each further call adds one more).  This is
        what happens to a lot when a task registered with
        :func:`add_parking_lot_breaker` exits.  Not a checkpoint.

        Args:
            task: the task to blame; by default the calling task.
        """
        if task is None:
            runner = RUN.runner
            if runner is None or runner.current is None:
                no_run_error()
            task = runner.current
        already_broken = bool(self.broken_by)
        self.broken_by.append(task)
        if already_broken:
            return
        self._fail_all(lambda: BrokenResourceError(f"Parking lot broken by {task}"))

    def statistics(self) -> ParkingLotStatistics:
        """Return a :class:`ParkingLotStatistics` snapshot of the lot."""
        return ParkingLotStatistics(tasks_waiting=self._count)

    # ---- internal fast paths (used by _sync and _channel) -----------------------

    def _wake_first(self, value: object) -> Task | None:
        """Wake the first parked task with ``value`` (dropping its own value); return it."""
        if not self._count:
            return None
        aborts = self._aborts
        assert aborts is not None
        values = self._values
        popleft = aborts.popleft
        while True:
            entry = popleft()
            if values is not None:
                values.popleft()
            task: Task = entry.__self__
            if task._abort_func is entry:
                self._count -= 1
                if not self._count:
                    self._emptied()
                # Runner.reschedule_value, inlined: a live entry proves the task blocked.
                task._abort_func = None
                task._next_value = value
                task._runner.runq.append(task)
                return task

    def _take_first(self) -> object:
        """Wake the first parked task of a value lot and return the value it parked with.

        Precondition: the lot is not empty.
        """
        aborts = self._aborts
        values = self._values
        assert aborts is not None and values is not None
        popleft = aborts.popleft
        while True:
            entry = popleft()
            value = values.popleft()
            task = entry.__self__
            if task._abort_func is entry:
                self._count -= 1
                if not self._count:
                    self._emptied()
                task._abort_func = None
                task._next_value = None
                task._runner.runq.append(task)
                return value

    def _fail_all(self, make_error: Callable[[], BaseException]) -> None:
        """Wake every parked task with a fresh ``make_error()``."""
        if not self._count:
            return
        aborts = self._aborts
        assert aborts is not None
        for entry in aborts:
            task = entry.__self__
            if task._abort_func is entry:
                task._runner.reschedule_error(task, make_error())
        self._count = 0
        self._emptied()

    def _fail_tagged(self, tag: object, make_error: Callable[[], BaseException]) -> None:
        """Wake the tasks that parked with ``wait_tagged(self, tag, ...)`` with an error."""
        aborts = self._aborts
        if not self._count or aborts is None:
            return
        for entry in aborts:
            task = entry.__self__
            if task._abort_func is entry and task.custom_sleep_data is tag:
                self._count -= 1
                task._runner.reschedule_error(task, make_error())
        if not self._count:
            self._emptied()
        elif len(aborts) > 2 * self._count + _DEAD_ENTRY_SLACK:
            self._compact(None)

    def _wake_all(self) -> None:
        """Wake every parked task with None (``unpark_all`` without building a list)."""
        if not self._count:
            return
        aborts = self._aborts
        assert aborts is not None
        for entry in aborts:
            task = entry.__self__
            if task._abort_func is entry:
                # Runner.reschedule_value, inlined: a live entry proves the task blocked.
                task._abort_func = None
                task._next_value = None
                task._runner.runq.append(task)
        self._count = 0
        self._emptied()


def new_value_lot() -> ParkingLot:
    """A ParkingLot whose waiters each park with a value (see ``wait_tagged``)."""
    lot = ParkingLot()
    lot._aborts = deque()
    lot._message = WaitTaskRescheduled(_abort_tagged)  # type: ignore[arg-type]
    lot._values = deque()
    return lot


# ---- traps: park the calling task, one frame deep ---------------------------------


@types.coroutine
def _yield_wait(message: WaitTaskRescheduled) -> Generator[Any, Any, Any]:
    # Kept to one local: this frame lives as long as the wait.
    return (yield message)


class _YieldOnce(tuple[WaitTaskRescheduled]):
    """An awaitable that yields its one item to the loop, then returns None.

    Awaiting it costs a plain tuple iterator (48 bytes, no frame) instead of
    a generator (~180 bytes), kept for as long as the task is parked.  Only
    for waits that are always woken with None: the loop's ``send(None)`` is a
    plain ``next()`` on the iterator, which cannot take any other value.
    Exceptions thrown in are raised at the ``await``.
    """

    __slots__ = ()

    if TYPE_CHECKING:

        def __await__(self) -> Generator[Any, None, None]: ...

    else:
        __await__ = tuple.__iter__


def park_current_task(lot: ParkingLot) -> Awaitable[None]:
    """Park the calling task in ``lot`` until it is unparked. A checkpoint.

    Same as ``await lot.park()``, without the extra coroutine frame.

    Raises:
        BrokenResourceError: the lot is broken, or breaks while we wait.
    """
    if lot.broken_by:
        raise BrokenResourceError(f"Attempted to park in parking lot broken by {lot.broken_by}")
    runner = RUN.runner
    if runner is None or runner.current is None:
        no_run_error()
    task = runner.current
    abort = _MethodType(_abort_parked, task)
    aborts = lot._aborts
    if aborts is None:
        aborts = lot._aborts = deque()
    message = lot._message
    wait = lot._wait
    if message is None or wait is None:
        message = lot._message = WaitTaskRescheduled(_abort_parked)  # type: ignore[arg-type]
        wait = lot._wait = _YieldOnce((message,))
    aborts.append(abort)
    lot._count += 1
    task.custom_sleep_data = lot
    # A lot reuses one message for all its waits: the loop reads abort_func
    # as soon as the message is yielded, before any other code runs.
    message.abort_func = abort
    return wait


def wait_tagged(lot: ParkingLot, tag: _HasWaitLot, value: object) -> Awaitable[Any]:
    """Park the calling task in ``lot`` (a ``new_value_lot()``) with ``value``. A checkpoint.

    ``tag._wait_lot`` must be ``lot``; ``lot._fail_tagged(tag, ...)`` fails
    exactly the waits made with this tag.  Returns the value the task is
    woken with.
    """
    runner = RUN.runner
    if runner is None or runner.current is None:
        no_run_error()
    task = runner.current
    abort = _MethodType(_abort_tagged, task)
    lot._aborts.append(abort)  # type: ignore[union-attr]
    lot._values.append(value)  # type: ignore[union-attr]
    lot._count += 1
    task.custom_sleep_data = tag
    message: WaitTaskRescheduled = lot._message  # type: ignore[assignment]
    message.abort_func = abort
    return _yield_wait(message)


def task_unless_cancelled() -> Task | None:
    """Count a cancellation point for the calling task, and return the task.

    Returns None instead when the task must not act before yielding: it is
    cancelled, or a KeyboardInterrupt is pending (``await checkpoint()``
    then raises, or resumes if the interrupt was for another task).  With
    ``cancel_shielded_checkpoint`` after acting, this makes a trio-style
    checkpoint: an operation that need not wait acts at once, so the tasks
    it wakes run in the very next batch.
    """
    runner = RUN.runner
    if runner is None or runner.current is None:
        no_run_error()
    task = runner.current
    if runner.checkpoint_watchers:
        for watcher in runner.checkpoint_watchers:
            if watcher.task is task:
                watcher.cancel_points += 1
    if task._cancel_status.effectively_cancelled or runner.ki_pending:
        return None
    return task


# ---- lot breakers ------------------------------------------------------------------


def _has_exited(task: Task) -> bool:
    # A finished coroutine (or generator) has dropped its frame.
    coro: Any = task.coro
    frame = coro.cr_frame if type(coro) is types.CoroutineType else getattr(coro, "gi_frame", 0)
    return frame is None


def add_parking_lot_breaker(task: Task, lot: ParkingLot) -> None:
    """Make ``lot`` break (see :meth:`ParkingLot.break_lot`) when ``task`` exits.

    A task registered twice for the same lot must be removed twice.

    Raises:
        BrokenResourceError: ``task`` has already exited.
    """
    if _has_exited(task):
        raise BrokenResourceError(f"Attempted to add already exited task {task!r} as lot breaker.")
    breakers = task._parking_lot_breakers
    if breakers is None:
        task._parking_lot_breakers = [lot]
    else:
        breakers.append(lot)


def remove_parking_lot_breaker(task: Task, lot: ParkingLot) -> None:
    """Undo one :func:`add_parking_lot_breaker` call for ``task`` and ``lot``.

    Raises:
        RuntimeError: ``task`` is not registered as a breaker of ``lot``.
    """
    breakers = task._parking_lot_breakers
    if breakers is not None:
        for index, registered in enumerate(breakers):
            if registered is lot:
                del breakers[index]
                return
    raise RuntimeError(f"Attempted to remove task {task!r} as breaker for a lot it is not registered for")
