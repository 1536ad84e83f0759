"""The thread-local pointer to the current run.

One run at a time per thread; ``RUN.runner`` is that run's ``Runner`` or
``None``.  Everything that needs "the current run" reads it here.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from ._run import Runner


class _RunLocal(threading.local):
    runner: Runner | None = None


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
        no_run_error()
    return runner
