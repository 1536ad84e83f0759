"""Black-box tests of the fd-readiness primitives in trio.lowlevel
(wait_readable, wait_writable, notify_closing) on loopback socketpairs."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.setblocking(False)
    right.setblocking(False)
    with left, right:
        yield left, right


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


def test_wait_readable_wakes_when_data_arrives(run, impl, pair) -> None:
    left, right = pair
    events = []

    async def reader():
        await impl.lowlevel.wait_readable(left)
        events.append(("readable", left.recv(10), impl.current_time()))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(reader)
            await impl.testing.wait_all_tasks_blocked()
            events.append("sending")
            right.send(b"hi")

    run(main)
    assert events == ["sending", ("readable", b"hi", 0.0)]


def test_wait_readable_accepts_raw_fd(run, impl, pair) -> None:
    left, right = pair

    async def main():
        right.send(b"x")
        await impl.lowlevel.wait_readable(left.fileno())
        return left.recv(1)

    assert run(main) == b"x"


def test_wait_readable_accepts_object_with_fileno(run, impl, pair) -> None:
    left, right = pair

    class HasFileno:
        def fileno(self) -> int:
            return left.fileno()

    async def main():
        right.send(b"y")
        await impl.lowlevel.wait_readable(HasFileno())
        return left.recv(1)

    assert run(main) == b"y"


def test_wait_readable_on_ready_socket_is_a_checkpoint(run, impl, pair) -> None:
    left, right = pair

    async def main():
        right.send(b"x")
        with impl.testing.assert_checkpoints():
            await impl.lowlevel.wait_readable(left)

    run(main)


def test_wait_writable_on_fresh_socket_is_a_checkpoint(run, impl, pair) -> None:
    left, _ = pair

    async def main():
        with impl.testing.assert_checkpoints():
            await impl.lowlevel.wait_writable(left)

    run(main)


def test_wait_writable_wakes_when_buffer_drains(run, impl, pair) -> None:
    left, right = pair
    events = []

    async def writer():
        await impl.lowlevel.wait_writable(left)
        events.append("writable")

    async def main():
        fill_send_buffer(left)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(writer)
            await impl.testing.wait_all_tasks_blocked()
            events.append("draining")
            drain(right)

    run(main)
    assert events == ["draining", "writable"]


def test_wait_readable_is_cancellable_at_exact_time(run, impl, pair) -> None:
    left, _ = pair

    async def main():
        with impl.move_on_after(1.5) as scope:
            await impl.lowlevel.wait_readable(left)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 1.5)


def test_fd_can_be_waited_on_again_after_cancelled_wait(run, impl, pair) -> None:
    left, right = pair

    async def main():
        with impl.move_on_after(1):
            await impl.lowlevel.wait_readable(left)
        right.send(b"again")
        await impl.lowlevel.wait_readable(left)
        return left.recv(10), impl.current_time()

    assert run(main) == (b"again", 1.0)


def test_reader_and_writer_may_wait_on_same_fd(run, impl, pair) -> None:
    left, right = pair
    events = []

    async def reader():
        await impl.lowlevel.wait_readable(left)
        events.append("readable")

    async def writer():
        await impl.lowlevel.wait_writable(left)
        events.append("writable")

    async def main():
        fill_send_buffer(left)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(reader)
            nursery.start_soon(writer)
            await impl.testing.wait_all_tasks_blocked()
            right.send(b"x")
            await impl.testing.wait_all_tasks_blocked()
            events.append("draining")
            drain(right)

    run(main)
    assert events == ["readable", "draining", "writable"]


def test_two_readers_on_same_fd_raise_busy_resource_error(run, impl, pair) -> None:
    left, _ = pair

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.lowlevel.wait_readable, left)
            await impl.testing.wait_all_tasks_blocked()
            with pytest.raises(impl.BusyResourceError):
                await impl.lowlevel.wait_readable(left)
            nursery.cancel_scope.cancel()

    run(main)


def test_two_writers_on_same_fd_raise_busy_resource_error(run, impl, pair) -> None:
    left, _ = pair

    async def main():
        fill_send_buffer(left)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.lowlevel.wait_writable, left)
            await impl.testing.wait_all_tasks_blocked()
            with pytest.raises(impl.BusyResourceError):
                await impl.lowlevel.wait_writable(left)
            nursery.cancel_scope.cancel()

    run(main)


def test_busy_wait_leaves_first_waiter_waiting(run, impl, pair) -> None:
    left, right = pair
    events = []

    async def reader():
        await impl.lowlevel.wait_readable(left)
        events.append(("first reader woke", left.recv(10)))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(reader)
            await impl.testing.wait_all_tasks_blocked()
            with pytest.raises(impl.BusyResourceError):
                await impl.lowlevel.wait_readable(left)
            right.send(b"data")

    run(main)
    assert events == [("first reader woke", b"data")]


def test_notify_closing_wakes_reader_with_closed_resource_error(run, impl, pair) -> None:
    left, _ = pair
    events = []

    async def reader():
        try:
            await impl.lowlevel.wait_readable(left)
        except impl.ClosedResourceError:
            events.append(("closed", impl.current_time()))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(reader)
            await impl.sleep(2)
            impl.lowlevel.notify_closing(left)

    run(main)
    assert events == [("closed", 2.0)]


def test_notify_closing_wakes_reader_and_writer(run, impl, pair) -> None:
    left, _ = pair
    events = []

    async def waiter(wait):
        with pytest.raises(impl.ClosedResourceError):
            await wait(left)
        events.append(wait.__name__)

    async def main():
        fill_send_buffer(left)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter, impl.lowlevel.wait_readable)
            nursery.start_soon(waiter, impl.lowlevel.wait_writable)
            await impl.testing.wait_all_tasks_blocked()
            impl.lowlevel.notify_closing(left.fileno())

    run(main)
    assert sorted(events) == ["wait_readable", "wait_writable"]


def test_notify_closing_without_waiters_is_harmless(run, impl, pair) -> None:
    left, right = pair

    async def main():
        with impl.testing.assert_no_checkpoints():
            impl.lowlevel.notify_closing(left)
        right.send(b"still usable")
        await impl.lowlevel.wait_readable(left)
        return left.recv(20)

    assert run(main) == b"still usable"
