"""Instrument bookkeeping: which hooks are installed, and calling them safely.

Each hook name is an attribute that is ``None`` while no instrument defines
that hook, so the loop's check is one attribute read.  When any instrument
defines ``task_scheduled``, the run queue becomes a list subclass whose
``append`` reports the task: rescheduling code never checks for it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ._abc import Instrument

if TYPE_CHECKING:
    from ._task import Task

HOOKS = (
    "before_run",
    "after_run",
    "task_spawned",
    "task_scheduled",
    "before_task_step",
    "after_task_step",
    "task_exited",
    "before_io_wait",
    "after_io_wait",
)

logger = logging.getLogger("tether.abc.Instrument")


class _ReportingRunQueue(list["Task"]):
    __slots__ = ("instruments",)
    instruments: Instruments

    def append(self, task: Task) -> None:
        super().append(task)
        self.instruments.call("task_scheduled", task)


def _defines(instrument: object, hook: str) -> bool:
    # Overridden in a subclass, or set on the instance (as trio allows).
    method = getattr(instrument, hook, None)
    if method is None:
        return False
    return getattr(method, "__func__", method) is not getattr(Instrument, hook)


class Instruments:
    __slots__ = ("_installed", *HOOKS)

    # Each hook: the instruments that define it, or None (the common case).
    before_run: list[Instrument] | None
    after_run: list[Instrument] | None
    task_spawned: list[Instrument] | None
    task_scheduled: list[Instrument] | None
    before_task_step: list[Instrument] | None
    after_task_step: list[Instrument] | None
    task_exited: list[Instrument] | None
    before_io_wait: list[Instrument] | None
    after_io_wait: list[Instrument] | None

    def __init__(self, instruments: Sequence[Instrument]) -> None:
        self._installed: list[Instrument] = []
        for hook in HOOKS:
            setattr(self, hook, None)
        for instrument in instruments:
            self.add(instrument)

    def add(self, instrument: Instrument) -> None:
        if instrument in self._installed:
            return
        self._installed.append(instrument)
        self._refresh()

    def remove(self, instrument: Instrument) -> None:
        if instrument not in self._installed:
            raise KeyError(instrument)
        self._installed.remove(instrument)
        self._refresh()

    def _refresh(self) -> None:
        for hook in HOOKS:
            users = [
                instrument for instrument in self._installed if _defines(instrument, hook)
            ]
            setattr(self, hook, users or None)

    def call(self, hook: str, *args: Any) -> None:
        for instrument in list(getattr(self, hook) or ()):
            try:
                getattr(instrument, hook)(*args)
            except BaseException:
                if instrument in self._installed:
                    self.remove(instrument)
                logger.exception(
                    "Exception raised when calling %r on instrument %r. Instrument has been disabled.",
                    hook,
                    instrument,
                )

    def new_runq(self) -> list[Task]:
        if self.task_scheduled is None:
            return []
        queue = _ReportingRunQueue()
        queue.instruments = self
        return queue
