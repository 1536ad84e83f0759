"""Black-box tests of serve_tcp and serve_listeners.

serve_tcp runs over real loopback sockets.  serve_listeners is mostly driven
by a scripted fake Listener whose accept() raises or returns what the test
lists, so the resource-error retry (EMFILE and friends: logged, retried after
a pause) runs deterministically in virtual time.  No test may leave a file
descriptor open.
"""

from __future__ import annotations

import errno
import functools
import logging
import os
from collections.abc import Iterator
from typing import Any

import pytest


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, f"file descriptors leaked: {sorted(leaked)}"


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


# ---------------------------------------------------------------- fakes


def fake_stream(impl: Any, name: str) -> Any:
    class FakeStream(impl.abc.AsyncResource):
        def __init__(self) -> None:
            self.name = name
            self.closed = False

        async def aclose(self) -> None:
            self.closed = True
            await impl.lowlevel.checkpoint()

    return FakeStream()


def fake_listener(impl: Any, script: list[Any]) -> Any:
    """A Listener whose accept() raises (exceptions) or returns (streams) ``script`` in order.

    When the script runs out, accept() blocks forever.  ``accept_times`` notes
    the virtual time of each call.
    """

    class ScriptedListener(impl.abc.Listener):
        def __init__(self) -> None:
            self.accept_times: list[float] = []
            self.closed = False

        async def accept(self):
            self.accept_times.append(impl.current_time())
            await impl.lowlevel.checkpoint()
            if not script:
                await impl.sleep_forever()
            step = script.pop(0)
            if isinstance(step, BaseException):
                raise step
            return step

        async def aclose(self) -> None:
            self.closed = True
            await impl.lowlevel.checkpoint()

    return ScriptedListener()


# ---------------------------------------------------------------- serve_tcp


async def echo_handler(stream: Any) -> None:
    while data := await stream.receive_some():
        await stream.send_all(data)


def test_serve_tcp_via_nursery_start_returns_the_listeners(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            listeners = await nursery.start(
                functools.partial(impl.serve_tcp, echo_handler, 0, host="127.0.0.1")
            )
            [listener] = listeners
            assert isinstance(listener, impl.SocketListener)
            host, port = listener.socket.getsockname()
            assert host == "127.0.0.1" and port != 0
            nursery.cancel_scope.cancel()

    run(main)


def test_serve_tcp_echoes_over_loopback(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            [listener] = await nursery.start(
                functools.partial(impl.serve_tcp, echo_handler, 0, host="127.0.0.1")
            )
            port = listener.socket.getsockname()[1]
            for message in (b"first", b"second"):
                async with await impl.open_tcp_stream("127.0.0.1", port) as client:
                    await client.send_all(message)
                    assert await client.receive_some() == message
            nursery.cancel_scope.cancel()

    run(main)


def test_serve_tcp_runs_connections_concurrently(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            [listener] = await nursery.start(
                functools.partial(impl.serve_tcp, echo_handler, 0, host="127.0.0.1")
            )
            port = listener.socket.getsockname()[1]
            first = await impl.open_tcp_stream("127.0.0.1", port)
            second = await impl.open_tcp_stream("127.0.0.1", port)
            async with first, second:
                await second.send_all(b"two")  # first's handler is still open
                assert await second.receive_some() == b"two"
                await first.send_all(b"one")
                assert await first.receive_some() == b"one"
            nursery.cancel_scope.cancel()

    run(main)


def test_serve_tcp_closes_the_stream_when_the_handler_returns(run, impl) -> None:
    async def say_bye(stream):
        await stream.send_all(b"bye")

    async def main():
        async with impl.open_nursery() as nursery:
            [listener] = await nursery.start(functools.partial(impl.serve_tcp, say_bye, 0, host="127.0.0.1"))
            port = listener.socket.getsockname()[1]
            async with await impl.open_tcp_stream("127.0.0.1", port) as client:
                received = b""
                while data := await client.receive_some():
                    received += data
                assert received == b"bye"  # then EOF: the server closed it
            nursery.cancel_scope.cancel()

    run(main)


def test_serve_tcp_handler_error_propagates_out_of_the_server(run, impl) -> None:
    async def failing_handler(stream):
        raise ValueError("handler failed")

    async def main():
        async with impl.open_nursery() as nursery:
            [listener] = await nursery.start(
                functools.partial(impl.serve_tcp, failing_handler, 0, host="127.0.0.1")
            )
            port = listener.socket.getsockname()[1]
            async with await impl.open_tcp_stream("127.0.0.1", port) as client:
                assert await client.receive_some() == b""
                await impl.sleep_forever()  # cancelled by the handler's error

    with pytest.raises(ExceptionGroup) as caught:
        run(main)
    [error] = leaves(caught.value)
    assert isinstance(error, ValueError) and str(error) == "handler failed"


def test_serve_tcp_rejects_a_str_port(run, impl) -> None:
    async def main():
        with pytest.raises(TypeError, match="port"):
            await impl.serve_tcp(echo_handler, "8080")

    run(main)


@pytest.mark.trio_differs
def test_serve_tcp_rejects_a_port_out_of_range(run, impl) -> None:
    async def main():
        with pytest.raises(ValueError, match="port"):
            await impl.serve_tcp(echo_handler, 70000, host="127.0.0.1")

    run(main)


# ---------------------------------------------------------------- serve_listeners


def test_serve_listeners_reports_the_same_listeners(run, impl) -> None:
    async def main():
        listeners = [fake_listener(impl, []), fake_listener(impl, [])]
        async with impl.open_nursery() as nursery:
            started = await nursery.start(impl.serve_listeners, echo_handler, listeners)
            assert started == listeners
            nursery.cancel_scope.cancel()
        assert all(listener.closed for listener in listeners)

    run(main)


def test_serve_listeners_runs_the_handler_for_each_listener(run, impl) -> None:
    handled: list[str] = []

    async def handler(stream):
        handled.append(stream.name)

    async def main():
        streams = [fake_stream(impl, "a"), fake_stream(impl, "b"), fake_stream(impl, "c")]
        listeners = [fake_listener(impl, streams[:2]), fake_listener(impl, streams[2:])]
        async with impl.open_nursery() as nursery:
            await nursery.start(impl.serve_listeners, handler, listeners)
            await impl.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
        assert sorted(handled) == ["a", "b", "c"]
        assert all(stream.closed for stream in streams)

    run(main)


def test_serve_listeners_closes_the_stream_when_the_handler_raises(run, impl) -> None:
    async def handler(stream):
        raise KeyError(stream.name)

    async def main():
        stream = fake_stream(impl, "s")
        listener = fake_listener(impl, [stream])
        with pytest.raises(ExceptionGroup) as caught:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(impl.serve_listeners, handler, [listener])
        [error] = leaves(caught.value)
        assert isinstance(error, KeyError)
        assert stream.closed and listener.closed

    run(main)


@pytest.mark.parametrize("code", ["EMFILE", "ENFILE", "ENOMEM", "ENOBUFS"])
def test_serve_listeners_retries_after_running_out_of_resources(run, impl, caplog, code) -> None:
    number = getattr(errno, code)
    handled: list[float] = []

    async def main():
        done = impl.Event()

        async def handler(stream):
            handled.append(impl.current_time())
            done.set()

        stream = fake_stream(impl, "after the error")
        listener = fake_listener(impl, [OSError(number, os.strerror(number)), stream])
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.serve_listeners, handler, [listener])
            await done.wait()
            nursery.cancel_scope.cancel()
        return listener.accept_times

    with caplog.at_level(logging.ERROR):
        accept_times = run(main)
    assert accept_times[:2] == [0, 0.1]  # retried after a 100 ms pause
    assert handled == [0.1]
    [record] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert code in record.getMessage()
    assert record.exc_info is not None and record.exc_info[1].errno == number


@pytest.mark.parametrize("code", ["EINVAL", "EBADF", "ECONNABORTED"])
def test_serve_listeners_lets_other_os_errors_propagate(run, impl, caplog, code) -> None:
    number = getattr(errno, code)

    async def main():
        listener = fake_listener(impl, [OSError(number, os.strerror(number))])
        with pytest.raises(ExceptionGroup) as caught:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(impl.serve_listeners, echo_handler, [listener])
        [error] = leaves(caught.value)
        assert isinstance(error, OSError) and error.errno == number
        assert listener.closed

    run(main)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


def test_serve_listeners_lets_other_exceptions_propagate(run, impl) -> None:
    async def main():
        listener = fake_listener(impl, [RuntimeError("listener broke")])
        with pytest.raises(ExceptionGroup) as caught:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(impl.serve_listeners, echo_handler, [listener])
        [error] = leaves(caught.value)
        assert isinstance(error, RuntimeError)

    run(main)


def test_serve_listeners_runs_handlers_in_the_handler_nursery(run, impl) -> None:
    events: list[str] = []
    release = []

    async def handler(stream):
        events.append("handler started")
        events.append(f"in handler nursery: {impl.lowlevel.current_task().parent_nursery is release[1]}")
        await release[0].wait()
        events.append("handler finished")

    async def main():
        release.append(impl.Event())
        stream = fake_stream(impl, "s")
        async with impl.open_nursery() as handler_nursery:
            release.append(handler_nursery)
            async with impl.open_nursery() as server_nursery:
                await server_nursery.start(
                    functools.partial(
                        impl.serve_listeners,
                        handler,
                        [fake_listener(impl, [stream])],
                        handler_nursery=handler_nursery,
                    )
                )
                await impl.testing.wait_all_tasks_blocked()
                server_nursery.cancel_scope.cancel()  # the server stops ...
            events.append("server stopped")
            assert not stream.closed  # ... its handler goes on
            release[0].set()
        assert stream.closed

    run(main)
    assert events == [
        "handler started",
        "in handler nursery: True",
        "server stopped",
        "handler finished",
    ]


def test_serve_listeners_handler_error_goes_to_the_handler_nursery(run, impl) -> None:
    async def handler(stream):
        raise ValueError("from the handler")

    async def main():
        outcome: list[str] = []
        with pytest.raises(ExceptionGroup) as caught:
            async with impl.open_nursery() as handler_nursery:
                async with impl.open_nursery() as server_nursery:
                    await server_nursery.start(
                        functools.partial(
                            impl.serve_listeners,
                            handler,
                            [fake_listener(impl, [fake_stream(impl, "s")])],
                            handler_nursery=handler_nursery,
                        )
                    )
                    try:
                        await impl.sleep_forever()
                    finally:
                        outcome.append("server cancelled")
        assert outcome == ["server cancelled"]
        assert [type(error) for error in leaves(caught.value)] == [ValueError]

    run(main)


def test_serve_listeners_over_a_real_socket_listener(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            listeners = await impl.open_tcp_listeners(0, host="127.0.0.1")
            await nursery.start(impl.serve_listeners, echo_handler, listeners)
            port = listeners[0].socket.getsockname()[1]
            async with await impl.open_tcp_stream("127.0.0.1", port) as client:
                await client.send_all(b"real")
                assert await client.receive_some() == b"real"
            nursery.cancel_scope.cancel()
        assert listeners[0].socket.fileno() == -1  # closed when the server stops

    run(main)
