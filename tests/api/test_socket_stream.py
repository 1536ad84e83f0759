"""Black-box tests of SocketStream and SocketListener over real loopback sockets.

Streams are made from ``trio.socket`` sockets (not ``open_tcp_stream``), so
these tests do not depend on the TCP helpers.  Virtual time: a move_on_after
around a blocked call cancels it as soon as every task is blocked.  To make
``send_all`` block, more data is sent than the socket buffers hold while
nobody reads.  (Shrunk buffers are avoided: with a tiny receive window on a
64 KiB-MSS loopback the sender can stall on zero-window probes for seconds.)
No test may leave a file descriptor open.
"""

from __future__ import annotations

import os
import socket as stdlib_socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest

# Far more than loopback socket buffers hold: a send_all of this blocks.
BIG = 64 * 1024 * 1024


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, f"file descriptors leaked: {sorted(leaked)}"


# ---------------------------------------------------------------- helpers


async def tcp_stream_pair(impl: Any) -> tuple[Any, Any]:
    """A connected (client, server) pair of SocketStreams over 127.0.0.1."""
    with impl.socket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = impl.socket.socket()
        await client.connect(listener.getsockname())
        server, _ = await listener.accept()
    return impl.SocketStream(client), impl.SocketStream(server)


async def unix_stream_pair(impl: Any) -> tuple[Any, Any]:
    left, right = impl.socket.socketpair(stdlib_socket.AF_UNIX)
    return impl.SocketStream(left), impl.SocketStream(right)


async def receive_until_eof(stream: Any) -> bytes:
    received = bytearray()
    while chunk := await stream.receive_some():
        received += chunk
    return bytes(received)


async def receive_exactly(stream: Any, count: int) -> bytes:
    received = bytearray()
    while len(received) < count:
        chunk = await stream.receive_some(count - len(received))
        assert chunk, "unexpected EOF"
        received += chunk
    return bytes(received)


async def listening_socket(impl: Any) -> Any:
    sock = impl.socket.socket()
    await sock.bind(("127.0.0.1", 0))
    sock.listen()
    return sock


# ---------------------------------------------------------------- construction


def test_socket_stream_turns_on_tcp_nodelay(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            for stream in (client, server):
                assert stream.socket.getsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY)
                assert stream.getsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY)

    run(main)


def test_socket_stream_accepts_a_unix_stream_socket(run, impl) -> None:
    async def main():
        left, right = await unix_stream_pair(impl)
        async with left, right:
            await left.send_all(b"unix")
            assert await right.receive_some() == b"unix"

    run(main)


def test_socket_stream_keeps_its_socket(run, impl) -> None:
    async def main():
        sock, other = impl.socket.socketpair()
        with other:
            stream = impl.SocketStream(sock)
            async with stream:
                assert stream.socket is sock

    run(main)


def test_socket_stream_rejects_a_datagram_socket(run, impl) -> None:
    async def main():
        with impl.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match="SOCK_STREAM"):
                impl.SocketStream(sock)

    run(main)


def test_socket_stream_rejects_a_stdlib_socket(impl) -> None:
    with stdlib_socket.socket() as sock:
        with pytest.raises(TypeError, match="socket"):
            impl.SocketStream(sock)


def test_socket_stream_setsockopt_reaches_the_socket(run, impl) -> None:
    async def main():
        left, right = await unix_stream_pair(impl)
        async with left, right:
            left.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE, 1)
            assert left.socket.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE)
            raw = left.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE, 4)
            assert struct.unpack("i", raw) == (1,)

    run(main)


# ---------------------------------------------------------------- data transfer


def test_send_all_delivers_everything_in_order(run, impl) -> None:
    payload = bytes(range(256)) * 16384  # 4 MiB, more than the buffers hold

    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            received: list[bytes] = []

            async def reader():
                received.append(await receive_until_eof(server))

            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader)
                await client.send_all(payload)
                await client.send_eof()
            assert received == [payload]

    run(main)


def test_send_all_accepts_bytearray_and_memoryview(run, impl) -> None:
    async def main():
        left, right = await unix_stream_pair(impl)
        async with left, right:
            await left.send_all(bytearray(b"ab"))
            await left.send_all(memoryview(b"xcdx")[1:3])
            assert await receive_exactly(right, 4) == b"abcd"

    run(main)


@pytest.mark.trio_differs
def test_send_all_of_a_large_multibyte_memoryview_sends_every_byte(run, impl) -> None:
    # Regression: partial sends of a memoryview whose items are wider than a
    # byte resumed at an item offset, not a byte offset (trio 0.35 still
    # does: see docs/differences.md).
    import array

    items = array.array("i", range(1 << 20))  # 4 MiB: needs several sends
    expected = items.tobytes()

    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            received: list[bytes] = []

            async def reader():
                received.append(await receive_until_eof(server))

            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader)
                await client.send_all(memoryview(items))
                await client.send_eof()
            assert received == [expected]

    run(main)


def test_send_all_of_a_str_raises_type_error(run, impl) -> None:
    async def main():
        left, right = await unix_stream_pair(impl)
        async with left, right:
            with pytest.raises(TypeError):
                await left.send_all("text")

    run(main)


def test_receive_some_respects_max_bytes(run, impl) -> None:
    async def main():
        left, right = await unix_stream_pair(impl)
        async with left, right:
            await left.send_all(b"abcdef")
            assert await right.receive_some(4) == b"abcd"
            assert await right.receive_some(4) == b"ef"

    run(main)


@pytest.mark.parametrize("max_bytes", [0, -1])
def test_receive_some_of_less_than_one_byte_raises_value_error(run, impl, max_bytes) -> None:
    async def main():
        left, right = await unix_stream_pair(impl)
        async with left, right:
            with pytest.raises(ValueError):
                await right.receive_some(max_bytes)

    run(main)


def test_receive_some_waits_for_data(run, impl) -> None:
    events: list[Any] = []

    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:

            async def reader():
                events.append(await server.receive_some())

            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader)
                await impl.testing.wait_all_tasks_blocked()
                events.append("sending")
                await client.send_all(b"late")
        assert events == ["sending", b"late"]

    run(main)


def test_receive_some_returns_empty_bytes_at_eof(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            await client.send_all(b"last words")
            await client.aclose()
            assert await receive_until_eof(server) == b"last words"
            assert await server.receive_some() == b""  # and again

    run(main)


def test_send_eof_half_closes_a_tcp_stream(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            await client.send_all(b"request")
            await client.send_eof()
            assert client.socket.did_shutdown_SHUT_WR
            assert await receive_until_eof(server) == b"request"
            await server.send_all(b"response")
            await server.send_eof()
            assert await receive_until_eof(client) == b"response"

    run(main)


def test_send_eof_twice_is_allowed(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            await client.send_eof()
            await client.send_eof()
            assert await server.receive_some() == b""

    run(main)


def test_send_all_after_send_eof_raises_closed_resource_error(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            await client.send_eof()
            with pytest.raises(impl.ClosedResourceError):
                await client.send_all(b"too late")

    run(main)


def test_wait_send_all_might_not_block_returns_when_writable(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.testing.assert_checkpoints():
                await client.wait_send_all_might_not_block()

    run(main)


def test_wait_send_all_might_not_block_waits_while_the_buffer_is_full(run, impl) -> None:
    events: list[str] = []

    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.move_on_after(1):
                await client.send_all(b"x" * BIG)  # fills the buffers, then is cancelled

            async def waiter():
                await client.wait_send_all_might_not_block()
                events.append("writable")
                await client.send_eof()

            async with impl.open_nursery() as nursery:
                nursery.start_soon(waiter)
                await impl.testing.wait_all_tasks_blocked()
                events.append("draining")
                await receive_until_eof(server)
        assert events == ["draining", "writable"]

    run(main)


# ---------------------------------------------------------------- broken connections


def reset_on_close(stream: Any) -> None:
    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
    stream.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_LINGER, struct.pack("ii", 1, 0))


def test_receive_some_after_a_reset_raises_broken_resource_error(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            reset_on_close(client)
            await client.aclose()
            with pytest.raises(impl.BrokenResourceError):
                await server.receive_some()

    run(main)


def test_send_all_after_a_reset_raises_broken_resource_error(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            reset_on_close(client)
            await client.aclose()
            with pytest.raises(impl.BrokenResourceError):
                await server.send_all(b"into the void")

    run(main)


# ---------------------------------------------------------------- closing


def test_every_call_after_aclose_raises_closed_resource_error(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            await client.aclose()
            with pytest.raises(impl.ClosedResourceError):
                await client.send_all(b"x")
            with pytest.raises(impl.ClosedResourceError):
                await client.receive_some()
            with pytest.raises(impl.ClosedResourceError):
                await client.send_eof()
            with pytest.raises(impl.ClosedResourceError):
                await client.wait_send_all_might_not_block()
            await client.aclose()  # idempotent

    run(main)


def test_aclose_wakes_a_blocked_receive_some(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client:

            async def reader():
                with pytest.raises(impl.ClosedResourceError):
                    await server.receive_some()

            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader)
                await impl.testing.wait_all_tasks_blocked()
                await server.aclose()

    run(main)


def test_aclose_wakes_a_blocked_send_all(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:

            async def writer():
                with pytest.raises(impl.ClosedResourceError):
                    await client.send_all(b"x" * BIG)

            async with impl.open_nursery() as nursery:
                nursery.start_soon(writer)
                await impl.testing.wait_all_tasks_blocked()
                await client.aclose()

    run(main)


def test_aclose_when_cancelled_still_closes(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            with impl.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(impl.Cancelled):
                    await client.aclose()
            assert client.socket.fileno() == -1

    run(main)


# ---------------------------------------------------------------- concurrent use


def test_concurrent_send_all_raises_busy_resource_error(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(client.send_all, b"x" * BIG)
                await impl.testing.wait_all_tasks_blocked()
                with pytest.raises(impl.BusyResourceError):
                    await client.send_all(b"y")
                with pytest.raises(impl.BusyResourceError):
                    await client.wait_send_all_might_not_block()
                with pytest.raises(impl.BusyResourceError):
                    await client.send_eof()
                nursery.cancel_scope.cancel()

    run(main)


def test_concurrent_receive_some_raises_busy_resource_error(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(server.receive_some)
                await impl.testing.wait_all_tasks_blocked()
                with pytest.raises(impl.BusyResourceError):
                    await server.receive_some()
                nursery.cancel_scope.cancel()

    run(main)


def test_sending_and_receiving_at_once_is_allowed(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            received: list[bytes] = []

            async def reader():
                received.append(await client.receive_some())

            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader)
                await impl.testing.wait_all_tasks_blocked()
                await client.send_all(b"ping")
                assert await server.receive_some() == b"ping"
                await server.send_all(b"pong")
            assert received == [b"pong"]

    run(main)


# ---------------------------------------------------------------- checkpoints


def test_send_all_is_a_checkpoint(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.testing.assert_checkpoints():
                await client.send_all(b"fits in the buffer")

    run(main)


def test_send_all_of_nothing_is_a_checkpoint(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.testing.assert_checkpoints():
                await client.send_all(b"")

    run(main)


def test_receive_some_with_data_ready_is_a_checkpoint(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            await client.send_all(b"ready")
            with impl.testing.assert_checkpoints():
                assert await server.receive_some() == b"ready"

    run(main)


def test_send_eof_is_a_checkpoint(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.testing.assert_checkpoints():
                await client.send_eof()

    run(main)


def test_aclose_is_a_checkpoint(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            with impl.testing.assert_checkpoints():
                await client.aclose()

    run(main)


# ---------------------------------------------------------------- cancellation


def test_receive_some_in_a_cancelled_scope_keeps_the_data(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            await client.send_all(b"kept")
            with impl.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(impl.Cancelled):
                    await server.receive_some()
            assert await server.receive_some() == b"kept"

    run(main)


def test_send_all_in_a_cancelled_scope_sends_nothing(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with server:
            with impl.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(impl.Cancelled):
                    await client.send_all(b"dropped")
            await client.aclose()
            assert await server.receive_some() == b""

    run(main)


def test_cancelled_blocked_receive_some_loses_nothing(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.move_on_after(1) as scope:
                await server.receive_some()
            assert scope.cancelled_caught
            await client.send_all(b"sent after the cancel")
            assert await receive_exactly(server, 21) == b"sent after the cancel"

    run(main)


def test_send_all_cancelled_mid_way_leaves_a_stream_that_does_not_hang(run, impl) -> None:
    async def main():
        client, server = await tcp_stream_pair(impl)
        async with client, server:
            with impl.move_on_after(1) as scope:
                await client.send_all(b"x" * BIG)
            assert scope.cancelled_caught
            received: list[bytes] = []

            async def reader():
                received.append(await receive_until_eof(server))

            # What went out is unspecified; later calls must still finish.
            async with impl.open_nursery() as nursery:
                nursery.start_soon(reader)
                await client.send_all(b"the end")
                await client.send_eof()
            [data] = received
            assert 0 < len(data) < BIG + 7
            assert data.endswith(b"the end")

    run(main)


# ---------------------------------------------------------------- SocketListener


def test_socket_listener_accepts_a_socket_stream(run, impl) -> None:
    async def main():
        listener = impl.SocketListener(await listening_socket(impl))
        async with listener:
            with impl.socket.socket() as client:
                await client.connect(listener.socket.getsockname())
                stream = await listener.accept()
                async with stream:
                    assert isinstance(stream, impl.SocketStream)
                    assert stream.socket.getpeername() == client.getsockname()
                    assert stream.getsockopt(stdlib_socket.IPPROTO_TCP, stdlib_socket.TCP_NODELAY)

    run(main)


def test_socket_listener_accept_waits_for_a_connection(run, impl) -> None:
    events: list[str] = []

    async def main():
        listener = impl.SocketListener(await listening_socket(impl))
        async with listener:

            async def acceptor():
                stream = await listener.accept()
                await stream.aclose()
                events.append("accepted")

            with impl.socket.socket() as client:
                async with impl.open_nursery() as nursery:
                    nursery.start_soon(acceptor)
                    await impl.testing.wait_all_tasks_blocked()
                    events.append("connecting")
                    await client.connect(listener.socket.getsockname())
        assert events == ["connecting", "accepted"]

    run(main)


def test_socket_listener_accept_with_a_pending_connection_is_a_checkpoint(run, impl) -> None:
    async def main():
        listener = impl.SocketListener(await listening_socket(impl))
        async with listener:
            with impl.socket.socket() as client:
                await client.connect(listener.socket.getsockname())
                accepted = []
                try:
                    with impl.testing.assert_checkpoints():
                        accepted.append(await listener.accept())
                finally:
                    for stream in accepted:
                        await stream.aclose()

    run(main)


def test_socket_listener_cancelled_accept_loses_no_connection(run, impl) -> None:
    async def main():
        listener = impl.SocketListener(await listening_socket(impl))
        async with listener:
            with impl.move_on_after(1) as scope:
                await listener.accept()
            assert scope.cancelled_caught
            with impl.socket.socket() as client:
                await client.connect(listener.socket.getsockname())
                async with await listener.accept() as stream:
                    assert stream.socket.getpeername() == client.getsockname()

    run(main)


def test_socket_listener_requires_a_listening_socket(run, impl) -> None:
    async def main():
        with impl.socket.socket() as sock:
            await sock.bind(("127.0.0.1", 0))
            with pytest.raises(ValueError, match="listening"):
                impl.SocketListener(sock)

    run(main)


def test_socket_listener_requires_a_stream_socket(run, impl) -> None:
    async def main():
        with impl.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM) as sock:
            with pytest.raises(ValueError, match="SOCK_STREAM"):
                impl.SocketListener(sock)

    run(main)


def test_socket_listener_rejects_a_stdlib_socket(impl) -> None:
    with stdlib_socket.socket() as sock:
        with pytest.raises(TypeError):
            impl.SocketListener(sock)


def test_socket_listener_accept_after_aclose_raises_closed_resource_error(run, impl) -> None:
    async def main():
        listener = impl.SocketListener(await listening_socket(impl))
        await listener.aclose()
        assert listener.socket.fileno() == -1
        with pytest.raises(impl.ClosedResourceError):
            await listener.accept()
        await listener.aclose()  # idempotent

    run(main)


def test_socket_listener_aclose_wakes_a_blocked_accept(run, impl) -> None:
    async def main():
        listener = impl.SocketListener(await listening_socket(impl))

        async def acceptor():
            with pytest.raises(impl.ClosedResourceError):
                await listener.accept()

        async with impl.open_nursery() as nursery:
            nursery.start_soon(acceptor)
            await impl.testing.wait_all_tasks_blocked()
            await listener.aclose()

    run(main)


def test_socket_listener_aclose_is_a_checkpoint(run, impl) -> None:
    async def main():
        listener = impl.SocketListener(await listening_socket(impl))
        with impl.testing.assert_checkpoints():
            await listener.aclose()

    run(main)


# ---------------------------------------------------------------- conformance suites


def require_check(impl: Any, name: str) -> Any:
    if not hasattr(impl.testing, name):
        pytest.skip(f"{impl.__name__}.testing.{name} does not exist yet")
    return getattr(impl.testing, name)


async def clogged_tcp_stream_pair(impl: Any) -> tuple[Any, Any]:
    """A pair full in both directions: send_all would block on either side."""
    client, server = await tcp_stream_pair(impl)
    for stream in (client, server):
        while True:
            with impl.move_on_after(1) as scope:
                await stream.socket.send(b"x" * 65536)
            if scope.cancelled_caught:
                break
    return client, server


def test_socket_stream_passes_check_half_closeable_stream(run, impl) -> None:
    check = require_check(impl, "check_half_closeable_stream")

    async def main():
        await check(
            lambda: tcp_stream_pair(impl),
            lambda: clogged_tcp_stream_pair(impl),
        )

    run(main)


def test_unix_socket_stream_passes_check_two_way_stream(run, impl) -> None:
    check = require_check(impl, "check_two_way_stream")

    async def main():
        await check(lambda: unix_stream_pair(impl), None)

    run(main)
