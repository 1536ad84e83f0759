"""A kept fd registration whose owner died is never reused by a plain wait.

Regression (found by the anyio ecosystem test): a tether socket closed by the
garbage collector left its WaitingFd behind, owner = a dead weak reference; a
later plain wait_readable() on the reused fd number (a child's pidfd) passed
owner=None, matched nothing, reused the stale record, never called epoll_ctl,
and the wait never woke.
"""

from __future__ import annotations

import gc
import os
import socket

import tether
from tether import _core
from tether._core._io import _common


class _Owner:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


def test_plain_wait_after_the_owner_died_registers_afresh() -> None:
    async def main() -> str:
        io = _core.current_runner().io
        first, first_peer = socket.socketpair()
        owner = _Owner(first)
        first_peer.send(b"x")
        await io.wait_for(owner, _common.READ, owner)
        number = first.fileno()
        first.close()  # behind tether's back, as the garbage collector would
        first_peer.close()
        del owner
        gc.collect()
        reader, writer = os.pipe()
        try:
            if reader != number:  # the number was not reused: nothing to test
                os.dup2(reader, number)
                os.close(reader)
                reader = number
            os.write(writer, b"y")
            with tether.fail_after(5):
                await _core.wait_readable(reader)
            return "woken"
        finally:
            os.close(reader)
            os.close(writer)

    assert tether.run(main) == "woken"
