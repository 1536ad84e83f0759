"""MockClock: virtual time for tests, with optional autojump.

``autojump_threshold``: once every task has been blocked this many (real)
seconds, the clock jumps straight to the next deadline.  The runner reads
``Runner.autojump_threshold`` and calls ``_autojump`` when idle; the clock
keeps that field in sync whenever the threshold changes or a run starts.
"""

from __future__ import annotations

import math
import time
from typing import final

from ._abc import Clock
from ._local import RUN


@final
class MockClock(Clock):
    """A clock that moves only when told to (or at ``rate`` times real time).

    Args:
        rate: virtual seconds per real second (0: time stands still).
        autojump_threshold: jump to the next deadline whenever every task
            has been blocked this long (0: immediately; ``inf``: never).
    """

    __slots__ = ("_autojump_threshold", "_rate", "_real_base", "_virtual_base")

    def __init__(self, rate: float = 0.0, autojump_threshold: float = math.inf) -> None:
        self._real_base = 0.0
        self._virtual_base = 0.0
        self._rate = 0.0
        self._autojump_threshold = 0.0
        self.rate = rate
        self.autojump_threshold = autojump_threshold

    def __repr__(self) -> str:
        return (
            f"<MockClock, time={self.current_time():.7f}, rate={self._rate} @ {id(self):#x}>"
        )

    @property
    def rate(self) -> float:
        """Virtual seconds that pass per real second."""
        return self._rate

    @rate.setter
    def rate(self, new_rate: float) -> None:
        if new_rate < 0:
            raise ValueError("rate must be >= 0")
        virtual = self.current_time()
        self._real_base = time.perf_counter()
        self._virtual_base = virtual
        self._rate = float(new_rate)

    @property
    def autojump_threshold(self) -> float:
        """Real seconds of all-tasks-blocked after which the clock jumps ahead."""
        return self._autojump_threshold

    @autojump_threshold.setter
    def autojump_threshold(self, new_threshold: float) -> None:
        self._autojump_threshold = float(new_threshold)
        self._sync_runner()

    def _sync_runner(self) -> None:
        runner = RUN.runner
        if runner is not None and runner.clock is self:
            runner.autojump_threshold = self._autojump_threshold
            runner.entry_queue.wake_loop()

    def _autojump(self) -> None:
        runner = RUN.runner
        if runner is None:
            return
        deadline = runner.next_deadline()
        if deadline != math.inf:
            jump = deadline - self.current_time()
            if jump > 0:
                self.jump(jump)

    def _real_to_virtual(self, real: float) -> float:
        return self._virtual_base + self._rate * (real - self._real_base)

    def start_clock(self) -> None:
        self._sync_runner()

    def current_time(self) -> float:
        return self._real_to_virtual(time.perf_counter())

    def deadline_to_sleep_time(self, deadline: float) -> float:
        virtual_timeout = deadline - self.current_time()
        if virtual_timeout <= 0:
            return 0.0
        if self._rate > 0:
            return virtual_timeout / self._rate
        return 999999999.0

    def jump(self, seconds: float) -> None:
        """Move the clock forward by ``seconds`` (must not be negative)."""
        if seconds < 0:
            raise ValueError("time can't go backwards")
        self._virtual_base += seconds
