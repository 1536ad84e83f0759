"""assert_checkpoints / assert_no_checkpoints.

A checkpoint has two halves: a cancellation point (the task could have
received Cancelled) and a schedule point (the task yielded to the loop).
The run loop counts both per task, but only while an instrument watches
task steps; these helpers install one for the duration of the block, so
counting costs nothing the rest of the time.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager, contextmanager

from .. import _core


class _WatchSteps(_core.Instrument):
    """Installed only to switch on the loop's per-task point counting."""

    __slots__ = ()

    def after_task_step(self, task: _core.Task) -> None:
        pass


@contextmanager
def _watch_points(task: _core.Task) -> Generator[tuple[int, int], None, None]:
    watcher = _WatchSteps()
    _core.add_instrument(watcher)
    try:
        yield task._cancel_points, task._schedule_points
    finally:
        try:
            _core.remove_instrument(watcher)
        except KeyError:
            pass


@contextmanager
def _assert_checkpoints() -> Generator[None, None, None]:
    task = _core.current_task()
    with _watch_points(task) as (cancel_points, schedule_points):
        yield
    if task._cancel_points == cancel_points or task._schedule_points == schedule_points:
        raise AssertionError("assert_checkpoints block did not yield!")


@contextmanager
def _assert_no_checkpoints() -> Generator[None, None, None]:
    task = _core.current_task()
    with _watch_points(task) as (cancel_points, schedule_points):
        try:
            yield
        finally:
            if task._cancel_points != cancel_points or task._schedule_points != schedule_points:
                raise AssertionError("assert_no_checkpoints block yielded!")


def assert_checkpoints() -> AbstractContextManager[None]:
    """Fail with AssertionError unless the ``with`` block executes a full checkpoint.

    A full checkpoint is both a cancellation point and a schedule point
    (``checkpoint_if_cancelled`` or ``cancel_shielded_checkpoint`` alone
    are not).  Not checked if the block raises.
    """
    return _assert_checkpoints()


def assert_no_checkpoints() -> AbstractContextManager[None]:
    """Fail with AssertionError if the ``with`` block executes any part of a checkpoint."""
    return _assert_no_checkpoints()
