"""Black-box tests of open_tcp_stream (Happy Eyeballs) and open_tcp_listeners.

Everything happens on loopback.  A custom hostname resolver hands
open_tcp_stream several addresses, each of a known kind:

- listening: a listener accepts the connection;
- refusing: a bound socket that does not listen, so connect() fails at once;
- unanswered: a listener whose backlog is full, so the kernel drops the SYN
  and connect() hangs (until cancelled).

A recording socket factory notes when each attempt's socket is made (virtual
time, MockClock autojump) and keeps it, so a test can check the attempt
schedule and that every losing socket was closed.  No test may leave a file
descriptor open (``no_fd_leak``), failed and cancelled connects included.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket as stdlib_socket
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


def ipv6_loopback_available() -> bool:
    try:
        with stdlib_socket.socket(stdlib_socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


needs_ipv6 = pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback")

ON_TETHER = os.environ.get("TETHER_TEST_IMPL", "tether") == "tether"


def xfail_on_tether(reason: str) -> pytest.MarkDecorator:
    """A tether bug: the test states trio's behaviour, so it passes on trio."""
    return pytest.mark.xfail(ON_TETHER, strict=True, reason=reason)


V4 = stdlib_socket.AF_INET
V6 = stdlib_socket.AF_INET6


# ---------------------------------------------------------------- loopback addresses


@contextlib.contextmanager
def listening_address(family: int = V4) -> Iterator[tuple[Any, ...]]:
    host = "127.0.0.1" if family == V4 else "::1"
    with stdlib_socket.socket(family) as sock:
        sock.bind((host, 0))
        sock.listen()
        yield sock.getsockname()


@contextlib.contextmanager
def refusing_address(host: str = "127.0.0.1") -> Iterator[tuple[Any, ...]]:
    # Bound (so nobody else takes the port) but not listening: RST at once.
    with stdlib_socket.socket() as sock:
        sock.bind((host, 0))
        yield sock.getsockname()


@contextlib.contextmanager
def unanswered_address(family: int = V4) -> Iterator[tuple[Any, ...]]:
    # listen(0) queues one connection; once it is taken, new SYNs are dropped
    # and a connect() stays in progress until it is cancelled.
    host = "127.0.0.1" if family == V4 else "::1"
    with stdlib_socket.socket(family) as full, stdlib_socket.socket(family) as occupant:
        full.bind((host, 0))
        full.listen(0)
        occupant.connect(full.getsockname())
        yield full.getsockname()


def entry(address: tuple[Any, ...]) -> tuple[Any, ...]:
    family = V6 if ":" in address[0] else V4
    return (family, stdlib_socket.SOCK_STREAM, stdlib_socket.IPPROTO_TCP, "", address)


# ---------------------------------------------------------------- resolver and factory


@contextlib.contextmanager
def resolving(impl: Any, table: dict[bytes, list[Any]]) -> Iterator[None]:
    """Answer getaddrinfo from ``table``; other names raise gaierror (no DNS)."""

    class TableResolver(impl.abc.HostnameResolver):
        async def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
            await impl.lowlevel.checkpoint()
            if host not in table:
                raise stdlib_socket.gaierror(stdlib_socket.EAI_NONAME, "Name or service not known")
            return table[host]

        async def getnameinfo(self, sockaddr, flags):
            raise NotImplementedError

    previous = impl.socket.set_custom_hostname_resolver(TableResolver())
    try:
        yield
    finally:
        impl.socket.set_custom_hostname_resolver(previous)


class Attempt:
    def __init__(self, time: float, family: int, sock: Any) -> None:
        self.time = time
        self.family = family
        self.sock = sock


@contextlib.contextmanager
def recording_sockets(impl: Any) -> Iterator[list[Attempt]]:
    """Make real sockets, noting the virtual time and family of each."""
    attempts: list[Attempt] = []

    class RecordingFactory(impl.abc.SocketFactory):
        def socket(self, family, type, proto):
            sock = impl.socket.from_stdlib_socket(stdlib_socket.socket(family, type, proto))
            attempts.append(Attempt(impl.current_time(), family, sock))
            return sock

    previous = impl.socket.set_custom_socket_factory(RecordingFactory())
    try:
        yield attempts
    finally:
        impl.socket.set_custom_socket_factory(previous)
        for attempt in attempts:
            attempt.sock.close()  # whatever the test left open


def leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in leaves(inner)]
    return [error]


# ---------------------------------------------------------------- open_tcp_stream: basics


async def echo_once(impl: Any, listener: Any, stream: Any) -> bytes:
    server = await listener.accept()
    async with server:
        await stream.send_all(b"ping")
        data = await server.receive_some()
        await server.send_all(data.upper())
        return await stream.receive_some()


def test_open_tcp_stream_connects_over_ipv4_loopback(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            port = listener.socket.getsockname()[1]
            stream = await impl.open_tcp_stream("127.0.0.1", port)
            async with stream:
                assert isinstance(stream, impl.SocketStream)
                assert stream.socket.getpeername() == ("127.0.0.1", port)
                assert stream.getsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY)
                assert await echo_once(impl, listener, stream) == b"PING"

    run(main)


@needs_ipv6
def test_open_tcp_stream_connects_over_ipv6_loopback(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="::1")
        async with listener:
            port = listener.socket.getsockname()[1]
            stream = await impl.open_tcp_stream("::1", port)
            async with stream:
                assert stream.socket.family == V6
                assert await echo_once(impl, listener, stream) == b"PING"

    run(main)


def test_open_tcp_stream_takes_a_bytes_host(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            port = listener.socket.getsockname()[1]
            async with await impl.open_tcp_stream(b"127.0.0.1", port) as stream:
                assert await echo_once(impl, listener, stream) == b"PING"

    run(main)


def test_open_tcp_stream_resolves_localhost(run, impl) -> None:
    # localhost may also resolve to ::1, where nothing listens: that attempt
    # is refused and the 127.0.0.1 one wins.
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            port = listener.socket.getsockname()[1]
            async with await impl.open_tcp_stream("localhost", port) as stream:
                assert stream.socket.getpeername() == ("127.0.0.1", port)

    run(main)


def test_open_tcp_stream_is_a_checkpoint(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            port = listener.socket.getsockname()[1]
            with impl.testing.assert_checkpoints():
                stream = await impl.open_tcp_stream("127.0.0.1", port)
            await stream.aclose()

    run(main)


def test_open_tcp_stream_connection_refused_reports_every_attempt(run, impl) -> None:
    async def main():
        with refusing_address() as first, refusing_address("127.0.0.2") as second:
            port = first[1]
            with resolving(impl, {b"peer.test": [entry(first), entry(second)]}):
                with pytest.raises(OSError) as caught:
                    await impl.open_tcp_stream("peer.test", port)
        error = caught.value
        assert f"all attempts to connect to peer.test:{port} failed" in str(error)
        assert isinstance(error.__cause__, ExceptionGroup)
        causes = leaves(error.__cause__)
        assert len(causes) == 2
        assert all(isinstance(cause, ConnectionRefusedError) for cause in causes)

    run(main)


def test_open_tcp_stream_refused_on_a_numeric_host(run, impl) -> None:
    async def main():
        with refusing_address() as address:
            with pytest.raises(OSError, match="all attempts to connect") as caught:
                await impl.open_tcp_stream(*address)
        [cause] = leaves(caught.value.__cause__)
        assert cause.errno == errno.ECONNREFUSED

    run(main)


def test_open_tcp_stream_of_an_unknown_host_raises_gaierror(run, impl) -> None:
    async def main():
        with resolving(impl, {}):
            with pytest.raises(impl.socket.gaierror):
                await impl.open_tcp_stream("nowhere.invalid", 80)

    run(main)


def test_open_tcp_stream_with_no_addresses_raises_oserror(run, impl) -> None:
    async def main():
        with resolving(impl, {b"empty.test": []}):
            with pytest.raises(OSError):
                await impl.open_tcp_stream("empty.test", 80)

    run(main)


def test_open_tcp_stream_rejects_a_non_string_host(run, impl) -> None:
    async def main():
        with pytest.raises(ValueError, match="host"):
            await impl.open_tcp_stream(127, 80)

    run(main)


def test_open_tcp_stream_rejects_a_str_port(run, impl) -> None:
    async def main():
        with pytest.raises(TypeError, match="port"):
            await impl.open_tcp_stream("127.0.0.1", "80")

    run(main)


@pytest.mark.trio_differs
@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_open_tcp_stream_rejects_a_port_out_of_range(run, impl, port) -> None:
    async def main():
        with pytest.raises(ValueError, match="port") as caught:
            await impl.open_tcp_stream("127.0.0.1", port)
        assert repr(port) in str(caught.value)

    run(main)


def test_open_tcp_stream_from_a_local_address(run, impl) -> None:
    async def main():
        with listening_address() as address:
            stream = await impl.open_tcp_stream(*address, local_address="127.0.0.2")
            async with stream:
                assert stream.socket.getsockname()[0] == "127.0.0.2"

    run(main)


def test_open_tcp_stream_with_an_incompatible_local_address_fails(run, impl) -> None:
    async def main():
        with listening_address() as address:
            with pytest.raises(OSError, match="all attempts to connect") as caught:
                await impl.open_tcp_stream(*address, local_address="::1")
        [cause] = leaves(caught.value.__cause__)
        assert "local_address='::1'" in str(cause)

    run(main)


# ---------------------------------------------------------------- Happy Eyeballs


def test_a_refused_attempt_starts_the_next_at_once(run, impl) -> None:
    async def main():
        with refusing_address("127.0.0.2") as refused, listening_address() as good:
            table = {b"peer.test": [entry(refused), entry(good)]}
            with resolving(impl, table), recording_sockets(impl) as attempts:
                stream = await impl.open_tcp_stream("peer.test", good[1])
                async with stream:
                    assert stream.socket.getpeername() == good
                    assert [a.time for a in attempts] == [0, 0]
                    assert attempts[1].sock is stream.socket
                    assert attempts[0].sock.fileno() == -1

    run(main)


@pytest.mark.parametrize("delay", [None, 0.25, 1.5], ids=["default", "0.25", "1.5"])
def test_the_next_attempt_starts_after_happy_eyeballs_delay(run, impl, delay) -> None:
    async def main():
        with unanswered_address() as hanging, listening_address() as good:
            table = {b"peer.test": [entry(hanging), entry(good)]}
            kwargs = {} if delay is None else {"happy_eyeballs_delay": delay}
            with resolving(impl, table), recording_sockets(impl) as attempts:
                stream = await impl.open_tcp_stream("peer.test", good[1], **kwargs)
                async with stream:
                    assert stream.socket.getpeername() == good
                    assert [a.time for a in attempts] == [0, 0.25 if delay is None else delay]
                    assert attempts[1].sock is stream.socket
                    assert attempts[0].sock.fileno() == -1  # the loser was closed

    run(main)


def test_delays_and_failures_combine_in_the_attempt_schedule(run, impl) -> None:
    # hanging: wait 0.25 s; refused: the next starts at once; listening wins.
    async def main():
        with (
            unanswered_address() as hanging,
            refusing_address("127.0.0.2") as refused,
            listening_address() as good,
        ):
            table = {b"peer.test": [entry(hanging), entry(refused), entry(good)]}
            with resolving(impl, table), recording_sockets(impl) as attempts:
                async with await impl.open_tcp_stream("peer.test", good[1]) as stream:
                    assert stream.socket.getpeername() == good
                    assert [a.time for a in attempts] == [0, 0.25, 0.25]
                    assert [a.sock.fileno() == -1 for a in attempts] == [True, True, False]

    run(main)


@pytest.mark.trio_differs  # trio 0.35 treats None as the default 0.25 s, against its docs
def test_happy_eyeballs_delay_none_waits_for_each_attempt_to_fail(run, impl) -> None:
    async def main():
        with unanswered_address() as hanging, listening_address() as good:
            table = {b"peer.test": [entry(hanging), entry(good)]}
            with resolving(impl, table), recording_sockets(impl) as attempts:
                with impl.move_on_after(100) as scope:
                    await impl.open_tcp_stream("peer.test", good[1], happy_eyeballs_delay=None)
                assert scope.cancelled_caught
                assert [a.time for a in attempts] == [0]
                assert attempts[0].sock.fileno() == -1

    run(main)


def test_cancelling_open_tcp_stream_closes_every_attempt(run, impl) -> None:
    async def main():
        with unanswered_address() as hanging:
            table = {b"peer.test": [entry(hanging)] * 3}
            with resolving(impl, table), recording_sockets(impl) as attempts:
                with impl.move_on_after(10) as scope:
                    await impl.open_tcp_stream("peer.test", hanging[1])
                assert scope.cancelled_caught
                assert [a.time for a in attempts] == [0, 0.25, 0.5]
                assert all(a.sock.fileno() == -1 for a in attempts)

    run(main)


@needs_ipv6
def test_the_second_attempt_uses_the_other_address_family(run, impl) -> None:
    # RFC 6555 section 5.4, as trio does it: the first address of the other
    # family moves up to second place; the rest keep the resolver's order.
    async def main():
        with unanswered_address(V6) as six, unanswered_address(V4) as four:
            table = {b"peer.test": [entry(six)] * 3 + [entry(four)] * 2}
            with resolving(impl, table), recording_sockets(impl) as attempts:
                with impl.move_on_after(10):
                    await impl.open_tcp_stream("peer.test", 80)
                return [attempt.family for attempt in attempts]

    assert run(main) == [V6, V4, V6, V6, V4]


# ---------------------------------------------------------------- open_tcp_listeners


def test_open_tcp_listeners_port_zero_picks_a_free_port(run, impl) -> None:
    async def main():
        listeners = await impl.open_tcp_listeners(0, host="127.0.0.1")
        [listener] = listeners
        async with listener:
            assert isinstance(listener, impl.SocketListener)
            host, port = listener.socket.getsockname()
            assert host == "127.0.0.1" and port != 0
            assert listener.socket.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_ACCEPTCONN)

    run(main)


def test_open_tcp_listeners_accepts_connections(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1", backlog=5)
        async with listener:
            with impl.socket.socket() as client:
                await client.connect(listener.socket.getsockname())
                async with await listener.accept() as server:
                    await client.send(b"hi")
                    assert await server.receive_some() == b"hi"

    run(main)


def test_open_tcp_listeners_sets_so_reuseaddr(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            assert listener.socket.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR)

    run(main)


@needs_ipv6
def test_open_tcp_listeners_on_ipv6_sets_v6only(run, impl) -> None:
    async def main():
        [listener] = await impl.open_tcp_listeners(0, host="::1")
        async with listener:
            assert listener.socket.family == V6
            assert listener.socket.getsockopt(stdlib_socket.IPPROTO_IPV6, stdlib_socket.IPV6_V6ONLY)

    run(main)


def test_open_tcp_listeners_without_host_listens_on_the_wildcard_addresses(run, impl) -> None:
    async def main():
        listeners = await impl.open_tcp_listeners(0)
        try:
            hosts = {listener.socket.getsockname()[0] for listener in listeners}
            assert "0.0.0.0" in hosts
            assert hosts <= {"0.0.0.0", "::"}
        finally:
            for listener in listeners:
                await listener.aclose()

    run(main)


def test_open_tcp_listeners_on_a_busy_port_raises_and_leaks_nothing(run, impl) -> None:
    async def main():
        with listening_address() as busy:
            with pytest.raises(OSError) as caught:
                await impl.open_tcp_listeners(busy[1], host="127.0.0.1")
        assert caught.value.errno == errno.EADDRINUSE

    run(main)


def test_open_tcp_listeners_rejects_a_str_port(run, impl) -> None:
    async def main():
        with pytest.raises(TypeError, match="port") as caught:
            await impl.open_tcp_listeners("8080")
        assert "'8080'" in str(caught.value)

    run(main)


@pytest.mark.trio_differs
@pytest.mark.parametrize("port", [-1, 65536, 70000])
def test_open_tcp_listeners_rejects_a_port_out_of_range(run, impl, port) -> None:
    async def main():
        with pytest.raises(ValueError, match="port") as caught:
            await impl.open_tcp_listeners(port, host="127.0.0.1")
        assert repr(port) in str(caught.value)

    run(main)
