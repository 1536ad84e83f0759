"""Black-box tests of guest mode: ``lowlevel.start_guest_run`` inside a host loop.

Three hosts drive the guest: asyncio (``call_soon_threadsafe`` /
``call_soon``), uvloop, and a plain host made of a ``queue.Queue`` loop
(``while not done: q.get()()``, as anyio's pytest plugin does).  Every
host gives up after ``TIMEOUT`` seconds, so a guest that stops ticking
fails the test instead of hanging it; tests where the host must wake a
sleeping guest also bound the guest side with ``fail_after``, so a lost
wake-up shows as ``TooSlowError``.

"Host code between ticks" is code the host runs in one of its own
callbacks while the guest's tasks are all blocked (``host.call_soon``
from a guest task, then block: the callback runs once the tick is over).
Guests use virtual time (``MockClock``) unless a test is about the real
wait for I/O, which happens in a worker thread; those are marked ``slow``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import math
import os
import queue
import signal
import socket as stdlib_socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import outcome
import pytest
import sniffio

TIMEOUT = 10.0  # seconds a host waits for its guest before failing the test
GUARD = 5.0  # seconds a guest waits for the host before failing with TooSlowError


# ---------------------------------------------------------------- hosts


class QueueHost:
    """The smallest possible host: a loop over a queue of callbacks."""

    name = "queue"

    def __init__(self, impl: Any) -> None:
        self.impl = impl
        self.queue: queue.Queue[Callable[[], object]] = queue.Queue()
        self.thread_id = threading.get_ident()
        self.done_threads: list[int] = []

    def call_soon(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` on the host's thread, from its loop (thread-safe)."""
        self.queue.put(fn)

    def run(self, async_fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        """Start a guest run and drive it to completion; return its Outcome."""
        results: list[outcome.Outcome[Any]] = []

        def done(result: outcome.Outcome[Any]) -> None:
            self.done_threads.append(threading.get_ident())
            results.append(result)

        kwargs.setdefault("run_sync_soon_threadsafe", self.queue.put)
        self.impl.lowlevel.start_guest_run(async_fn, *args, done_callback=done, **kwargs)
        self.drive_until(lambda: bool(results))
        assert len(results) == 1
        return results[0]

    def drive_until(self, finished: Callable[[], bool]) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not finished():
            try:
                callback = self.queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"the guest did not finish within {TIMEOUT} s") from None
            try:
                callback()
            except KeyboardInterrupt:
                # Not a real Ctrl-C: only tests raise SIGINT.  Failing here
                # keeps pytest from treating it as the user's interrupt.
                raise AssertionError("KeyboardInterrupt escaped into the host's code") from None


def start_guest(
    impl: Any,
    async_fn: Callable[..., Awaitable[Any]],
    *args: Any,
    done_threads: list[int] | None = None,
    **kwargs: Any,
) -> asyncio.Future[Any]:
    """In a running asyncio loop: start a guest run; return a future of its Outcome."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[outcome.Outcome[Any]] = loop.create_future()
    # uvloop keeps a signal wake-up fd of its own; asyncio sets one only
    # for loop.add_signal_handler, which these tests do not use.
    kwargs.setdefault("host_uses_signal_set_wakeup_fd", type(loop).__module__.startswith("uvloop"))

    def done_callback(result: outcome.Outcome[Any]) -> None:
        if done_threads is not None:
            done_threads.append(threading.get_ident())
        done.set_result(result)

    impl.lowlevel.start_guest_run(
        async_fn,
        *args,
        run_sync_soon_threadsafe=loop.call_soon_threadsafe,
        run_sync_soon_not_threadsafe=loop.call_soon,
        done_callback=done_callback,
        **kwargs,
    )
    return done


def loop_factory_for(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    if name == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        return uvloop.new_event_loop  # type: ignore[no-any-return]
    return None


def run_asyncio(name: str, host_main: Callable[[], Awaitable[Any]]) -> Any:
    """Run ``host_main()`` on a fresh asyncio (or uvloop) loop, bounded by TIMEOUT."""
    with asyncio.Runner(loop_factory=loop_factory_for(name)) as runner:
        return runner.run(asyncio.wait_for(host_main(), TIMEOUT))


class AsyncioHost:
    """asyncio or uvloop as the host: one fresh loop per guest run."""

    def __init__(self, impl: Any, name: str) -> None:
        self.impl = impl
        self.name = name
        self.loop_factory = loop_factory_for(name)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread_id = threading.get_ident()
        self.done_threads: list[int] = []

    def call_soon(self, fn: Callable[[], object]) -> None:
        assert self.loop is not None
        self.loop.call_soon_threadsafe(fn)

    def run(self, async_fn: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        async def host_main() -> Any:
            self.loop = asyncio.get_running_loop()
            return await start_guest(self.impl, async_fn, *args, done_threads=self.done_threads, **kwargs)

        try:
            return run_asyncio(self.name, host_main)
        finally:
            self.loop = None


@pytest.fixture(params=["asyncio", "uvloop", "queue"])
def host(request: pytest.FixtureRequest, impl: Any) -> Any:
    if request.param == "queue":
        return QueueHost(impl)
    return AsyncioHost(impl, request.param)


@pytest.fixture(params=["asyncio", "uvloop"])
def aio_name(request: pytest.FixtureRequest) -> str:
    loop_factory_for(request.param)  # skips if uvloop is missing
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def mock_clock(impl: Any) -> Any:
    return impl.testing.MockClock(autojump_threshold=0)


@pytest.fixture
def default_sigint() -> Iterator[None]:
    """SIGINT starts with Python's default handler; whatever happens, it is put back."""
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def value_of(result: Any) -> Any:
    assert isinstance(result, outcome.Value), f"the guest failed: {result!r}"
    return result.value


def error_of(result: Any) -> BaseException:
    assert isinstance(result, outcome.Error), f"the guest did not fail: {result!r}"
    return result.error


# ---------------------------------------------------------------- results


def test_return_value_reaches_done_callback(host, impl) -> None:
    async def main(a, b):
        await impl.lowlevel.checkpoint()
        return a + b

    assert value_of(host.run(main, 2, 3)) == 5


def test_done_callback_runs_on_host_thread(host, impl) -> None:
    async def main():
        await impl.to_thread.run_sync(lambda: None)  # the run also uses other threads

    value_of(host.run(main))
    assert host.done_threads == [host.thread_id]


def test_exception_escaping_main_reaches_done_callback(host, impl) -> None:
    async def main():
        await impl.lowlevel.checkpoint()
        raise ValueError("from the guest")

    error = error_of(host.run(main))
    assert type(error) is ValueError
    assert str(error) == "from the guest"


def test_exception_from_child_task_arrives_in_exception_group(host, impl) -> None:
    async def child():
        await impl.lowlevel.checkpoint()
        raise KeyError("child")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    error = error_of(host.run(main))
    assert isinstance(error, ExceptionGroup)
    assert [type(e) for e in error.exceptions] == [KeyError]


def test_start_guest_run_returns_before_main_runs(impl) -> None:
    host = QueueHost(impl)
    events: list[str] = []
    results: list[Any] = []

    async def main():
        events.append("main runs")

    impl.lowlevel.start_guest_run(main, run_sync_soon_threadsafe=host.queue.put, done_callback=results.append)
    events.append("start_guest_run returned")
    host.drive_until(lambda: bool(results))
    assert events == ["start_guest_run returned", "main runs"]
    assert len(results) == 1


def test_not_threadsafe_callback_is_only_called_from_host_thread(impl) -> None:
    host = QueueHost(impl)
    callers: list[int] = []

    def not_threadsafe(fn):
        callers.append(threading.get_ident())
        host.queue.put(fn)

    async def main():
        for _ in range(3):
            await impl.to_thread.run_sync(lambda: None)
            await impl.sleep(0.001)
        return "done"

    assert value_of(host.run(main, run_sync_soon_not_threadsafe=not_threadsafe)) == "done"
    assert callers  # the guest did use it
    assert set(callers) == {host.thread_id}


def test_guest_runs_one_after_another_on_the_same_host_thread(host, impl) -> None:
    async def main(n):
        await impl.sleep(1)
        return n

    results = [host.run(main, n, clock=impl.testing.MockClock(autojump_threshold=0)) for n in range(3)]
    assert [value_of(result) for result in results] == [0, 1, 2]
    assert impl.lowlevel.in_trio_run() is False

    async def plain():
        return "plain run still works"

    assert impl.run(plain) == "plain run still works"


# ---------------------------------------------------------------- time


def test_mock_clock_autojump_is_the_guests_clock(host, impl, mock_clock) -> None:
    async def main():
        start = impl.current_time()
        await impl.sleep(100)
        return impl.current_time() - start

    assert value_of(host.run(main, clock=mock_clock)) == 100


def test_move_on_after_in_guest_stops_at_its_deadline(host, impl, mock_clock) -> None:
    async def main():
        start = impl.current_time()
        with impl.move_on_after(5) as scope:
            assert scope.deadline == start + 5
            await impl.sleep_forever()
        return scope.cancelled_caught, impl.current_time() - start

    assert value_of(host.run(main, clock=mock_clock)) == (True, 5)


def test_fail_after_in_guest_raises_too_slow(host, impl, mock_clock) -> None:
    async def main():
        with impl.fail_after(3):
            await impl.sleep(10)

    assert type(error_of(host.run(main, clock=mock_clock))) is impl.TooSlowError


def test_nested_deadlines_fire_in_order(host, impl, mock_clock) -> None:
    fired: list[tuple[str, float]] = []

    async def sleeper(name, seconds, start):
        with impl.move_on_after(seconds):
            await impl.sleep_forever()
        fired.append((name, impl.current_time() - start))

    async def main():
        start = impl.current_time()
        async with impl.open_nursery() as nursery:
            for name, seconds in (("c", 3), ("a", 1), ("b", 2)):
                nursery.start_soon(sleeper, name, seconds, start)

    value_of(host.run(main, clock=mock_clock))
    assert fired == [("a", 1), ("b", 2), ("c", 3)]


def test_mock_clock_autojump_after_real_idle_time(host, impl) -> None:
    # A threshold above zero makes the guest really wait for I/O (in its
    # worker thread) before the clock jumps.
    clock = impl.testing.MockClock(autojump_threshold=0.005)

    async def main():
        start = impl.current_time()
        await impl.sleep(1000)
        await impl.sleep(1000)
        return impl.current_time() - start

    assert value_of(host.run(main, clock=clock)) == 2000


@pytest.mark.slow
def test_sleep_on_real_clock_waits_that_long(host, impl) -> None:
    async def main():
        start = impl.current_time()
        real_start = time.perf_counter()
        await impl.sleep(0.02)
        return impl.current_time() - start, time.perf_counter() - real_start

    elapsed, real_elapsed = value_of(host.run(main))
    assert 0.02 <= elapsed < TIMEOUT
    assert real_elapsed >= 0.019  # the clocks differ by a rounding error at most


@pytest.mark.slow
def test_move_on_after_on_real_clock_cancels_a_blocked_task(host, impl) -> None:
    async def main():
        start = impl.current_time()
        with impl.move_on_after(0.02) as scope:
            await impl.sleep_forever()
        return scope.cancelled_caught, impl.current_time() - start

    caught, elapsed = value_of(host.run(main))
    assert caught is True
    assert 0.02 <= elapsed < TIMEOUT


# ---------------------------------------------------------------- sockets


async def echo_once_per_message(impl, stream) -> None:
    async with stream:
        while data := await stream.receive_some(1024):
            await stream.send_all(data)


def test_tcp_echo_inside_the_guest(host, impl) -> None:
    messages = [b"one", b"two" * 20, b"x" * 64]

    async def main():
        listeners = await impl.open_tcp_listeners(0, host="127.0.0.1")
        port = listeners[0].socket.getsockname()[1]
        echoed = []
        async with impl.open_nursery() as nursery:

            async def serve():
                async with listeners[0]:
                    stream = await listeners[0].accept()
                await echo_once_per_message(impl, stream)

            nursery.start_soon(serve)
            with impl.fail_after(GUARD):
                async with await impl.open_tcp_stream("127.0.0.1", port) as client:
                    for message in messages:
                        await client.send_all(message)
                        received = b""
                        while len(received) < len(message):
                            received += await client.receive_some(1024)
                        echoed.append(received)
        return echoed

    assert value_of(host.run(main)) == messages


def test_guest_client_talks_to_host_asyncio_server(aio_name, impl) -> None:
    async def handle(reader, writer):
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def guest(port):
        with impl.fail_after(GUARD):
            async with await impl.open_tcp_stream("127.0.0.1", port) as stream:
                replies = []
                for line in (b"hello\n", b"guest\n"):
                    await stream.send_all(line)
                    reply = b""
                    while not reply.endswith(b"\n"):
                        reply += await stream.receive_some(100)
                    replies.append(reply)
                return replies

    async def host_main():
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        async with server:
            port = server.sockets[0].getsockname()[1]
            return await start_guest(impl, guest, port)

    assert value_of(run_asyncio(aio_name, host_main)) == [b"HELLO\n", b"GUEST\n"]


def test_host_asyncio_client_talks_to_guest_server(aio_name, impl) -> None:
    async def guest(port_future):
        listeners = await impl.open_tcp_listeners(0, host="127.0.0.1")
        loop = port_future.get_loop()
        loop.call_soon_threadsafe(port_future.set_result, listeners[0].socket.getsockname()[1])
        with impl.fail_after(GUARD):
            async with listeners[0]:
                stream = await listeners[0].accept()
            await echo_once_per_message(impl, stream)
        return "served"

    async def host_main():
        port_future = asyncio.get_running_loop().create_future()
        done = start_guest(impl, guest, port_future)
        reader, writer = await asyncio.open_connection("127.0.0.1", await port_future)
        replies = []
        for message in (b"ping", b"pong"):
            writer.write(message)
            replies.append(await reader.readexactly(len(message)))
        writer.close()
        await writer.wait_closed()
        return replies, await done

    replies, result = run_asyncio(aio_name, host_main)
    assert replies == [b"ping", b"pong"]
    assert value_of(result) == "served"


# ---------------------------------------------------------------- threads


def test_to_thread_run_sync_in_guest(host, impl) -> None:
    async def main():
        return await impl.to_thread.run_sync(lambda x: (x * 2, threading.get_ident()), 21)

    value, thread_id = value_of(host.run(main))
    assert value == 42
    assert thread_id != host.thread_id


def test_from_thread_run_calls_back_into_the_guest(host, impl) -> None:
    async def double(x):
        await impl.lowlevel.checkpoint()
        return x * 2, threading.get_ident(), sniffio.current_async_library()

    def in_worker():
        first = impl.from_thread.run(double, 5)
        second = impl.from_thread.run_sync(lambda: threading.get_ident())
        return first, second

    async def main():
        return await impl.to_thread.run_sync(in_worker)

    (value, task_thread, library), sync_thread = value_of(host.run(main))
    assert value == 10
    assert task_thread == sync_thread == host.thread_id
    assert library == "trio"


def test_trio_token_wakes_guest_from_a_plain_thread(host, impl) -> None:
    async def main():
        token = impl.lowlevel.current_trio_token()
        event = impl.Event()
        thread = threading.Thread(target=token.run_sync_soon, args=(event.set,))
        with impl.fail_after(GUARD):
            thread.start()
            await event.wait()
        thread.join(TIMEOUT)
        return "woken"

    assert value_of(host.run(main)) == "woken"


# ---------------------------------------------------------------- cancellation


def test_guest_cancels_its_own_scopes(host, impl, mock_clock) -> None:
    cancelled: list[str] = []

    async def child():
        try:
            await impl.sleep_forever()
        except impl.Cancelled:
            cancelled.append("child")
            raise

    async def main():
        with impl.CancelScope() as outer:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(child)
                await impl.sleep(1)
                outer.cancel()
                await impl.sleep_forever()
        return outer.cancelled_caught

    assert value_of(host.run(main, clock=mock_clock)) is True
    assert cancelled == ["child"]


def test_host_cancels_guest_scope_between_ticks(host, impl) -> None:
    async def main():
        with impl.fail_after(GUARD):
            with impl.CancelScope() as scope:
                host.call_soon(scope.cancel)
                await impl.sleep_forever()
        return scope.cancelled_caught

    assert value_of(host.run(main)) is True


def test_host_moves_guest_deadline_between_ticks(host, impl) -> None:
    async def main():
        with impl.fail_after(GUARD):
            with impl.CancelScope() as scope:
                host.call_soon(lambda: setattr(scope, "deadline", -math.inf))
                await impl.sleep_forever()
        return scope.cancelled_caught

    assert value_of(host.run(main)) is True


def test_host_wakes_guest_task_with_send_nowait(host, impl) -> None:
    # What anyio's test runner does: the host hands work to a guest task
    # over a memory channel.
    async def main():
        send, receive = impl.open_memory_channel(1)
        received = []
        with impl.fail_after(GUARD):
            for item in ("first", "second"):
                host.call_soon(lambda item=item: send.send_nowait(item))
                received.append(await receive.receive())
        return received

    assert value_of(host.run(main)) == ["first", "second"]


def test_host_starts_guest_task_with_start_soon(host, impl) -> None:
    # A GUI host starting a task from a button handler.
    async def main():
        started = impl.Event()

        async def child():
            await impl.lowlevel.checkpoint()
            started.set()

        async with impl.open_nursery() as nursery:
            host.call_soon(lambda: nursery.start_soon(child))
            with impl.fail_after(GUARD):
                await started.wait()
        return "child ran"

    assert value_of(host.run(main)) == "child ran"


def test_host_keeps_running_while_guest_is_busy(host, impl) -> None:
    # A guest that only ever checkpoints must still let the host's own
    # callbacks run, not monopolize the thread until it is done.
    host_ran_at: list[int] = []

    async def main():
        done = 0
        host.call_soon(lambda: host_ran_at.append(done))
        for done in range(1, 2001):  # noqa: B007
            await impl.lowlevel.checkpoint()
        return done

    assert value_of(host.run(main)) == 2000
    assert len(host_ran_at) == 1
    assert host_ran_at[0] < 2000


def test_host_keeps_running_while_guest_tasks_ping_pong_over_a_socket(host, impl) -> None:
    # The same when every step waits for I/O that is ready at once: a guest
    # that goes on polling without returning to the host would starve it.
    host_ran_at: list[int] = []

    async def main():
        a, b = impl.socket.socketpair()
        with a, b:

            async def echo():
                while data := await b.recv(1):
                    await b.send(data)

            async with impl.open_nursery() as nursery:
                nursery.start_soon(echo)
                done = 0
                host.call_soon(lambda: host_ran_at.append(done))
                for done in range(1, 501):  # noqa: B007
                    await a.send(b"x")
                    assert await a.recv(1) == b"x"
                a.shutdown(stdlib_socket.SHUT_WR)
        return done

    assert value_of(host.run(main)) == 500
    assert len(host_ran_at) == 1
    assert host_ran_at[0] < 500


# ---------------------------------------------------------------- KeyboardInterrupt


def test_sigint_in_guest_task_ends_run_with_keyboard_interrupt(impl, default_sigint) -> None:
    events: list[str] = []

    async def main():
        events.append("before")
        signal.raise_signal(signal.SIGINT)
        events.append("not reached")

    assert type(error_of(QueueHost(impl).run(main))) is KeyboardInterrupt
    assert events == ["before"]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_in_host_code_between_ticks_goes_to_the_guest(impl, default_sigint) -> None:
    host = QueueHost(impl)

    async def main():
        host.call_soon(lambda: signal.raise_signal(signal.SIGINT))
        with impl.fail_after(GUARD):
            await impl.sleep_forever()

    assert type(error_of(host.run(main))) is KeyboardInterrupt
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_restricted_to_checkpoints_in_guest(impl, default_sigint) -> None:
    events: list[str] = []

    async def main():
        signal.raise_signal(signal.SIGINT)
        events.append("runs on until the checkpoint")
        await impl.lowlevel.checkpoint()
        events.append("not reached")

    result = QueueHost(impl).run(main, restrict_keyboard_interrupt_to_checkpoints=True)
    assert type(error_of(result)) is KeyboardInterrupt
    assert events == ["runs on until the checkpoint"]


def test_guest_leaves_host_sigint_handler_alone(aio_name, impl, default_sigint) -> None:
    # asyncio.Runner installs its own SIGINT handler; the guest must not replace it.
    async def guest():
        return signal.getsignal(signal.SIGINT)

    async def host_main():
        host_handler = signal.getsignal(signal.SIGINT)
        return host_handler, await start_guest(impl, guest)

    host_handler, result = run_asyncio(aio_name, host_main)
    assert host_handler is not signal.default_int_handler
    assert value_of(result) is host_handler
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# ---------------------------------------------------------------- signal wake-up fd


@contextlib.contextmanager
def host_wakeup_fd() -> Iterator[int]:
    """The host's own signal wake-up fd, set for the duration."""
    read_sock, write_sock = stdlib_socket.socketpair()
    write_sock.setblocking(False)
    previous = signal.set_wakeup_fd(write_sock.fileno())
    try:
        yield write_sock.fileno()
    finally:
        signal.set_wakeup_fd(previous)
        read_sock.close()
        write_sock.close()


def current_wakeup_fd() -> int:
    fd = signal.set_wakeup_fd(-1)
    signal.set_wakeup_fd(fd)
    return fd


def test_host_uses_signal_set_wakeup_fd_keeps_the_hosts_fd(impl) -> None:
    async def main():
        await impl.lowlevel.checkpoint()
        return current_wakeup_fd()

    with host_wakeup_fd() as fd:
        result = QueueHost(impl).run(main, host_uses_signal_set_wakeup_fd=True)
        assert value_of(result) == fd
        assert current_wakeup_fd() == fd


def test_guest_sets_and_restores_the_wakeup_fd_by_default(impl) -> None:
    async def main():
        await impl.lowlevel.checkpoint()
        return current_wakeup_fd()

    with host_wakeup_fd() as fd:
        with pytest.warns(RuntimeWarning, match="host_uses_signal_set_wakeup_fd=True"):
            guest_fd = value_of(QueueHost(impl).run(main))
        assert guest_fd not in (fd, -1)
        assert current_wakeup_fd() == fd


# ---------------------------------------------------------------- instruments


def test_instruments_see_the_guest_run(host, impl, mock_clock) -> None:
    events: list[tuple[str, ...]] = []
    io_waits: list[str] = []

    class Recorder(impl.abc.Instrument):
        def before_run(self):
            events.append(("before_run",))

        def after_run(self):
            events.append(("after_run",))

        def task_spawned(self, task):
            if task.name == "child":
                events.append(("spawned", task.name))

        def task_exited(self, task):
            if task.name == "child":
                events.append(("exited", task.name))

        def before_task_step(self, task):
            if task.name == "child":
                events.append(("before_step", task.name))

        def after_task_step(self, task):
            if task.name == "child":
                events.append(("after_step", task.name))

        def before_io_wait(self, timeout):
            io_waits.append("before")

        def after_io_wait(self, timeout):
            io_waits.append("after")

    async def child():
        await impl.sleep(1)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child, name="child")

    value_of(host.run(main, clock=mock_clock, instruments=[Recorder()]))
    assert events == [
        ("before_run",),
        ("spawned", "child"),
        ("before_step", "child"),
        ("after_step", "child"),
        ("before_step", "child"),
        ("exited", "child"),
        ("after_step", "child"),
        ("after_run",),
    ]
    assert io_waits  # the guest did wait for I/O
    assert io_waits == ["before", "after"] * (len(io_waits) // 2)


# ---------------------------------------------------------------- sniffio and run detection


def test_sniffio_names_trio_in_guest_and_asyncio_in_host_tasks(aio_name, impl) -> None:
    async def guest():
        names = [sniffio.current_async_library()]
        await impl.sleep(0.001)
        names.append(sniffio.current_async_library())
        return names

    async def host_main():
        done = start_guest(impl, guest)
        host_names = []
        while not done.done():
            host_names.append(sniffio.current_async_library())
            await asyncio.sleep(0.001)
        return host_names, await done

    host_names, result = run_asyncio(aio_name, host_main)
    assert value_of(result) == ["trio", "trio"]
    assert host_names
    assert set(host_names) == {"asyncio"}


def test_sniffio_finds_no_library_in_plain_host_code(impl) -> None:
    host = QueueHost(impl)
    seen: list[str] = []

    def probe():
        try:
            seen.append(sniffio.current_async_library())
        except sniffio.AsyncLibraryNotFoundError:
            seen.append("none")
        event.set()

    async def main():
        nonlocal event
        event = impl.Event()
        host.call_soon(probe)
        with impl.fail_after(GUARD):
            await event.wait()
        seen.append(sniffio.current_async_library())

    event: Any = None
    value_of(host.run(main))
    assert seen == ["none", "trio"]


def test_run_detection_from_host_code_between_ticks(host, impl, mock_clock) -> None:
    # As in trio: the guest run is "the current run" of the host's thread
    # from start_guest_run until done_callback, but no task is current
    # between ticks.
    seen: dict[str, Any] = {}

    def probe():
        seen["in_trio_run"] = impl.lowlevel.in_trio_run()
        seen["in_trio_task"] = impl.lowlevel.in_trio_task()
        seen["current_time"] = impl.current_time()
        try:
            impl.lowlevel.current_task()
        except RuntimeError:
            seen["current_task"] = "RuntimeError"
        event.set()

    async def main():
        nonlocal event
        event = impl.Event()
        await impl.sleep(7)
        host.call_soon(probe)
        with impl.fail_after(GUARD):
            await event.wait()
        return impl.current_time()

    event: Any = None
    guest_time = value_of(host.run(main, clock=mock_clock))
    assert seen == {
        "in_trio_run": True,
        "in_trio_task": False,
        "current_time": guest_time,
        "current_task": "RuntimeError",
    }
    assert impl.lowlevel.in_trio_run() is False


def test_sync_functions_usable_once_start_guest_run_returns(impl) -> None:
    # trio documents current_time, current_trio_token and spawn_system_task
    # as usable from the host as soon as start_guest_run returns.
    host = QueueHost(impl)
    results: list[Any] = []
    ran: list[str] = []

    async def system_task(token):
        ran.append(f"system task, same token: {impl.lowlevel.current_trio_token() is token}")

    async def main():
        with impl.fail_after(GUARD):
            while not ran:
                await impl.sleep(0.001)

    impl.lowlevel.start_guest_run(main, run_sync_soon_threadsafe=host.queue.put, done_callback=results.append)
    assert impl.lowlevel.in_trio_run() is True
    assert isinstance(impl.current_time(), float)
    token = impl.lowlevel.current_trio_token()
    impl.lowlevel.spawn_system_task(system_task, token)
    host.drive_until(lambda: bool(results))
    value_of(results[0])
    assert ran == ["system task, same token: True"]


# ---------------------------------------------------------------- async generators


def test_async_generators_are_finalized_by_their_own_loop(aio_name, impl) -> None:
    # Each generator is left suspended; the guest closes its own at the end
    # of its run, asyncio closes the host's when the loop shuts down.
    closed_by: dict[str, str] = {}
    keep: list[Any] = []

    async def agen(label):
        try:
            yield 1
            yield 2
        finally:
            closed_by[label] = sniffio.current_async_library()

    async def guest(host_agen_started):
        generator = agen("guest's")
        keep.append(generator)
        assert await generator.__anext__() == 1
        with impl.fail_after(GUARD):
            await host_agen_started.wait()

    async def host_main():
        host_agen_started = impl.Event()
        done = start_guest(impl, guest, host_agen_started)
        generator = agen("host's")
        keep.append(generator)
        assert await generator.__anext__() == 1  # first iterated between ticks
        host_agen_started.set()
        return await done

    value_of(run_asyncio(aio_name, host_main))
    assert closed_by == {"guest's": "trio", "host's": "asyncio"}


def test_guest_async_generator_dropped_by_host_code_is_closed_by_guest(host, impl) -> None:
    closed_in: list[Any] = []
    holder: list[Any] = []

    async def agen():
        try:
            yield 1
            yield 2
        finally:
            closed_in.append((sniffio.current_async_library(), impl.lowlevel.in_trio_task()))
            closed.set()

    async def main():
        nonlocal closed
        closed = impl.Event()
        holder.append(agen())
        assert await holder[0].__anext__() == 1
        host.call_soon(holder.clear)  # the last reference goes away in host code
        with impl.fail_after(GUARD):
            await closed.wait()

    closed: Any = None
    with pytest.warns(ResourceWarning, match="garbage collected"):
        value_of(host.run(main))
        gc.collect()
    assert closed_in == [("trio", True)]


# ---------------------------------------------------------------- misuse


def test_start_guest_run_inside_a_run_raises_runtime_error(impl) -> None:
    calls: list[Any] = []

    async def guest():
        pass  # pragma: no cover - never started

    async def main():
        with pytest.raises(RuntimeError):
            impl.lowlevel.start_guest_run(
                guest, run_sync_soon_threadsafe=calls.append, done_callback=calls.append
            )

    impl.run(main)
    assert calls == []


def test_second_guest_run_on_the_same_thread_raises_runtime_error(impl) -> None:
    host = QueueHost(impl)
    errors: list[str] = []

    async def other():
        pass  # pragma: no cover - never started

    def start_other():
        try:
            impl.lowlevel.start_guest_run(other, run_sync_soon_threadsafe=host.queue.put, done_callback=print)
        except RuntimeError:
            errors.append("from host code")
        event.set()

    async def main():
        nonlocal event
        event = impl.Event()
        try:
            impl.lowlevel.start_guest_run(other, run_sync_soon_threadsafe=host.queue.put, done_callback=print)
        except RuntimeError:
            errors.append("from a guest task")
        host.call_soon(start_other)
        with impl.fail_after(GUARD):
            await event.wait()

    event: Any = None
    value_of(host.run(main))
    assert errors == ["from a guest task", "from host code"]


def test_coroutine_object_instead_of_function_fails_through_done_callback(impl) -> None:
    async def main():
        pass  # pragma: no cover - the coroutine is closed unstarted

    result = QueueHost(impl).run(main())
    error = error_of(result)
    assert type(error) is TypeError
    assert "coroutine" in str(error)


def test_sync_function_instead_of_async_fails_through_done_callback(impl) -> None:
    def main():
        return None

    assert type(error_of(QueueHost(impl).run(main))) is TypeError


def test_run_inside_guest_host_code_raises_runtime_error(host, impl) -> None:
    outcomes: list[str] = []

    async def nested():
        pass  # pragma: no cover - never started

    def from_host():
        try:
            impl.run(nested)
        except RuntimeError:
            outcomes.append("RuntimeError")
        event.set()

    async def main():
        nonlocal event
        event = impl.Event()
        host.call_soon(from_host)
        with impl.fail_after(GUARD):
            await event.wait()

    event: Any = None
    value_of(host.run(main))
    assert outcomes == ["RuntimeError"]


@pytest.mark.trio_differs
def test_from_thread_in_the_host_thread_raises_instead_of_hanging(impl) -> None:
    # trio 0.35 blocks the host thread forever here (see docs/differences.md).
    host = QueueHost(impl)
    errors: list[str] = []

    async def noop():
        return None

    def from_host(token: Any) -> None:
        for call in (impl.from_thread.run, impl.from_thread.run_sync):
            target = noop if call is impl.from_thread.run else (lambda: None)
            try:
                call(target, trio_token=token)
            except RuntimeError as error:
                errors.append("host thread" if "host thread" in str(error) else str(error))
        event.set()

    async def main():
        nonlocal event
        event = impl.Event()
        host.call_soon(lambda: from_host(impl.lowlevel.current_trio_token()))
        with impl.fail_after(GUARD):
            await event.wait()

    event: Any = None
    value_of(host.run(main))
    assert errors == ["host thread", "host thread"]


def test_no_file_descriptor_leaks_after_guest_runs(host, impl) -> None:
    async def main():
        await impl.to_thread.run_sync(lambda: None)
        await impl.sleep(0.001)

    value_of(host.run(main))  # warm up: thread caches, the host's own fds
    before = set(os.listdir("/proc/self/fd"))
    for _ in range(3):
        value_of(host.run(main))
    assert set(os.listdir("/proc/self/fd")) == before
