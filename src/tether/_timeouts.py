"""Sleeping and timeouts: sleep, sleep_until, sleep_forever, move_on_*, fail_*.

``sleep`` does not build a cancel scope: the task hands its deadline to the
loop in one message and gets one heap entry (see ``_core._traps``).
"""

from __future__ import annotations

import math
from collections.abc import Generator
from contextlib import contextmanager
from typing import NoReturn

from ._core import (
    CancelScope,
    abort_always_succeeds,
    checkpoint,
    current_time,
    sleep_until_trap,
    wait_task_rescheduled,
)


class TooSlowError(Exception):
    """Raised by ``fail_after`` / ``fail_at`` when the deadline passes."""


def _check_seconds(seconds: float) -> float:
    if math.isnan(seconds):
        raise ValueError("`seconds` must not be NaN")
    if seconds < 0:
        raise ValueError("`seconds` must be non-negative")
    return seconds


async def sleep_forever() -> NoReturn:
    """Block until cancelled. A checkpoint."""
    await wait_task_rescheduled(abort_always_succeeds)
    raise RuntimeError("sleep_forever() was woken up without being cancelled")


async def sleep_until(deadline: float) -> None:
    """Block until ``current_time() >= deadline``. Always a checkpoint.

    Raises:
        ValueError: ``deadline`` is NaN.
    """
    if deadline != deadline:
        raise ValueError("deadline must not be NaN")
    if deadline == math.inf:
        await sleep_forever()
    await sleep_until_trap(float(deadline))


async def sleep(seconds: float) -> None:
    """Block for ``seconds`` seconds. Always a checkpoint; ``sleep(0)`` is just one.

    Raises:
        ValueError: ``seconds`` is negative or NaN.
    """
    if seconds == 0:
        await checkpoint()
        return
    if seconds < 0:
        raise ValueError("`seconds` must be non-negative")
    if seconds != seconds:
        raise ValueError("deadline must not be NaN")
    if seconds == math.inf:
        await sleep_forever()
    await sleep_until_trap(current_time() + seconds)


def move_on_at(deadline: float, *, shield: bool = False) -> CancelScope:
    """A cancel scope whose deadline is ``deadline``: the block is abandoned then.

    Check ``scope.cancelled_caught`` to learn whether it timed out.
    """
    return CancelScope(deadline=deadline, shield=shield)  # it rejects NaN


def move_on_after(seconds: float, *, shield: bool = False) -> CancelScope:
    """A cancel scope that gives up ``seconds`` after it is entered."""
    if not seconds >= 0:  # also catches NaN
        _check_seconds(seconds)
    return CancelScope(relative_deadline=seconds, shield=shield)


@contextmanager
def fail_at(deadline: float, *, shield: bool = False) -> Generator[CancelScope, None, None]:
    """Like ``move_on_at``, but raise TooSlowError when the deadline passes.

    Raises:
        TooSlowError: the block was cancelled by the deadline.
    """
    with move_on_at(deadline, shield=shield) as scope:
        yield scope
    if scope.cancelled_caught:
        raise TooSlowError


@contextmanager
def fail_after(seconds: float, *, shield: bool = False) -> Generator[CancelScope, None, None]:
    """Like ``move_on_after``, but raise TooSlowError when the time is up.

    Raises:
        TooSlowError: the block was cancelled by the deadline.
    """
    with move_on_after(seconds, shield=shield) as scope:
        yield scope
    if scope.cancelled_caught:
        raise TooSlowError
