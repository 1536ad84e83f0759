"""UnboundedQueue: trio's deprecated batch queue, kept for code that still uses it.

Producers ``put_nowait``; a consumer takes everything queued so far in one
``get_batch``.  New code should use ``open_memory_channel(math.inf)``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Generic, Self, TypeVar, final

from ._exceptions import TrioDeprecationWarning, WouldBlock
from ._parking_lot import ParkingLot, park_current_task, task_unless_cancelled
from ._traps import cancel_shielded_checkpoint, checkpoint

T = TypeVar("T")


@final
@dataclass(frozen=True, slots=True)
class UnboundedQueueStatistics:
    """A snapshot of an :class:`UnboundedQueue`.

    Attributes:
        qsize: How many items are queued.
        tasks_waiting: How many tasks are blocked in ``get_batch()``.
    """

    qsize: int
    tasks_waiting: int


@final
class UnboundedQueue(Generic[T]):
    """A queue without a size limit whose consumers take all queued items at once.

    Deprecated (as in trio): use ``tether.open_memory_channel(math.inf)``.
    Items come out in the order they were put.  Supports ``async for batch in
    queue``.
    """

    __slots__ = ("__weakref__", "_can_get", "_data", "_lot")

    def __init__(self) -> None:
        warnings.warn(
            "tether.lowlevel.UnboundedQueue is deprecated (as in trio since 0.9.0); "
            "use tether.open_memory_channel(math.inf) instead",
            TrioDeprecationWarning,
            stacklevel=2,
        )
        self._lot = ParkingLot()
        self._data: list[T] = []
        # Invariant: _can_get is True exactly when items are queued and no
        # parked getter has already been woken to take them.
        self._can_get = False

    def __repr__(self) -> str:
        return f"<UnboundedQueue holding {len(self._data)} items>"

    def qsize(self) -> int:
        """Return the number of queued items."""
        return len(self._data)

    def empty(self) -> bool:
        """Return whether no items are queued."""
        return not self._data

    def put_nowait(self, obj: T) -> None:
        """Queue ``obj``; wakes one waiting getter if the queue was empty. Not a checkpoint."""
        if not self._data and self._lot._wake_first(None) is None:
            self._can_get = True
        self._data.append(obj)

    def _take_all(self) -> list[T]:
        data = self._data
        self._data = []
        self._can_get = False
        return data

    def get_batch_nowait(self) -> list[T]:
        """Take every queued item without waiting. Not a checkpoint.

        Raises:
            WouldBlock: no item is available.
        """
        if not self._can_get:
            raise WouldBlock
        return self._take_all()

    async def get_batch(self) -> list[T]:
        """Take every queued item, waiting until there is at least one. A checkpoint.

        Returns:
            The items, oldest first (never empty).
        """
        if task_unless_cancelled() is None:
            await checkpoint()  # raises Cancelled
            if self._can_get:
                return self._take_all()
        elif self._can_get:
            batch = self._take_all()
            await cancel_shielded_checkpoint()
            return batch
        # put_nowait wakes us when the first item arrives, and keeps the
        # batch for us until we run.
        await park_current_task(self._lot)
        return self._take_all()

    def statistics(self) -> UnboundedQueueStatistics:
        """Return an :class:`UnboundedQueueStatistics` snapshot."""
        return UnboundedQueueStatistics(qsize=len(self._data), tasks_waiting=self._lot._count)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> list[T]:
        return await self.get_batch()
