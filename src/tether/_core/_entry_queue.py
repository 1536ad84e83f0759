"""Callbacks from other threads (``TrioToken.run_sync_soon``) and waking the loop.

Other threads append to a deque (atomic under the GIL) and write the wake-up
pipe only while the loop is asleep in its I/O wait.  The loop sets
``sleeping`` *before* its last look at the queue, so a callback is either
seen by that look or its thread sees ``sleeping`` and writes: never lost.
The same pipe wakes the loop for a deferred KeyboardInterrupt.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, final

from ._exceptions import RunFinishedError, TrioInternalError

if TYPE_CHECKING:
    from ._run import Runner

T = TypeVar("T")


class EntryQueue:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.queue: deque[tuple[Callable[..., object], tuple[object, ...]]] = deque()
        self.idempotent: dict[tuple[Callable[..., object], tuple[object, ...]], None] = {}
        self.lock = threading.Lock()
        self.sleeping = False
        self.closed = False
        self.wakeup_read_fd, self.wakeup_write_fd = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def submit(
        self, sync_fn: Callable[..., object], args: tuple[object, ...], idempotent: bool
    ) -> None:
        if idempotent:
            with self.lock:
                if self.closed:
                    raise RunFinishedError("run() has exited: the call was not scheduled")
                self.idempotent[(sync_fn, args)] = None
        else:
            # No lock here: a signal handler may call this while the loop's
            # thread holds the lock.  deque.append is atomic; if close()
            # drained the queue before our append landed, take it back.
            if self.closed:
                raise RunFinishedError("run() has exited: the call was not scheduled")
            item = (sync_fn, args)
            self.queue.append(item)
            if self.closed:
                try:
                    self.queue.remove(item)
                except ValueError:
                    return  # close() ran it after all
                raise RunFinishedError("run() has exited: the call was not scheduled")
        self.wake_loop()

    def wake_loop(self) -> None:
        if self.sleeping:
            try:
                os.write(self.wakeup_write_fd, b"\0")
            except (BlockingIOError, OSError):
                pass  # the pipe is full (so the loop will wake) or closed

    def size(self) -> int:
        return len(self.queue) + len(self.idempotent)

    def drain_wakeup(self) -> None:
        try:
            while os.read(self.wakeup_read_fd, 4096):
                pass
        except BlockingIOError:
            pass

    def run_callbacks(self) -> None:
        # Run what is queued now; callbacks queued meanwhile wait for the
        # next iteration, so a callback that re-queues itself cannot starve
        # the tasks.
        for _ in range(len(self.queue)):
            sync_fn, args = self.queue.popleft()
            self._run_one(sync_fn, args)
        if self.idempotent:
            with self.lock:
                batch = list(self.idempotent)
                self.idempotent.clear()
            for sync_fn, args in batch:
                self._run_one(sync_fn, args)

    def _run_one(self, sync_fn: Callable[..., object], args: tuple[object, ...]) -> None:
        try:
            sync_fn(*args)
        except BaseException as error:
            raise TrioInternalError(
                f"run_sync_soon callback {sync_fn!r} raised an exception; "
                "such callbacks must not raise"
            ) from error

    def close(self) -> None:
        with self.lock:
            self.closed = True
        try:
            self.run_callbacks_at_close()
        finally:
            os.close(self.wakeup_read_fd)
            os.close(self.wakeup_write_fd)

    def run_callbacks_at_close(self) -> None:
        # Callbacks that were queued before the end still run, like the
        # ones queued earlier: they may be waking tasks' resources.
        while self.queue or self.idempotent:
            batch = list(self.idempotent)
            self.idempotent.clear()
            while self.queue:
                batch.append(self.queue.popleft())
            for sync_fn, args in batch:
                self._run_one(sync_fn, args)


@final
class TrioToken:
    """A handle on a run that other threads use to call into it.

    Get it with ``tether.lowlevel.current_trio_token()``; it is hashable and
    the same object for the whole run.
    """

    __slots__ = ("_entry_queue",)
    _entry_queue: EntryQueue

    def __init__(self, *args: object) -> None:
        raise TypeError(
            "tether.lowlevel.TrioToken has no public constructor; "
            "use tether.lowlevel.current_trio_token()"
        )

    @classmethod
    def _create(cls, entry_queue: EntryQueue) -> TrioToken:
        self = cls.__new__(cls)
        self._entry_queue = entry_queue
        return self

    def run_sync_soon(
        self, sync_fn: Callable[..., object], *args: Any, idempotent: bool = False
    ) -> None:
        """Schedule ``sync_fn(*args)`` to run in the loop thread soon. Thread-safe.

        The callback runs outside any task, with KeyboardInterrupt deferred;
        it must not raise (that crashes the run with TrioInternalError).
        Callbacks run in the order submitted (not for ``idempotent=True``).

        Args:
            idempotent: drop the call if an equal one (same ``sync_fn`` and
                ``args``, which must be hashable) is already pending.

        Raises:
            RunFinishedError: the run has already finished.
        """
        self._entry_queue.submit(sync_fn, args, idempotent)
