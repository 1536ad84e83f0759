"""tether's runtime.  Everything above ``_core`` imports from here, and only from here."""

from ._abc import Clock, Instrument
from ._cancel import CancelScope, raise_preserving_context
from ._debug_hooks import DEBUG_HOOKS, ENVIRONMENT_VARIABLES, CancelTracer
from ._entry_queue import TrioToken
from ._exceptions import (
    BrokenResourceError,
    BusyResourceError,
    Cancelled,
    CancelReasonLiteral,
    ClosedResourceError,
    EndOfChannel,
    RunFinishedError,
    TrioDeprecationWarning,
    TrioInternalError,
    WouldBlock,
)
from ._guest import start_guest_run
from ._io import IOStatistics
from ._io._common import READ, WRITE, HasFileno
from ._ki import currently_ki_protected, disable_ki_protection, enable_ki_protection
from ._local import RUN, current_runner
from ._mock_clock import MockClock
from ._nursery import TASK_STATUS_IGNORED, Nursery, NurseryManager, TaskStatus, open_nursery
from ._parking_lot import (
    ParkingLot,
    ParkingLotStatistics,
    add_parking_lot_breaker,
    new_value_lot,
    park_current_task,
    remove_parking_lot_breaker,
    task_unless_cancelled,
    wait_tagged,
)
from ._run import (
    CheckpointWatcher,
    Runner,
    RunStatistics,
    add_instrument,
    current_clock,
    current_effective_deadline,
    current_root_task,
    current_statistics,
    current_task,
    current_time,
    current_trio_token,
    in_trio_run,
    in_trio_task,
    remove_instrument,
    reschedule,
    run,
    spawn_system_task,
    wait_all_tasks_blocked,
)
from ._run_var import RunVar, RunVarToken
from ._task import Task
from ._thread_cache import start_thread_soon, start_worker_job
from ._traps import (
    Abort,
    RaiseCancelT,
    abort_always_succeeds,
    cancel_shielded_checkpoint,
    checked_schedule_point,
    checkpoint,
    checkpoint_if_cancelled,
    permanently_detach_coroutine_object,
    reattach_detached_coroutine_object,
    sleep_until_trap,
    temporarily_detach_coroutine_object,
    wait_task_rescheduled,
)
from ._unbounded_queue import UnboundedQueue, UnboundedQueueStatistics


async def wait_readable(fd: "int | HasFileno") -> None:
    """Block until ``fd`` is readable (or at EOF/error). A checkpoint.

    Raises:
        BusyResourceError: another task is already waiting to read ``fd``.
        ClosedResourceError: ``notify_closing(fd)`` was called meanwhile.
    """
    await current_runner().io.wait_for(fd, READ)


async def wait_writable(fd: "int | HasFileno") -> None:
    """Block until ``fd`` is writable (or at error). A checkpoint.

    Raises:
        BusyResourceError: another task is already waiting to write ``fd``.
        ClosedResourceError: ``notify_closing(fd)`` was called meanwhile.
    """
    await current_runner().io.wait_for(fd, WRITE)


def notify_closing(fd: "int | HasFileno") -> None:
    """Tell tether you are about to close ``fd``: its waiters get ClosedResourceError.

    Call it before closing any fd a task might be waiting on.
    """
    current_runner().io.forget(fd)


__all__ = [
    "DEBUG_HOOKS",
    "ENVIRONMENT_VARIABLES",
    "READ",
    "RUN",
    "TASK_STATUS_IGNORED",
    "WRITE",
    "Abort",
    "BrokenResourceError",
    "BusyResourceError",
    "CancelReasonLiteral",
    "CancelScope",
    "CancelTracer",
    "Cancelled",
    "CheckpointWatcher",
    "Clock",
    "ClosedResourceError",
    "EndOfChannel",
    "HasFileno",
    "IOStatistics",
    "Instrument",
    "MockClock",
    "Nursery",
    "NurseryManager",
    "ParkingLot",
    "ParkingLotStatistics",
    "RaiseCancelT",
    "RunFinishedError",
    "RunStatistics",
    "RunVar",
    "RunVarToken",
    "Runner",
    "Task",
    "TaskStatus",
    "TrioDeprecationWarning",
    "TrioInternalError",
    "TrioToken",
    "UnboundedQueue",
    "UnboundedQueueStatistics",
    "WouldBlock",
    "abort_always_succeeds",
    "add_instrument",
    "add_parking_lot_breaker",
    "cancel_shielded_checkpoint",
    "checked_schedule_point",
    "checkpoint",
    "checkpoint_if_cancelled",
    "current_clock",
    "current_effective_deadline",
    "current_root_task",
    "current_runner",
    "current_statistics",
    "current_task",
    "current_time",
    "current_trio_token",
    "currently_ki_protected",
    "disable_ki_protection",
    "enable_ki_protection",
    "in_trio_run",
    "in_trio_task",
    "new_value_lot",
    "notify_closing",
    "open_nursery",
    "park_current_task",
    "permanently_detach_coroutine_object",
    "raise_preserving_context",
    "reattach_detached_coroutine_object",
    "remove_instrument",
    "remove_parking_lot_breaker",
    "reschedule",
    "run",
    "sleep_until_trap",
    "spawn_system_task",
    "start_guest_run",
    "start_thread_soon",
    "start_worker_job",
    "task_unless_cancelled",
    "temporarily_detach_coroutine_object",
    "wait_all_tasks_blocked",
    "wait_readable",
    "wait_tagged",
    "wait_task_rescheduled",
    "wait_writable",
]
