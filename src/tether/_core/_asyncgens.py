"""Async generators are finalized inside the run, in the run's context.

While a run is active its thread's asyncgen hooks record every async
generator first iterated there (for a guest run: during its ticks only; a
generator keeps the finalizer hook it met at its first iteration, so the
host's generators stay the host's).  One that is garbage-collected unfinished
is closed (``aclose()``) by a system task; any still alive when the main
task ends are closed before ``run()`` returns, so their ``finally`` blocks
and ``async with`` exits run under tether, not at interpreter exit.
"""

from __future__ import annotations

import logging
import sys
import warnings
import weakref
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from ._cancel import CancelScope
from ._exceptions import RunFinishedError

if TYPE_CHECKING:
    from ._run import Runner

logger = logging.getLogger("tether.asyncgen")


class AsyncGenerators:
    def __init__(self, runner: Runner) -> None:
        self.runner = runner
        self.alive: weakref.WeakSet[AsyncGenerator[Any, Any]] = weakref.WeakSet()
        self.previous_hooks: Any = None

    def install_hooks(self) -> None:
        self.previous_hooks = sys.get_asyncgen_hooks()
        sys.set_asyncgen_hooks(firstiter=self._firstiter, finalizer=self._finalizer)

    def uninstall_hooks(self) -> None:
        sys.set_asyncgen_hooks(*self.previous_hooks)
        self.previous_hooks = None

    def _firstiter(self, agen: AsyncGenerator[Any, Any]) -> None:
        self.alive.add(agen)

    def _finalizer(self, agen: AsyncGenerator[Any, Any]) -> None:
        # Called by the garbage collector, possibly in another thread.
        # Schedule the close first: the warning may be turned into an error.
        from ._run import spawn_system_task

        def close_it() -> None:
            spawn_system_task(_aclose_quietly, agen, name=f"close {_name_of(agen)}")

        try:
            runner = self.runner
            nursery = runner.system_nursery
            if runner.finished or nursery is None or nursery._closed:
                raise RunFinishedError
            runner.entry_queue.submit(close_it, (), False)
        except RunFinishedError:
            _close_synchronously(agen)
        warnings.warn(
            f"Async generator {_name_of(agen)!r} was garbage collected before it had been "
            "exhausted. Surround its use in 'async with aclosing(...):' to ensure that it "
            "gets cleaned up as soon as you're done using it.",
            ResourceWarning,
            stacklevel=2,
            source=agen,
        )

    async def finalize_remaining(self) -> None:
        # Close younger generators first: they are likelier to be iterating
        # the older ones.  Closing may start new generators; loop until none.
        while self.alive:
            batch = list(self.alive)
            self.alive.clear()
            # As in trio, generators still open at shutdown are closed in a
            # cancelled scope: an 'await' in their cleanup raises Cancelled.
            with CancelScope() as scope:
                scope.cancel("async generator finalization at shutdown")
                for agen in reversed(batch):
                    await _aclose_quietly(agen)


async def _aclose_quietly(agen: AsyncGenerator[Any, Any]) -> None:
    try:
        await agen.aclose()
    except BaseException:  # reported, never lost silently
        logger.exception("Exception ignored while closing async generator %r", agen)


def _name_of(agen: AsyncGenerator[Any, Any]) -> str:
    frame = getattr(agen, "ag_frame", None)
    module = frame.f_globals.get("__name__") if frame is not None else None
    qualname: str = getattr(agen, "__qualname__", repr(agen))
    return f"{module}.{qualname}" if module else qualname


def _close_synchronously(agen: AsyncGenerator[Any, Any]) -> None:
    closer = agen.aclose()
    try:
        closer.send(None)
    except StopIteration:
        pass
    except BaseException:
        pass
    else:
        closer.close()
