"""The slots through which ``tether.debug`` plugs into the core.

The core never imports ``tether.debug``; that package fills these slots in
when it is imported.  Each call site in the core tests one slot for ``None``
and sits off the per-step path: at run start (``start_run``, and ``_init``
once the system nursery exists), where a scope is cancelled or gets a
deadline, and where a ``Cancelled`` is made.  The per-batch shuffle is a
``Runner`` attribute instead (see ``Runner.run_loop``), set by
``run_starting`` before the loop reads it.

Invariant: with every slot ``None`` the core behaves exactly as without
``tether.debug``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol, final

if TYPE_CHECKING:
    from ._cancel import CancelScope
    from ._exceptions import Cancelled
    from ._run import Runner
    from ._task import Task

# The environment variables tether.debug acts on.  ``import tether`` imports
# tether.debug (which fills the slots below) only when one of them is set;
# otherwise on first use of ``tether.debug``.
MONITOR_VARIABLE: Final = "TETHER_MONITOR"
SEED_VARIABLE: Final = "TETHER_SCHEDULE_SEED"
DEADLOCK_VARIABLE: Final = "TETHER_DETECT_DEADLOCKS"
TRACE_VARIABLE: Final = "TETHER_TRACE_CANCEL"
ENVIRONMENT_VARIABLES: Final = (MONITOR_VARIABLE, SEED_VARIABLE, DEADLOCK_VARIABLE, TRACE_VARIABLE)


class CancelTracer(Protocol):
    """Records where cancellations come from (``tether.debug.trace_cancellations``)."""

    def scope_cancelled(self, scope: CancelScope) -> None:
        """``scope`` was just cancelled; ``scope._cancel_info`` says by what."""

    def deadline_set(self, scope: CancelScope) -> None:
        """``scope`` (active) just got a finite deadline."""

    def annotate(self, cancelled: Cancelled, task: Task) -> None:
        """``cancelled`` is about to be raised in ``task``: add a note saying why."""


@final
class DebugHooks:
    """The process-wide hook slots (one instance: ``DEBUG_HOOKS``)."""

    __slots__ = ("cancel_tracer", "run_starting", "system_nursery_opened")

    def __init__(self) -> None:
        # Called once the Runner exists, before the first task step.
        # Must not raise.
        self.run_starting: Callable[[Runner], None] | None = None
        # Called in the root task once the system nursery exists (system
        # tasks can be spawned), before the main task's first step.  Must
        # not raise.
        self.system_nursery_opened: Callable[[Runner], None] | None = None
        self.cancel_tracer: CancelTracer | None = None


DEBUG_HOOKS: DebugHooks = DebugHooks()
