"""Backend-independent parts of the I/O managers.

The manager keeps, per file descriptor, the one task waiting to read and the
one waiting to write (a second waiter is a BusyResourceError: two tasks
reading one socket would steal each other's data).  Backends only differ in
how they tell the kernel which directions are wanted.
"""

from __future__ import annotations

import types
import weakref
from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, Protocol, final

from .._exceptions import BusyResourceError, ClosedResourceError
from .._traps import Abort, RaiseCancelT, WaitTaskRescheduled

if TYPE_CHECKING:
    from .._run import Runner
    from .._task import Task


class HasFileno(Protocol):
    def fileno(self) -> int: ...


def fd_of(fd: int | HasFileno) -> int:
    if isinstance(fd, int):
        if fd < 0:
            raise ValueError(f"file descriptor must be non-negative, got {fd!r}")
        return fd
    fileno = getattr(fd, "fileno", None)
    if fileno is None:
        raise TypeError(f"expected a file descriptor (int) or an object with fileno(), got {fd!r}")
    number = fileno()
    if not isinstance(number, int) or number < 0:
        raise ValueError(f"{fd!r}.fileno() returned {number!r}, not a valid file descriptor")
    return number


@final
@dataclass(frozen=True, slots=True)
class IOStatistics:
    """What ``current_statistics().io_statistics`` reports."""

    tasks_waiting_read: int
    tasks_waiting_write: int
    backend: str


@final
class WaitingFd:
    """The tasks waiting on one fd, and the event mask the kernel knows of.

    A *kept* fd (a tether socket) keeps its kernel registration after its
    waiter wakes: the next wait needs no ``epoll_ctl``.  A direction is
    dropped lazily, when the kernel reports it with nobody waiting.  Kept
    fds must be forgotten (``BaseIOManager.forget``) before they are closed,
    which tether's sockets do.  The two wait messages (and their abort
    functions) are made once per fd, not once per wait.
    """

    __slots__ = (
        "fd", "kept", "manager", "owner", "read_task", "read_trap", "registered", "write_task",
        "write_trap",
    )

    def __init__(self, manager: BaseIOManager, fd: int, owner: object) -> None:
        self.manager = manager
        self.fd = fd
        self.kept = owner is not None
        # A weak reference to the socket object whose registration is kept:
        # if the fd number is met again with another owner, the old socket
        # was closed without telling us, and the registration is stale.
        self.owner = None if owner is None else weakref.ref(owner)
        self.read_task: Task | None = None
        self.write_task: Task | None = None
        self.registered = 0
        self.read_trap = WaitTaskRescheduled(self._abort_read)
        self.write_trap = WaitTaskRescheduled(self._abort_write)

    def _abort_read(self, raise_cancel: RaiseCancelT) -> Abort:
        self.read_task = None
        if not self.kept:
            self.manager._match_waiters(self.fd, self)
        return Abort.SUCCEEDED

    def _abort_write(self, raise_cancel: RaiseCancelT) -> Abort:
        self.write_task = None
        if not self.kept:
            self.manager._match_waiters(self.fd, self)
        return Abort.SUCCEEDED


READ = 1
WRITE = 4


def _never_called() -> NoReturn:  # pragma: no cover
    raise AssertionError("an fd wait's abort function never raises")


class BaseIOManager:
    """Waiter bookkeeping shared by the backends; subclasses talk to the kernel."""

    backend = "?"

    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.waiting: dict[int, WaitingFd] = {}
        self.wakeup_fd = -1

    # Backends implement these four.
    def register_wakeup_fd(self, fd: int) -> None:
        raise NotImplementedError

    def set_mask(self, fd: int, waiting: WaitingFd, mask: int) -> None:
        """Tell the kernel to report ``mask`` for ``fd`` (0: unregister)."""
        raise NotImplementedError

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @types.coroutine
    def wait_for(
        self, fd: int | HasFileno, direction: int, owner: object = None
    ) -> Generator[Any, Any, None]:
        """Wait until ``fd`` is ready for ``direction`` (READ or WRITE).

        ``owner`` (a tether socket) asks to keep the kernel registration
        after the wait; the owner must call ``forget`` before closing the fd.
        """
        number = fd if type(fd) is int and fd >= 0 else fd_of(fd)
        task = self.runner.current
        if task is None:
            task = self.runner.current_task()  # raises: not in a task
        waiting = self.waiting.get(number)
        if waiting is None:
            waiting = self.waiting[number] = WaitingFd(self, number, owner)
        elif waiting.owner is not None:
            current_owner = waiting.owner()
            # The owner's own waits take the fast path: it forgets the fd
            # before closing it.  Otherwise a dead owner, another owner, or
            # an owner whose fd is no longer this number means the fd was
            # closed behind our back; a plain wait beside a live owner
            # shares its record.
            if current_owner is None or (
                current_owner is not owner
                and (
                    owner is not None
                    or current_owner.fileno() != number  # type: ignore[attr-defined]
                )
            ):
                waiting = self._replace_stale(number, waiting, owner)
        if direction == READ:
            if waiting.read_task is not None:
                raise BusyResourceError("another task is already reading from this fd")
            waiting.read_task = task
            trap = waiting.read_trap
        else:
            if waiting.write_task is not None:
                raise BusyResourceError("another task is already writing to this fd")
            waiting.write_task = task
            trap = waiting.write_trap
        if not waiting.registered & direction:
            try:
                self.set_mask(number, waiting, waiting.registered | direction)
            except BaseException:
                trap.abort_func(_never_called)
                raise
        yield trap

    def _replace_stale(self, fd: int, stale: WaitingFd, owner: object) -> WaitingFd:
        # The fd number was closed behind our back and now belongs to
        # someone else: the kernel forgot the old registration.
        if stale.read_task is not None or stale.write_task is not None:
            raise BusyResourceError(f"fd {fd} is still being waited on by its previous owner")
        fresh = self.waiting[fd] = WaitingFd(self, fd, owner)
        fresh.registered = 0
        if stale.registered:
            try:
                self.set_mask(fd, stale, 0)
            except OSError:
                pass
        return fresh

    def _match_waiters(self, fd: int, waiting: WaitingFd) -> None:
        # Register exactly the directions somebody waits for.
        wanted = (READ if waiting.read_task is not None else 0) | (
            WRITE if waiting.write_task is not None else 0
        )
        if wanted != waiting.registered and self.waiting.get(fd) is waiting:
            self.set_mask(fd, waiting, wanted)
        if not wanted and not waiting.kept:
            self.waiting.pop(fd, None)

    def process_events(self, events: list[tuple[int, int]]) -> None:
        runner = self.runner
        append = runner.runq.append
        for fd, flags in events:
            waiting = self.waiting.get(fd)
            if waiting is None:
                if fd == self.wakeup_fd:
                    runner.entry_queue.drain_wakeup()
                continue
            idle = 0
            # Runner.reschedule_value, inlined: a waiter is always blocked
            # (its abort function clears it from here first).
            if flags & ~WRITE:
                task = waiting.read_task
                if task is not None:
                    waiting.read_task = None
                    task._abort_func = None
                    append(task)
                else:
                    idle |= READ
            if flags & ~READ:
                task = waiting.write_task
                if task is not None:
                    waiting.write_task = None
                    task._abort_func = None
                    append(task)
                else:
                    idle |= WRITE
            if not waiting.kept:
                self._match_waiters(fd, waiting)
            elif idle & waiting.registered:
                # Reported with nobody waiting: stop asking, or a readable
                # socket nobody reads would wake the loop forever.
                self.set_mask(fd, waiting, waiting.registered & ~idle)

    def forget(self, fd: int | HasFileno) -> None:
        """``fd`` is about to be closed: wake its waiters with ClosedResourceError, drop it."""
        number = fd_of(fd)
        waiting = self.waiting.pop(number, None)
        if waiting is None:
            return
        runner = self.runner
        for task in (waiting.read_task, waiting.write_task):
            if task is not None:
                runner.reschedule_error(task, ClosedResourceError("another task closed this fd"))
        waiting.read_task = waiting.write_task = None
        if waiting.registered:
            self.set_mask(number, waiting, 0)

    notify_closing = forget

    def statistics(self) -> IOStatistics:
        readers = sum(1 for w in self.waiting.values() if w.read_task is not None)
        writers = sum(1 for w in self.waiting.values() if w.write_task is not None)
        return IOStatistics(readers, writers, self.backend)

