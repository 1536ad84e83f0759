"""The portable backend: ``select.poll``, used where epoll is missing.

Set ``TETHER_IO_BACKEND=poll`` to force it (the test suite runs it too).
"""

from __future__ import annotations

import select

from ._common import BaseIOManager, WaitingFd


class PollIOManager(BaseIOManager):
    backend = "poll"

    def __init__(self, runner: object) -> None:
        super().__init__(runner)  # type: ignore[arg-type]
        self._poll = select.poll()

    def register_wakeup_fd(self, fd: int) -> None:
        self.wakeup_fd = fd
        self._poll.register(fd, select.POLLIN)

    def set_mask(self, fd: int, waiting: WaitingFd, mask: int) -> None:
        if mask == 0:
            try:
                self._poll.unregister(fd)
            except KeyError:
                pass
        else:
            self._poll.register(fd, mask)
        waiting.registered = mask

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        milliseconds = None if timeout < 0 else max(0, int(timeout * 1000 + 0.999))
        return self._poll.poll(milliseconds)

    def close(self) -> None:
        pass
