"""Process-wide debug settings, the environment variables, and the run-start hook.

Importing this module fills two of ``_core.DEBUG_HOOKS``' slots: at the
start of every run (before its first task step) ``run_starting`` reads the
environment and applies the settings to that run; once the run's system
nursery exists, ``system_nursery_opened`` starts the monitor if
``TETHER_MONITOR`` asks for it.  Reading four environment variables per
``run()`` is the whole cost while every feature is off.
"""

from __future__ import annotations

import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from .._core import DEBUG_HOOKS, Runner
from .._core._debug_hooks import DEADLOCK_VARIABLE, MONITOR_VARIABLE, SEED_VARIABLE, TRACE_VARIABLE
from ._cancel_trace import trace_cancellations
from ._deadlock import DeadlockDetector
from ._monitor import serve_monitor

_TRUE_WORDS: Final = frozenset({"1", "true", "yes", "on"})

_schedule_seed: int | None = None
# Set inside ``seeded(None)``: FIFO order even if TETHER_SCHEDULE_SEED is set.
_fifo = False


def set_schedule_seed(seed: int | None) -> None:
    """Shuffle every batch of runnable tasks from ``seed``, in each run started from now on.

    Which of several runnable tasks runs first is unspecified (trio shuffles
    too); a seed makes a run's order reproducible, so an order-dependent bug
    seen once can be replayed.  Each run starts a fresh ``random.Random(seed)``.
    ``None`` turns shuffling off again (the default: tasks run in the order
    they became runnable), unless ``TETHER_SCHEDULE_SEED`` is set.

    Args:
        seed: an int, or None.

    Raises:
        TypeError: ``seed`` is not an int or None.
    """
    global _schedule_seed
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        raise TypeError(f"seed must be an int or None, not {seed!r}")
    _schedule_seed = seed


@contextmanager
def seeded(seed: int | None) -> Iterator[None]:
    """Runs started inside the block shuffle from ``seed`` (None: FIFO order, whatever the environment)."""
    global _schedule_seed, _fifo
    saved = _schedule_seed, _fifo
    _schedule_seed, _fifo = seed, seed is None
    try:
        yield
    finally:
        _schedule_seed, _fifo = saved


def schedule_seed() -> int | None:
    """The seed runs started now use: ``set_schedule_seed``'s, else ``TETHER_SCHEDULE_SEED``'s."""
    if _schedule_seed is not None or _fifo:
        return _schedule_seed
    text = os.environ.get(SEED_VARIABLE)
    if not text:
        return None
    try:
        return int(text)
    except ValueError:
        _complain(f"ignoring {SEED_VARIABLE}={text!r}: not an integer")
        return None


def is_enabled(variable: str) -> bool:
    return os.environ.get(variable, "").strip().lower() in _TRUE_WORDS


def _complain(message: str) -> None:
    sys.stderr.write(f"tether.debug: {message}\n")


def _on_run_starting(runner: Runner) -> None:
    # Called by the core before the first step; must not raise (a crash
    # here would be a TrioInternalError).
    seed = schedule_seed()
    if seed is not None:
        runner.shuffle_batch = random.Random(seed).shuffle
    if is_enabled(TRACE_VARIABLE):
        trace_cancellations()
    if is_enabled(DEADLOCK_VARIABLE):
        # A second detector beside one the caller installed is harmless:
        # the first to look delivers the error, and then a task is runnable.
        runner.add_instrument(DeadlockDetector(in_guest_runs=False))


def _on_system_nursery_opened(runner: Runner) -> None:
    # Called by the core in the root task; a failing monitor only complains.
    if is_enabled(MONITOR_VARIABLE):
        try:
            serve_monitor()
        except Exception as error:
            _complain(f"{MONITOR_VARIABLE} is set, but the monitor could not start: {error}")


DEBUG_HOOKS.run_starting = _on_run_starting
DEBUG_HOOKS.system_nursery_opened = _on_system_nursery_opened
