"""The Linux backend: one epoll instance, level-triggered.

The kernel's interest mask per fd follows the waiters: registered when the
first waiter arrives, modified when a direction is added or dropped,
unregistered when nobody waits.  ENOENT/EEXIST are handled because an fd
may be closed and its number reused behind our back.
"""

from __future__ import annotations

import errno
import select
from typing import final

from ._common import BaseIOManager, WaitingFd

_EPOLLIN = select.EPOLLIN
_EPOLLOUT = select.EPOLLOUT
_ERROR_FLAGS = select.EPOLLERR | select.EPOLLHUP


@final
class EpollIOManager(BaseIOManager):
    backend = "epoll"

    def __init__(self, runner: object) -> None:
        super().__init__(runner)  # type: ignore[arg-type]
        self._epoll = select.epoll()
        self._max_events = 1024

    def register_wakeup_fd(self, fd: int) -> None:
        self._epoll.register(fd, _EPOLLIN)

    def update_registration(self, fd: int, waiting: WaitingFd) -> None:
        wanted = (_EPOLLIN if waiting.read_task is not None else 0) | (
            _EPOLLOUT if waiting.write_task is not None else 0
        )
        if wanted == waiting.registered:
            return
        epoll = self._epoll
        try:
            if wanted == 0:
                try:
                    epoll.unregister(fd)
                except (OSError, ValueError):
                    pass  # already closed: the kernel dropped it
            elif waiting.registered == 0:
                try:
                    epoll.register(fd, wanted)
                except FileExistsError:
                    epoll.modify(fd, wanted)
            else:
                try:
                    epoll.modify(fd, wanted)
                except FileNotFoundError:
                    epoll.register(fd, wanted)
        except OSError as error:
            if error.errno == errno.EBADF:
                raise OSError(errno.EBADF, f"bad file descriptor {fd}: is it closed?") from None
            raise
        waiting.registered = wanted

    def wait(self, timeout: float) -> list[tuple[int, int]]:
        events = self._epoll.poll(timeout, self._max_events)
        if len(events) == self._max_events:
            self._max_events *= 2
        return events

    def close(self) -> None:
        self._epoll.close()
