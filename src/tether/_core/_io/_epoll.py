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
        # Up to FD_SETSIZE - 1 events per call; level-triggered, so any
        # others are reported by the next call.
        self.wait = self._epoll.poll  # type: ignore[method-assign]

    def register_wakeup_fd(self, fd: int) -> None:
        self.wakeup_fd = fd
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

    def close(self) -> None:
        self._epoll.close()
