"""assert_checkpoints / assert_no_checkpoints.

A block "checkpoints" if the task yielded to the loop inside it (seen by a
temporary instrument: the task was stepped again) or passed a cancellation
point (``checkpoint_if_cancelled`` counts those).  The instrument exists
only for the duration of the block, so this costs nothing otherwise.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager, contextmanager

from .. import _core


class _StepCounter(_core.Instrument):
    __slots__ = ("steps", "task")

    def __init__(self, task: _core.Task) -> None:
        self.task = task
        self.steps = 0

    def before_task_step(self, task: _core.Task) -> None:
        if task is self.task:
            self.steps += 1


@contextmanager
def _assert_yields_or_not(expected: bool) -> Generator[None, None, None]:
    task = _core.current_task()
    counter = _StepCounter(task)
    cancel_points = task._cancel_points
    _core.add_instrument(counter)
    try:
        yield
    finally:
        try:
            _core.remove_instrument(counter)
        except KeyError:
            pass
    yielded = counter.steps > 0 or task._cancel_points != cancel_points
    if expected and not yielded:
        raise AssertionError("assert_checkpoints block did not yield!")
    if not expected and yielded:
        raise AssertionError("assert_no_checkpoints block yielded!")


def assert_checkpoints() -> AbstractContextManager[None]:
    """Fail (AssertionError) if the ``with`` block does not execute a checkpoint."""
    return _assert_yields_or_not(True)


def assert_no_checkpoints() -> AbstractContextManager[None]:
    """Fail (AssertionError) if the ``with`` block executes a checkpoint."""
    return _assert_yields_or_not(False)
