"""The thread-local pointer to the current run.

One run at a time per thread; ``RUN.runner`` is that run's ``Runner`` or
``None``.  Everything that needs "the current run" reads it here.

A guest run (``start_guest_run``) sets ``RUN.runner`` only during its
ticks, so code can tell tether code from the host's own; ``RUN.guest``
holds it from ``start_guest_run`` until ``done_callback``.  As in trio,
the host's code between ticks is still "in the run" for the sync-colored
functions (``current_time()``, ``current_trio_token()``,
``spawn_system_task()``, ...), which find the run through
``current_runner()``, and it cannot start another run.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from ._run import Runner


class _RunLocal(threading.local):
    runner: Runner | None = None
    guest: Runner | None = None


RUN = _RunLocal()


def no_run_error() -> NoReturn:
    raise RuntimeError(
        "must be called from async context: this tether function needs a running "
        "tether.run() in this thread (start one with tether.run(main))"
    )


def current_runner() -> Runner:
    """Return the current thread's Runner, or raise RuntimeError outside a run."""
    runner = RUN.runner
    if runner is None:
        runner = RUN.guest  # the host's code between a guest run's ticks
        if runner is None:
            no_run_error()
    return runner
