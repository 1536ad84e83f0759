"""The abstract classes the runtime calls into: Clock and Instrument."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ._task import Task


class Clock(ABC):
    """The source of time for a run (see ``tether.testing.MockClock``)."""

    __slots__ = ()

    @abstractmethod
    def start_clock(self) -> None:
        """Called once, when the run starts."""

    @abstractmethod
    def current_time(self) -> float:
        """Return the current time, in seconds, on an arbitrary fixed origin."""

    @abstractmethod
    def deadline_to_sleep_time(self, deadline: float) -> float:
        """Return how many real seconds to sleep to reach ``deadline`` (may be <= 0)."""


class Instrument(ABC):  # noqa: B024 - every hook is optional
    """Hooks called by the run loop; override the ones you need.

    Hooks that are not overridden cost nothing: the loop only calls what an
    installed instrument defines.  An instrument that raises is removed and
    the error is logged.
    """

    __slots__ = ()

    def before_run(self) -> None:
        """Called at the start of ``run()``."""

    def after_run(self) -> None:
        """Called at the end of ``run()``."""

    def task_spawned(self, task: Task) -> None:
        """Called when ``task`` is created."""

    def task_scheduled(self, task: Task) -> None:
        """Called when ``task`` becomes runnable."""

    def before_task_step(self, task: Task) -> None:
        """Called just before ``task`` runs a step."""

    def after_task_step(self, task: Task) -> None:
        """Called just after ``task`` ran a step."""

    def task_exited(self, task: Task) -> None:
        """Called when ``task`` has finished."""

    def before_io_wait(self, timeout: float) -> None:
        """Called before the loop waits for I/O for up to ``timeout`` seconds."""

    def after_io_wait(self, timeout: float) -> None:
        """Called after the I/O wait."""
