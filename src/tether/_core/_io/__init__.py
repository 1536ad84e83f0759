"""I/O readiness backends: epoll on Linux, ``select.poll`` elsewhere (or when forced)."""

from __future__ import annotations

import os
import select

from ._common import BaseIOManager, IOStatistics, WaitingFd
from ._poll import PollIOManager

IOManager: type[BaseIOManager]
if hasattr(select, "epoll") and os.environ.get("TETHER_IO_BACKEND", "epoll") == "epoll":
    from ._epoll import EpollIOManager

    IOManager = EpollIOManager
else:
    IOManager = PollIOManager

__all__ = ["IOManager", "IOStatistics", "PollIOManager", "WaitingFd"]
