"""The Linux backend: one epoll instance, level-triggered.

The kernel's interest mask per fd follows the waiters (see ``WaitingFd``
for the kept registrations of tether's own sockets).  ENOENT/EEXIST are
handled because an fd may be closed and its number reused behind our back.
"""

from __future__ import annotations

import errno
import select
from typing import final

from ._common import BaseIOManager, WaitingFd


@final
class EpollIOManager(BaseIOManager):
    backend = "epoll"

    def __init__(self, runner: object) -> None:
        super().__init__(runner)  # type: ignore[arg-type]
        self._epoll = select.epoll()
        self._max_events = 1024

    def register_wakeup_fd(self, fd: int) -> None:
        self._epoll.register(fd, select.EPOLLIN)

    def set_mask(self, fd: int, waiting: WaitingFd, mask: int) -> None:
        epoll = self._epoll
        try:
            if mask == 0:
                try:
                    epoll.unregister(fd)
                except (OSError, ValueError):
                    pass  # already closed: the kernel dropped it
            elif waiting.registered == 0:
                try:
                    epoll.register(fd, mask)
                except FileExistsError:
                    epoll.modify(fd, mask)
            else:
                try:
                    epoll.modify(fd, mask)
                except FileNotFoundError:
                    epoll.register(fd, mask)
        except OSError as error:
            if error.errno == errno.EBADF:
                raise OSError(errno.EBADF, f"bad file descriptor {fd}: is it closed?") from None
            raise
        waiting.registered = mask

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        events = self._epoll.poll(timeout, self._max_events)
        if len(events) == self._max_events:
            self._max_events *= 2
        return events

    def close(self) -> None:
        self._epoll.close()
