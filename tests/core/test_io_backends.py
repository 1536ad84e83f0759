"""The I/O managers: waiter bookkeeping shared by both backends, the epoll
interest list as the kernel sees it (``/proc/self/fdinfo``), and the poll
backend forced with ``TETHER_IO_BACKEND=poll``."""

from __future__ import annotations

import errno
import gc
import os
import resource
import select
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import tether
from tether import _core
from tether._core import _run
from tether._core._io import PollIOManager
from tether._core._io._common import READ
from tether.testing import wait_all_tasks_blocked

REPO_ROOT = Path(__file__).resolve().parents[2]
HAS_EPOLL = hasattr(select, "epoll")
_IN_OUT = getattr(select, "EPOLLIN", 1) | getattr(select, "EPOLLOUT", 4)


def use_backend(monkeypatch: pytest.MonkeyPatch, name: str) -> str:
    # Runner.__init__ builds whatever _run.IOManager names.
    if name == "epoll":
        if not HAS_EPOLL:
            pytest.skip("epoll is Linux-only")
        from tether._core._io._epoll import EpollIOManager

        monkeypatch.setattr(_run, "IOManager", EpollIOManager)
    else:
        monkeypatch.setattr(_run, "IOManager", PollIOManager)
    return name


@pytest.fixture(params=["epoll", "poll"])
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs the test once on each backend."""
    return use_backend(monkeypatch, str(request.param))


@pytest.fixture
def epoll_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    return use_backend(monkeypatch, "epoll")


@pytest.fixture
def poll_backend(monkeypatch: pytest.MonkeyPatch) -> str:
    return use_backend(monkeypatch, "poll")


def fill_send_buffer(sock: socket.socket) -> None:
    try:
        while True:
            sock.send(b"x" * 65536)
    except BlockingIOError:
        pass


def drain(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 20):
            pass
    except BlockingIOError:
        pass


def epoll_interest(runner: _core.Runner) -> dict[int, int]:
    """fd -> IN/OUT mask, as the kernel's epoll instance has it registered."""
    epoll_fd = runner.io._epoll.fileno()  # type: ignore[attr-defined]
    interest = {}
    with open(f"/proc/self/fdinfo/{epoll_fd}") as info:
        for line in info:
            if line.startswith("tfd:"):
                fields = line.split()
                interest[int(fields[1])] = int(fields[3], 16) & _IN_OUT
    return interest


async def wait_in_scope(
    wait: Any, fd: Any, scopes: list[_core.CancelScope], record: list[str], label: str
) -> None:
    with _core.CancelScope() as scope:
        scopes.append(scope)
        try:
            await wait(fd)
            record.append(f"{label} woken")
        except tether.ClosedResourceError:
            record.append(f"{label} closed")
            return
    if scope.cancelled_caught:
        record.append(f"{label} cancelled")


# ---------------------------------------------------------------- both backends


def test_runner_uses_the_selected_backend(run, backend) -> None:
    async def main() -> str:
        assert _core.current_runner().io.backend == backend
        return _core.current_statistics().io_statistics.backend

    assert run(main) == backend


def test_reader_is_woken_when_data_arrives(run, backend, pair) -> None:
    left, right = pair
    record: list[str] = []

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, [], record, "reader")
            await wait_all_tasks_blocked()
            assert record == []
            right.send(b"x")
        assert _core.current_runner().io.waiting == {}

    run(main)
    assert record == ["reader woken"]


def test_writer_is_woken_when_buffer_drains(run, backend, pair) -> None:
    left, right = pair
    record: list[str] = []
    fill_send_buffer(left)

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_writable, left, [], record, "writer")
            await wait_all_tasks_blocked()
            assert _core.current_statistics().io_statistics.tasks_waiting_write == 1
            drain(right)

    run(main)
    assert record == ["writer woken"]


def test_reader_and_writer_share_one_fd_entry(run, backend, pair) -> None:
    left, right = pair
    record: list[str] = []
    scopes: list[_core.CancelScope] = []
    fill_send_buffer(left)

    async def main() -> None:
        io = _core.current_runner().io
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, scopes, record, "reader")
            nursery.start_soon(wait_in_scope, _core.wait_writable, left, scopes, record, "writer")
            await wait_all_tasks_blocked()
            waiting = io.waiting[left.fileno()]
            assert waiting.read_task is not None and waiting.write_task is not None
            stats = _core.current_statistics().io_statistics
            assert (stats.tasks_waiting_read, stats.tasks_waiting_write) == (1, 1)
            right.send(b"x")
            await wait_all_tasks_blocked()
            assert record == ["reader woken"]
            assert io.waiting[left.fileno()].read_task is None
            drain(right)
        assert io.waiting == {}

    run(main)
    assert record == ["reader woken", "writer woken"]


def test_cancelled_waiter_is_forgotten(run, backend, pair) -> None:
    left, _ = pair
    record: list[str] = []
    scopes: list[_core.CancelScope] = []

    async def main() -> None:
        io = _core.current_runner().io
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, scopes, record, "reader")
            await wait_all_tasks_blocked()
            assert left.fileno() in io.waiting
            scopes[0].cancel()
        assert io.waiting == {}

    run(main)
    assert record == ["reader cancelled"]


def test_notify_closing_wakes_both_directions(run, backend, pair) -> None:
    left, _ = pair
    record: list[str] = []
    fill_send_buffer(left)

    async def main() -> None:
        io = _core.current_runner().io
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, [], record, "reader")
            nursery.start_soon(wait_in_scope, _core.wait_writable, left, [], record, "writer")
            await wait_all_tasks_blocked()
            _core.notify_closing(left)
            assert io.waiting == {}
            left.close()

    run(main)
    assert sorted(record) == ["reader closed", "writer closed"]


def test_second_reader_gets_busy_error_and_first_stays(run, backend, pair) -> None:
    left, right = pair
    record: list[str] = []

    async def main() -> None:
        io = _core.current_runner().io
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, [], record, "first")
            await wait_all_tasks_blocked()
            first = io.waiting[left.fileno()].read_task
            with pytest.raises(tether.BusyResourceError):
                await _core.wait_readable(left)
            assert io.waiting[left.fileno()].read_task is first
            assert _core.current_statistics().io_statistics.tasks_waiting_read == 1
            right.send(b"x")

    run(main)
    assert record == ["first woken"]


def test_fd_number_reused_after_close_can_be_waited_on(run, backend, pair) -> None:
    left, _ = pair
    record: list[str] = []

    async def main() -> None:
        io = _core.current_runner().io
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, [], record, "old")
            await wait_all_tasks_blocked()
            number = left.fileno()
            _core.notify_closing(left)
            left.close()
            new_left, new_right = reuse_number(number)
            with new_left, new_right:
                nursery.start_soon(wait_in_scope, _core.wait_readable, new_left, [], record, "new")
                await wait_all_tasks_blocked()
                assert io.waiting[number].read_task is not None
                new_right.send(b"x")
                await wait_all_tasks_blocked()
        assert io.waiting == {}

    run(main)
    assert record == ["old closed", "new woken"]


def reuse_number(number: int) -> tuple[socket.socket, socket.socket]:
    # A fresh socket pair whose first socket has exactly fd ``number``.
    first, second = socket.socketpair()
    if first.fileno() != number:
        os.dup2(first.fileno(), number)
        first.close()
        first = socket.socket(fileno=number)
    first.setblocking(False)
    second.setblocking(False)
    return first, second


# ---------------------------------------------------------------- epoll bookkeeping


def test_epoll_interest_follows_waiters(run, epoll_backend, pair) -> None:
    left, right = pair
    record: list[str] = []
    scopes: list[_core.CancelScope] = []
    fill_send_buffer(left)

    async def main() -> None:
        runner = _core.current_runner()
        fd = left.fileno()
        wakeup = runner.entry_queue.wakeup_read_fd
        assert epoll_interest(runner) == {wakeup: select.EPOLLIN}
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, scopes, record, "reader")
            await wait_all_tasks_blocked()
            assert epoll_interest(runner)[fd] == select.EPOLLIN
            nursery.start_soon(wait_in_scope, _core.wait_writable, left, scopes, record, "writer")
            await wait_all_tasks_blocked()
            assert epoll_interest(runner)[fd] == select.EPOLLIN | select.EPOLLOUT
            scopes[0].cancel()
            await wait_all_tasks_blocked()
            assert epoll_interest(runner)[fd] == select.EPOLLOUT
            drain(right)
            await wait_all_tasks_blocked()
            assert fd not in epoll_interest(runner)
            assert runner.io.waiting == {}

    run(main)
    assert record == ["reader cancelled", "writer woken"]


def test_epoll_notify_closing_unregisters(run, epoll_backend, pair) -> None:
    left, _ = pair
    record: list[str] = []

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, [], record, "reader")
            await wait_all_tasks_blocked()
            assert left.fileno() in epoll_interest(runner)
            _core.notify_closing(left)
            assert left.fileno() not in epoll_interest(runner)

    run(main)
    assert record == ["reader closed"]


def test_epoll_fd_closed_behind_our_back_and_reused(run, epoll_backend, pair) -> None:
    # The kernel drops a closed fd from the epoll set on its own: adding the
    # other direction for the fd number's new owner must register afresh
    # (modify -> ENOENT -> register), and dropping the stale waiter must not
    # fail either.
    left, _ = pair
    record: list[str] = []
    scopes: list[_core.CancelScope] = []

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, scopes, record, "stale reader")
            await wait_all_tasks_blocked()
            number = left.fileno()
            left.close()  # no notify_closing: a user error the manager survives
            assert number not in epoll_interest(runner)
            new_left, new_right = reuse_number(number)
            with new_left, new_right:
                nursery.start_soon(wait_in_scope, _core.wait_writable, new_left, scopes, record, "writer")
                await wait_all_tasks_blocked()
                assert record == ["writer woken"]
                assert epoll_interest(runner)[number] == select.EPOLLIN
                scopes[0].cancel()
                await wait_all_tasks_blocked()
                assert number not in epoll_interest(runner)
            assert runner.io.waiting == {}

    run(main)
    assert record == ["writer woken", "stale reader cancelled"]


def test_epoll_cancelled_wait_on_closed_fd_is_quiet(run, epoll_backend, pair) -> None:
    left, _ = pair
    record: list[str] = []
    scopes: list[_core.CancelScope] = []

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(wait_in_scope, _core.wait_readable, left, scopes, record, "reader")
            await wait_all_tasks_blocked()
            left.close()
            scopes[0].cancel()  # unregistering a closed fd must not raise
        assert _core.current_runner().io.waiting == {}

    run(main)
    assert record == ["reader cancelled"]


def test_epoll_wait_on_closed_fd_raises_ebadf_and_forgets_waiter(run, epoll_backend) -> None:

    async def main() -> None:
        read_fd, write_fd = os.pipe()
        os.close(read_fd)
        try:
            with pytest.raises(OSError, match="is it closed") as caught:
                await _core.wait_readable(read_fd)
            assert caught.value.errno == errno.EBADF
            assert _core.current_runner().io.waiting == {}
        finally:
            os.close(write_fd)

    run(main)


def test_more_ready_fds_than_one_poll_returns_all_wake(run, epoll_backend, request) -> None:
    # epoll reports at most FD_SETSIZE - 1 events per call; being
    # level-triggered, the rest come with the next call.
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 4096:
        if hard != resource.RLIM_INFINITY and hard < 4096:
            pytest.skip("needs 4096 file descriptors (RLIMIT_NOFILE)")
        resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
        request.addfinalizer(lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard)))
    pairs = [socket.socketpair() for _ in range(1100)]
    record: list[str] = []

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            for n, (reader_sock, _) in enumerate(pairs):
                nursery.start_soon(wait_in_scope, _core.wait_readable, reader_sock, [], record, f"r{n}")
            await wait_all_tasks_blocked()
            for _, writer_sock in pairs:
                writer_sock.send(b"x")

    try:
        run(main)
    finally:
        for first, second in pairs:
            first.close()
            second.close()
    assert sorted(record) == sorted(f"r{n} woken" for n in range(1100))


# ---------------------------------------------------------------- kept registrations
# tether's own sockets wait with owner=self: the kernel registration outlives
# the wait and is dropped lazily, when an event arrives with nobody waiting.


def test_kept_registration_survives_the_wake(run, backend, pair) -> None:
    left, right = pair

    async def main() -> None:
        io = _core.current_runner().io
        right.send(b"x")
        await io.wait_for(left, READ, owner=left)
        waiting = io.waiting[left.fileno()]
        assert waiting.kept and waiting.registered == READ and waiting.read_task is None
        left.recv(10)
        # The next wait needs no new registration.
        with tether.move_on_after(5) as scope:
            await io.wait_for(left, READ, owner=left)
        assert scope.cancelled_caught
        assert io.waiting[left.fileno()].registered == READ

    run(main)


def test_kept_registration_is_dropped_when_reported_with_nobody_waiting(run, backend, pair) -> None:
    left, right = pair

    async def main() -> None:
        io = _core.current_runner().io
        right.send(b"x")
        await io.wait_for(left, READ, owner=left)
        # Nobody reads: the next poll reports the fd with no waiter.
        await wait_all_tasks_blocked()
        waiting = io.waiting[left.fileno()]
        assert waiting.registered == 0
        if backend == "epoll":
            assert left.fileno() not in epoll_interest(_core.current_runner())
        # Waiting again registers afresh and wakes at once (data is there).
        await io.wait_for(left, READ, owner=left)
        assert waiting.registered == READ

    run(main)


def test_notify_closing_drops_kept_registration(run, backend, pair) -> None:
    left, right = pair

    async def main() -> None:
        io = _core.current_runner().io
        right.send(b"x")
        await io.wait_for(left, READ, owner=left)
        _core.notify_closing(left)
        assert left.fileno() not in io.waiting
        if backend == "epoll":
            assert left.fileno() not in epoll_interest(_core.current_runner())

    run(main)


def test_kept_registration_of_closed_fd_does_not_starve_next_owner(run, epoll_backend, pair) -> None:
    # epoll only: the kernel forgets a closed file's registration, while
    # poll() registrations are by fd number and carry over to the new owner.
    left, right = pair
    record: list[object] = []

    async def main() -> None:
        io = _core.current_runner().io
        right.send(b"x")
        await io.wait_for(left, READ, owner=left)
        number = left.fileno()
        left.close()  # no task waits on it now, so trio would not need notify_closing
        new_left, new_right = reuse_number(number)
        with new_left, new_right:
            new_right.send(b"y")
            with tether.move_on_after(10):
                await _core.wait_readable(new_left)
                record.append("woken")
            record.append(_core.current_time())

    run(main)
    assert record == ["woken", 0.0]


def test_plain_wait_beside_a_kept_wait_on_the_same_fd(run, backend, pair) -> None:
    # A socket's own (kept) read and a plain lowlevel wait_writable on the
    # same fd are a reader and a writer, as in trio: no BusyResourceError.
    left, right = pair
    record: list[str] = []

    async def kept_reader() -> None:
        await _core.current_runner().io.wait_for(left, READ, owner=left)
        record.append("reader woken")

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(kept_reader)
            await wait_all_tasks_blocked()
            await _core.wait_writable(left)
            record.append("writable")
            right.send(b"x")

    run(main)
    assert record == ["writable", "reader woken"]


def test_kept_registration_of_a_collected_owner_is_replaced(run, backend) -> None:
    class Owner:
        def __init__(self, sock: socket.socket) -> None:
            self.sock = sock

        def fileno(self) -> int:
            return self.sock.fileno()

    async def main() -> None:
        io = _core.current_runner().io
        first, first_peer = socket.socketpair()
        owner = Owner(first)
        first_peer.send(b"x")
        await io.wait_for(owner, READ, owner=owner)
        number = first.fileno()
        stale = io.waiting[number]
        first.close()  # without forget, then the owner goes away
        first_peer.close()
        del owner
        gc.collect()
        second, second_peer = reuse_number(number)
        with second, second_peer:
            new_owner = Owner(second)
            second_peer.send(b"y")
            with tether.fail_after(5):
                await io.wait_for(new_owner, READ, owner=new_owner)
            assert io.waiting[number] is not stale
            _core.notify_closing(second)

    run(main)


# ---------------------------------------------------------------- poll specifics


def test_poll_wait_on_closed_fd_wakes_the_waiter(run, poll_backend) -> None:
    # poll() reports POLLNVAL for a closed fd, which wakes the reader; the
    # epoll backend raises EBADF up front instead (test above).

    async def main() -> None:
        read_fd, write_fd = os.pipe()
        os.close(read_fd)
        try:
            await _core.wait_readable(read_fd)
            assert _core.current_runner().io.waiting == {}
        finally:
            os.close(write_fd)

    run(main)


def test_poll_timeout_rounds_up_to_whole_milliseconds() -> None:
    manager = PollIOManager(None)
    try:
        calls: list[Any] = []

        class FakePoll:
            def poll(self, milliseconds: Any) -> list[tuple[int, int]]:
                calls.append(milliseconds)
                return []

        manager._poll = FakePoll()  # type: ignore[assignment]
        for timeout in (0.0, 0.0001, 0.5, 86400.0):
            manager.wait(timeout)
        assert calls == [0, 1, 500, 86400000]
    finally:
        manager.close()


@pytest.mark.slow
def test_api_io_tests_pass_with_poll_backend_forced() -> None:
    env = dict(os.environ, TETHER_IO_BACKEND="poll")
    env.pop("TETHER_TEST_IMPL", None)
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import tether\n"
            "async def main():\n"
            "    return tether.lowlevel.current_statistics().io_statistics.backend\n"
            "print(tether.run(main))\n",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "poll"
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests/api/test_lowlevel_io.py", "-q", "-p", "no:cacheprovider"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
