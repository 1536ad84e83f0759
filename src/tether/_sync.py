"""Synchronisation primitives: Event, Lock, StrictFIFOLock, Semaphore, Condition, CapacityLimiter.

Every waiting method parks its task in a ``ParkingLot`` and every one is a
checkpoint.  As in trio, a call that need not wait first checks for
cancellation (``task_unless_cancelled``), then acts, then yields a
cancel-shielded checkpoint: Cancelled never comes after the action, and the
tasks the action wakes run in the very next batch.  When a call must wait, it
parks: parking is itself a checkpoint, and a cancelled wait is undone before
Cancelled is raised.

All objects are plain data: they can be created outside a run and used in
later runs.  Releasing is never a checkpoint, not even in ``__aexit__``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, final

from ._core import (
    RUN,
    BrokenResourceError,
    CancelScope,
    ParkingLot,
    ParkingLotStatistics,
    WouldBlock,
    add_parking_lot_breaker,
    cancel_shielded_checkpoint,
    checkpoint,
    current_task,
    park_current_task,
    remove_parking_lot_breaker,
    task_unless_cancelled,
)

if TYPE_CHECKING:
    from ._core import Task


def _current_task() -> Task:
    runner = RUN.runner
    task = runner.current if runner is not None else None
    return current_task() if task is None else task  # current_task() raises the usual error


# ---- Event ------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class EventStatistics:
    """A snapshot of an :class:`Event`.

    Attributes:
        tasks_waiting: How many tasks are blocked in ``wait()``.
    """

    tasks_waiting: int


@final
class Event:
    """A flag that starts unset, can be set once, and wakes everyone waiting for it.

    Unlike ``threading.Event`` it cannot be cleared: make a new Event instead.
    """

    __slots__ = ("_is_set", "_lot")

    def __init__(self) -> None:
        self._is_set = False
        self._lot = ParkingLot()

    def is_set(self) -> bool:
        """Return whether the event has been set."""
        return self._is_set

    def set(self) -> None:
        """Set the event and wake every task blocked in :meth:`wait`. Not a checkpoint."""
        if not self._is_set:
            self._is_set = True
            self._lot._wake_all()

    async def wait(self) -> None:
        """Block until the event is set. A checkpoint, even when already set."""
        if self._is_set:
            await checkpoint()
        else:
            await park_current_task(self._lot)

    def statistics(self) -> EventStatistics:
        """Return an :class:`EventStatistics` snapshot."""
        return EventStatistics(tasks_waiting=self._lot._count)

    def __bool__(self) -> bool:
        raise NotImplementedError("an Event cannot be used as a bool; did you mean `event.is_set()`?")

    def __repr__(self) -> str:
        state = "set" if self._is_set else "unset"
        return f"<{state} Event at {id(self):#x}, {self._lot._count} waiting>"


# ---- Lock and StrictFIFOLock ------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class LockStatistics:
    """A snapshot of a :class:`Lock` or :class:`StrictFIFOLock`.

    Attributes:
        locked: Whether the lock is held.
        owner: The task holding it, or None.
        tasks_waiting: How many tasks are blocked in ``acquire()``.
    """

    locked: bool
    owner: Task | None
    tasks_waiting: int


class _ReleaseOnExit:
    """``async with primitive:`` releases on the way out (not a checkpoint).

    The entering side is each class's own ``__aenter__ = acquire``, which
    spares a coroutine frame per ``async with``.
    """

    __slots__ = ()

    def release(self) -> None:
        raise NotImplementedError

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()


class _LockImpl(_ReleaseOnExit):
    # Ownership passes straight from the releasing task to the first waiter,
    # so waiters are served strictly in arrival order and nobody barges in.
    # While a task owns the lock it is registered as the breaker of the
    # lock's lot: if it exits without releasing, waiters get
    # BrokenResourceError instead of waiting forever.

    __slots__ = ("_lot", "_owner")

    def __init__(self) -> None:
        # Invariant: _owner is None only if nobody waits in _lot.
        self._owner: Task | None = None
        self._lot = ParkingLot()

    def locked(self) -> bool:
        """Return whether the lock is held."""
        return self._owner is not None

    def acquire_nowait(self) -> None:
        """Take the lock if it is free; never blocks, not a checkpoint.

        Raises:
            WouldBlock: the lock is held by another task.
            RuntimeError: the calling task already holds it.
        """
        task = _current_task()
        owner = self._owner
        if owner is None:
            self._owner = task
            add_parking_lot_breaker(task, self._lot)
        elif owner is task:
            raise RuntimeError("attempt to re-acquire an already held Lock")
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Take the lock, waiting for it if necessary. Always a checkpoint.

        Raises:
            RuntimeError: the calling task already holds the lock.
            BrokenResourceError: the task holding the lock exited without
                releasing it.
        """
        task = task_unless_cancelled()
        if task is None:
            await checkpoint()  # raises Cancelled
            task = _current_task()
            if self._owner is None:
                self._owner = task
                add_parking_lot_breaker(task, self._lot)
                return
        elif self._owner is None:
            self._owner = task
            add_parking_lot_breaker(task, self._lot)
            await cancel_shielded_checkpoint()
            return
        if self._owner is task:
            raise RuntimeError("attempt to re-acquire an already held Lock")
        try:
            await park_current_task(self._lot)
        except BrokenResourceError:
            raise BrokenResourceError(f"Owner of this lock exited without releasing: {self._owner}") from None

    def release(self) -> None:
        """Release the lock, handing it to the first waiting task if any. Not a checkpoint.

        Raises:
            RuntimeError: the calling task does not hold the lock.
        """
        task = _current_task()
        if task is not self._owner:
            raise RuntimeError("can't release a Lock you don't own")
        lot = self._lot
        remove_parking_lot_breaker(task, lot)
        new_owner = lot._wake_first(None)
        self._owner = new_owner
        if new_owner is not None:
            add_parking_lot_breaker(new_owner, lot)

    __aenter__ = acquire

    def statistics(self) -> LockStatistics:
        """Return a :class:`LockStatistics` snapshot."""
        return LockStatistics(
            locked=self._owner is not None, owner=self._owner, tasks_waiting=self._lot._count
        )

    def __repr__(self) -> str:
        if self._owner is None:
            return f"<unlocked {type(self).__name__} at {id(self):#x}>"
        return f"<locked {type(self).__name__} at {id(self):#x}, {self._lot._count} waiting>"


@final
class Lock(_LockImpl):
    """A mutex: held by at most one task at a time, released only by that task.

    Use it as ``async with lock: ...``.  Waiting tasks get the lock in the
    order they asked for it.  Not re-entrant: a task acquiring a lock it
    already holds gets RuntimeError.
    """

    __slots__ = ()


@final
class StrictFIFOLock(_LockImpl):
    """A Lock that promises to hand itself to waiters in strict arrival order.

    Tether's :class:`Lock` is already strictly FIFO; this class exists so that
    code can say it relies on that.
    """

    __slots__ = ()


# ---- Condition ------------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class ConditionStatistics:
    """A snapshot of a :class:`Condition`.

    Attributes:
        tasks_waiting: How many tasks are blocked in ``wait()``.
        lock_statistics: The statistics of the underlying lock.
    """

    tasks_waiting: int
    lock_statistics: LockStatistics


@final
class Condition(_ReleaseOnExit):
    """A condition variable: tasks wait for a notification while holding a lock.

    Args:
        lock: the :class:`Lock` to use (not a StrictFIFOLock or anything
            else); by default a new one.
    """

    __slots__ = ("_lock", "_lot")

    def __init__(self, lock: Lock | None = None) -> None:
        if lock is None:
            lock = Lock()
        if type(lock) is not Lock:
            raise TypeError(f"lock must be a tether.Lock, not {lock!r}")
        self._lock = lock
        self._lot = ParkingLot()

    def locked(self) -> bool:
        """Return whether the underlying lock is held."""
        return self._lock._owner is not None

    def acquire_nowait(self) -> None:
        """Take the underlying lock without waiting (see :meth:`Lock.acquire_nowait`)."""
        self._lock.acquire_nowait()

    async def acquire(self) -> None:
        """Take the underlying lock, waiting if necessary. Always a checkpoint.

        Raises:
            BrokenResourceError: the lock's owner exited without releasing it.
        """
        await self._lock.acquire()

    def release(self) -> None:
        """Release the underlying lock. Not a checkpoint."""
        self._lock.release()

    async def wait(self) -> None:
        """Release the lock, wait for a notification, and re-acquire the lock. A checkpoint.

        The caller must hold the lock.  If the wait is cancelled, the lock is
        still re-acquired (shielded from the cancellation) before Cancelled
        is raised, so ``async with condition: await condition.wait()`` always
        leaves with the lock held.

        Raises:
            RuntimeError: the calling task does not hold the lock.
            BrokenResourceError: the lock's owner exited without releasing it
                while we were trying to re-acquire it.
        """
        if _current_task() is not self._lock._owner:
            raise RuntimeError("must hold the lock to wait")
        self.release()
        # notify() moves us into the lock's lot; the lock's release() then
        # wakes us as its new owner.
        try:
            await park_current_task(self._lot)
        except BaseException:
            with CancelScope(shield=True):
                await self._lock.acquire()
            raise

    def notify(self, n: int = 1) -> None:
        """Wake up to ``n`` waiting tasks; each resumes once it gets the lock.

        Not a checkpoint.

        Raises:
            RuntimeError: the calling task does not hold the lock.
        """
        if _current_task() is not self._lock._owner:
            raise RuntimeError("must hold the lock to notify")
        self._lot.repark(self._lock._lot, count=n)

    def notify_all(self) -> None:
        """Wake every waiting task; each resumes once it gets the lock. Not a checkpoint.

        Raises:
            RuntimeError: the calling task does not hold the lock.
        """
        if _current_task() is not self._lock._owner:
            raise RuntimeError("must hold the lock to notify")
        self._lot.repark_all(self._lock._lot)

    __aenter__ = acquire

    def statistics(self) -> ConditionStatistics:
        """Return a :class:`ConditionStatistics` snapshot."""
        return ConditionStatistics(tasks_waiting=self._lot._count, lock_statistics=self._lock.statistics())


# ---- Semaphore ------------------------------------------------------------------------


@final
class Semaphore(_ReleaseOnExit):
    """A counter of free tokens: ``acquire`` takes one (waiting if none), ``release`` returns one.

    Any task may release.  Waiters are served in arrival order: a release
    with tasks waiting hands its token straight to the first of them.

    Args:
        initial_value: the number of tokens to start with (an int >= 0).
        max_value: if given, releasing past this many tokens raises ValueError.

    Raises:
        TypeError: ``initial_value`` or ``max_value`` is not an int.
        ValueError: ``initial_value`` is negative or larger than ``max_value``.
    """

    __slots__ = ("_lot", "_max_value", "_value")

    def __init__(self, initial_value: int, *, max_value: int | None = None) -> None:
        if not isinstance(initial_value, int):
            raise TypeError(f"initial_value must be an int, not {initial_value!r}")
        if initial_value < 0:
            raise ValueError(f"initial_value must be >= 0, not {initial_value!r}")
        if max_value is not None:
            if not isinstance(max_value, int):
                raise TypeError(f"max_value must be None or an int, not {max_value!r}")
            if max_value < initial_value:
                raise ValueError(
                    f"max_value must be >= initial_value, got initial_value={initial_value!r} "
                    f"and max_value={max_value!r}"
                )
        # Invariant: _value > 0 only if nobody waits in _lot.
        self._value = initial_value
        self._max_value = max_value
        self._lot = ParkingLot()

    @property
    def value(self) -> int:
        """The number of tokens available now."""
        return self._value

    @property
    def max_value(self) -> int | None:
        """The largest value allowed, or None if there is no limit."""
        return self._max_value

    def acquire_nowait(self) -> None:
        """Take a token if one is available. Not a checkpoint.

        Raises:
            WouldBlock: no token is available.
        """
        if self._value > 0:
            self._value -= 1
        else:
            raise WouldBlock

    async def acquire(self) -> None:
        """Take a token, waiting for one if necessary. Always a checkpoint."""
        if task_unless_cancelled() is None:
            await checkpoint()  # raises Cancelled
            if self._value > 0:
                self._value -= 1
                return
        elif self._value > 0:
            self._value -= 1
            await cancel_shielded_checkpoint()
            return
        # release() hands its token straight to us.
        await park_current_task(self._lot)

    def release(self) -> None:
        """Return a token, or hand it to the first waiting task. Not a checkpoint.

        Raises:
            ValueError: the value would exceed ``max_value``.
        """
        if self._lot._wake_first(None) is not None:
            return
        if self._max_value is not None and self._value >= self._max_value:
            raise ValueError("semaphore released too many times")
        self._value += 1

    __aenter__ = acquire

    def statistics(self) -> ParkingLotStatistics:
        """Return a ``ParkingLotStatistics`` with the number of waiting tasks."""
        return self._lot.statistics()

    def __repr__(self) -> str:
        limit = "" if self._max_value is None else f", max_value={self._max_value}"
        return f"<Semaphore at {id(self):#x}, value={self._value}{limit}>"


# ---- CapacityLimiter ----------------------------------------------------------------------


@final
@dataclass(frozen=True, slots=True)
class CapacityLimiterStatistics:
    """A snapshot of a :class:`CapacityLimiter`.

    Attributes:
        borrowed_tokens: How many tokens are borrowed.
        total_tokens: The limiter's capacity.
        borrowers: Who holds the borrowed tokens (tasks or other objects).
        tasks_waiting: How many tasks are blocked waiting for a token.
    """

    borrowed_tokens: int
    total_tokens: int | float
    borrowers: list[Task | object]
    tasks_waiting: int


def _check_total_tokens(total_tokens: int | float) -> None:
    if not isinstance(total_tokens, int) and total_tokens != math.inf:
        raise TypeError(f"total_tokens must be an int or math.inf, not {total_tokens!r}")
    if total_tokens < 0:
        raise ValueError(f"total_tokens must be >= 0, not {total_tokens!r}")


@final
class CapacityLimiter(_ReleaseOnExit):
    """A pool of ``total_tokens`` tokens, each lent to one borrower at a time.

    A borrower (a task, by default the caller, or any hashable object) holds
    at most one token.  Tokens are not returned when a borrowing task exits.
    Waiters are served in arrival order.

    Args:
        total_tokens: the capacity: an int >= 0, or ``math.inf``.

    Raises:
        TypeError: ``total_tokens`` is neither an int nor ``math.inf``.
        ValueError: ``total_tokens`` is negative.
    """

    __slots__ = ("_borrowers", "_lot", "_pending_borrowers", "_total_tokens")

    def __init__(self, total_tokens: int | float) -> None:
        _check_total_tokens(total_tokens)
        self._total_tokens = total_tokens
        # Dicts used as ordered sets: statistics list borrowers in order.
        self._borrowers: dict[object, None] = {}
        # Waiting task -> the borrower it waits for.
        self._pending_borrowers: dict[Task, object] = {}
        self._lot = ParkingLot()

    @property
    def total_tokens(self) -> int | float:
        """The capacity.  Raising it wakes waiters at once; lowering it never
        takes tokens back, it only delays new borrowers until enough are returned.
        """
        return self._total_tokens

    @total_tokens.setter
    def total_tokens(self, new_total_tokens: int | float) -> None:
        _check_total_tokens(new_total_tokens)
        self._total_tokens = new_total_tokens
        self._wake_waiters()

    @property
    def borrowed_tokens(self) -> int:
        """The number of tokens lent out now."""
        return len(self._borrowers)

    @property
    def available_tokens(self) -> int | float:
        """``total_tokens - borrowed_tokens`` (negative after lowering the capacity)."""
        return self._total_tokens - len(self._borrowers)

    def _wake_waiters(self) -> None:
        lot = self._lot
        while lot._count and len(self._borrowers) < self._total_tokens:
            task = lot._wake_first(None)
            assert task is not None
            self._borrowers[self._pending_borrowers.pop(task)] = None

    def acquire_nowait(self) -> None:
        """Borrow a token for the calling task without waiting. Not a checkpoint.

        Raises:
            WouldBlock: no token is available.
            RuntimeError: the calling task already holds a token.
        """
        self.acquire_on_behalf_of_nowait(_current_task())

    def acquire_on_behalf_of_nowait(self, borrower: Task | object) -> None:
        """Borrow a token for ``borrower`` without waiting. Not a checkpoint.

        Args:
            borrower: who holds the token: a task or any hashable object.

        Raises:
            WouldBlock: no token is available.
            RuntimeError: ``borrower`` already holds a token.
        """
        if not self._try_borrow(borrower):
            raise WouldBlock

    def _try_borrow(self, borrower: Task | object) -> bool:
        if borrower in self._borrowers:
            raise RuntimeError("this borrower is already holding one of this CapacityLimiter's tokens")
        if len(self._borrowers) < self._total_tokens and not self._lot._count:
            self._borrowers[borrower] = None
            return True
        return False

    async def acquire(self) -> None:
        """Borrow a token for the calling task, waiting if necessary. Always a checkpoint.

        Raises:
            RuntimeError: the calling task already holds a token.
        """
        await self.acquire_on_behalf_of(_current_task())

    async def acquire_on_behalf_of(self, borrower: Task | object) -> None:
        """Borrow a token for ``borrower``, waiting if necessary. Always a checkpoint.

        Args:
            borrower: who holds the token: a task or any hashable object.

        Raises:
            RuntimeError: ``borrower`` already holds a token.
        """
        task = task_unless_cancelled()
        if task is None:
            await checkpoint()  # raises Cancelled
            task = _current_task()
            if self._try_borrow(borrower):
                return
        elif self._try_borrow(borrower):
            await cancel_shielded_checkpoint()
            return
        self._pending_borrowers[task] = borrower
        try:
            await park_current_task(self._lot)
        except BaseException:
            # A woken task was already moved to _borrowers by _wake_waiters.
            self._pending_borrowers.pop(task, None)
            raise

    def release(self) -> None:
        """Return the calling task's token. Not a checkpoint.

        Raises:
            RuntimeError: the calling task holds no token.
        """
        self.release_on_behalf_of(_current_task())

    def release_on_behalf_of(self, borrower: Task | object) -> None:
        """Return ``borrower``'s token, handing it to the first waiter if any. Not a checkpoint.

        Raises:
            RuntimeError: ``borrower`` holds no token.
        """
        if borrower not in self._borrowers:
            raise RuntimeError("this borrower isn't holding any of this CapacityLimiter's tokens")
        del self._borrowers[borrower]
        self._wake_waiters()

    __aenter__ = acquire

    def statistics(self) -> CapacityLimiterStatistics:
        """Return a :class:`CapacityLimiterStatistics` snapshot."""
        return CapacityLimiterStatistics(
            borrowed_tokens=len(self._borrowers),
            total_tokens=self._total_tokens,
            borrowers=list(self._borrowers),
            tasks_waiting=self._lot._count,
        )

    def __repr__(self) -> str:
        return (
            f"<CapacityLimiter at {id(self):#x}, {len(self._borrowers)}/{self._total_tokens} "
            f"borrowed, {self._lot._count} waiting>"
        )
