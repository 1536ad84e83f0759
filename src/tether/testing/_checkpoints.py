"""assert_checkpoints / assert_no_checkpoints.

A checkpoint has two halves: a cancellation point (the task could have
received Cancelled) and a schedule point (the task yielded to the loop).
``_core.CheckpointWatcher`` counts both for one task while installed; the
loop counts nothing the rest of the time.
"""

from __future__ import annotations

from collections.abc import Generator
from contextlib import AbstractContextManager, contextmanager

from .. import _core


@contextmanager
def _assert_checkpoints() -> Generator[None, None, None]:
    with _core.CheckpointWatcher(_core.current_task()) as watcher:
        yield
    if not watcher.cancel_points or not watcher.schedule_points:
        raise AssertionError("assert_checkpoints block did not yield!")


@contextmanager
def _assert_no_checkpoints() -> Generator[None, None, None]:
    with _core.CheckpointWatcher(_core.current_task()) as watcher:
        try:
            yield
        finally:
            if watcher.cancel_points or watcher.schedule_points:
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
