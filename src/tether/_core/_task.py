"""Task: one coroutine scheduled by the run loop, and its scheduling state.

Created only by ``Runner.spawn``.  The loop reads and writes the slots
directly; everything users see goes through the properties.

Invariant: ``_abort_func is not None`` exactly while the task is blocked
(waiting for ``reschedule``); a runnable or running task has ``None``.
"""

from __future__ import annotations

import contextvars
import functools
import gc
import types
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, final

if TYPE_CHECKING:
    from ._cancel import CancelScope
    from ._nursery import Nursery
    from ._parking_lot import ParkingLot
    from ._run import Runner
    from ._traps import Abort, RaiseCancelT

_PRIVATE = object()


def name_for(name_source: object) -> str:
    """The default task name: ``module.qualname`` of the function spawned."""
    if isinstance(name_source, str):
        return name_source
    while isinstance(name_source, functools.partial):
        name_source = name_source.func
    qualname = getattr(name_source, "__qualname__", None)
    if qualname is None:
        return repr(name_source)
    module = getattr(name_source, "__module__", None)
    return f"{module}.{qualname}" if module else qualname


@final
class Task:
    """A running async function, created by ``start_soon``, ``start`` or ``run``.

    Not constructed directly.  Attributes users read: ``name``, ``coro``,
    ``context``, ``custom_sleep_data`` (free for the low-level code that
    blocked the task), ``parent_nursery``, ``eventual_parent_nursery``,
    ``child_nurseries``.
    """

    __slots__ = (
        "__weakref__",
        "_abort_func",
        "_cancel_status",
        "_child_nurseries",
        "_eventual_parent_nursery",
        "_ki_protected",
        "_name",
        "_next_exc",
        "_next_value",
        "_parent_nursery",
        "_parking_lot_breakers",
        "_runner",
        "_send",
        "_timer",
        "context",
        "coro",
        "custom_sleep_data",
    )

    def __init__(
        self,
        private: object,
        runner: Runner,
        coro: Coroutine[Any, Any, Any],
        context: contextvars.Context,
        name_source: object,
        parent_nursery: Nursery | None,
        ki_protected: bool,
    ) -> None:
        if private is not _PRIVATE:
            raise TypeError("tether.lowlevel.Task has no public constructor; use nursery.start_soon")
        self._runner = runner
        self.coro = coro
        self._send: Callable[[Any], Any] = coro.send
        self.context = context
        # The name, or (until first asked for) what to compute it from.
        self._name: object = name_source
        self._parent_nursery = parent_nursery
        self._eventual_parent_nursery: Nursery | None = None
        # Created on the first nursery: most tasks never open one.
        self._child_nurseries: list[Nursery] | None = None
        self._ki_protected = ki_protected
        self._abort_func: Callable[[RaiseCancelT], Abort] | None = None
        self._next_value: object = None
        self._next_exc: BaseException | None = None
        self._timer: list[Any] | None = None
        self._cancel_status: CancelScope = None  # type: ignore[assignment]  # set by spawn
        self._parking_lot_breakers: list[ParkingLot] | None = None
        self.custom_sleep_data: Any = None

    @property
    def name(self) -> str:
        """The task's name: ``name=`` given to ``start_soon``, or ``module.qualname``."""
        name = self._name
        if type(name) is not str:
            name = self._name = name_for(name)
        return name

    @name.setter
    def name(self, value: str) -> None:
        self._name = value

    @property
    def parent_nursery(self) -> Nursery | None:
        """The nursery this task lives in (``None`` for the root task)."""
        return self._parent_nursery

    @property
    def eventual_parent_nursery(self) -> Nursery | None:
        """While inside ``nursery.start()``: the nursery it moves to on ``started()``."""
        return self._eventual_parent_nursery

    @property
    def child_nurseries(self) -> list[Nursery]:
        """The nurseries this task has open, outermost first."""
        return list(self._child_nurseries or ())

    def iter_await_frames(self) -> Iterator[tuple[types.FrameType, int]]:
        """Yield ``(frame, lineno)`` down the chain of awaits the task is suspended in."""
        awaitable: Any = self.coro
        while awaitable is not None:
            if isinstance(awaitable, types.CoroutineType):
                frame, awaitable = awaitable.cr_frame, awaitable.cr_await
            elif isinstance(awaitable, types.GeneratorType):
                frame, awaitable = awaitable.gi_frame, awaitable.gi_yieldfrom
            elif isinstance(awaitable, types.AsyncGeneratorType):
                frame, awaitable = awaitable.ag_frame, awaitable.ag_await
            elif type(awaitable).__name__ in ("async_generator_asend", "async_generator_athrow"):
                # The awaitable of ``anext(agen)`` exposes no frame; step to
                # the generator it drives, found among its references.
                awaitable = next(
                    (ref for ref in gc.get_referents(awaitable)
                     if isinstance(ref, types.AsyncGeneratorType)),
                    None,
                )
                continue
            else:
                return
            if frame is None:
                return
            yield frame, frame.f_lineno

    def __repr__(self) -> str:
        return f"<Task {self.name!r} at {id(self):#x}>"
