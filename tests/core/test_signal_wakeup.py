"""The run points the C-level signal wake-up fd at its wake-up pipe (main thread only).

Regression: a SIGINT landing just before the loop entered epoll_wait ran its
Python handler only after the wait, which could last forever; about one run
in twenty of test_loop_fairness' SIGINT test hung.  With the wake-up fd set,
the C handler itself wakes the loop.
"""

from __future__ import annotations

import signal
import threading

import tether
from tether import _core


def _current_wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def test_run_sets_the_signal_wakeup_fd_to_its_pipe_and_restores_it() -> None:
    before = _current_wakeup_fd()

    async def main() -> tuple[int, int]:
        return _current_wakeup_fd(), _core.current_runner().entry_queue.wakeup_write_fd

    during, pipe = tether.run(main)
    assert during == pipe
    assert _current_wakeup_fd() == before


def test_run_in_another_thread_leaves_the_wakeup_fd_alone() -> None:
    before = _current_wakeup_fd()
    seen: list[bool] = []

    async def main() -> None:
        await tether.sleep(0)

    def in_thread() -> None:
        tether.run(main)
        seen.append(True)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(10)
    assert seen == [True]
    assert _current_wakeup_fd() == before
