"""Black-box tests of ``trio.socket``: making sockets, SocketType, name resolution.

Real loopback I/O (TCP, UDP and Unix socketpairs) in virtual time: loopback
delivers within the sending system call, so a peer is readable as soon as
``send`` returns.  Tasks are ordered with ``wait_all_tasks_blocked``.  The
custom resolver and socket factory are per-run state in trio (a RunVar), so
every test sets them inside ``run`` and restores the previous one in a
``finally``.  No test may leave a file descriptor open (``no_fd_leak``).
"""

from __future__ import annotations

import array
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


# ---------------------------------------------------------------- helpers


@contextlib.contextmanager
def custom_resolver(impl: Any, resolver: Any) -> Iterator[Any]:
    previous = impl.socket.set_custom_hostname_resolver(resolver)
    try:
        yield resolver
    finally:
        impl.socket.set_custom_hostname_resolver(previous)


@contextlib.contextmanager
def custom_socket_factory(impl: Any, factory: Any) -> Iterator[Any]:
    previous = impl.socket.set_custom_socket_factory(factory)
    try:
        yield factory
    finally:
        impl.socket.set_custom_socket_factory(previous)


def make_resolver(impl: Any, table: dict[bytes, list[Any]] | None = None) -> Any:
    """A HostnameResolver that records each query and answers from ``table``.

    A name missing from the table raises ``gaierror(EAI_NONAME)``, so no test
    depends on DNS.
    """

    class RecordingResolver(impl.abc.HostnameResolver):
        def __init__(self) -> None:
            self.queries: list[tuple[Any, ...]] = []

        async def getaddrinfo(self, host, port, family=0, type=0, proto=0, flags=0):
            self.queries.append((host, port, family, type, proto, flags))
            await impl.lowlevel.checkpoint()
            if table is None or host not in table:
                raise stdlib_socket.gaierror(stdlib_socket.EAI_NONAME, "Name or service not known")
            return table[host]

        async def getnameinfo(self, sockaddr, flags):
            self.queries.append((sockaddr, flags))
            await impl.lowlevel.checkpoint()
            return ("peer.test", "echo")

    return RecordingResolver()


def loopback_entry(port: int, host: str = "127.0.0.1") -> tuple[Any, ...]:
    return (
        stdlib_socket.AF_INET,
        stdlib_socket.SOCK_STREAM,
        stdlib_socket.IPPROTO_TCP,
        "",
        (host, port),
    )


async def udp_pair(impl: Any) -> tuple[Any, Any]:
    first = impl.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
    second = impl.socket.socket(stdlib_socket.AF_INET, stdlib_socket.SOCK_DGRAM)
    await first.bind(("127.0.0.1", 0))
    await second.bind(("127.0.0.1", 0))
    return first, second


async def tcp_pair(impl: Any) -> tuple[Any, Any]:
    """A connected (client, server) pair of TCP sockets over 127.0.0.1."""
    with impl.socket.socket() as listener:
        await listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        client = impl.socket.socket()
        await client.connect(listener.getsockname())
        server, _ = await listener.accept()
    return client, server


# ---------------------------------------------------------------- making sockets


def test_socket_defaults_to_ipv4_tcp(run, impl) -> None:
    async def main():
        with impl.socket.socket() as sock:
            assert isinstance(sock, impl.socket.SocketType)
            assert sock.family == stdlib_socket.AF_INET
            assert sock.type == stdlib_socket.SOCK_STREAM
            assert sock.proto == 0

    run(main)


def test_socket_takes_family_and_type(run, impl) -> None:
    async def main():
        with impl.socket.socket(stdlib_socket.AF_INET6, stdlib_socket.SOCK_DGRAM) as sock:
            assert sock.family == stdlib_socket.AF_INET6
            assert sock.type == stdlib_socket.SOCK_DGRAM

    run(main)


def test_socket_from_fileno_reads_family_and_type_from_the_fd(run, impl) -> None:
    async def main():
        raw = stdlib_socket.socket(stdlib_socket.AF_INET6, stdlib_socket.SOCK_DGRAM)
        with impl.socket.socket(fileno=raw.detach()) as sock:
            assert sock.family == stdlib_socket.AF_INET6
            assert sock.type == stdlib_socket.SOCK_DGRAM

    run(main)


def test_socket_outside_a_run_raises_runtime_error(impl) -> None:
    # The socket factory is per-run state, so socket() needs a run.
    with pytest.raises(RuntimeError):
        impl.socket.socket()


def test_socket_from_fileno_works_outside_a_run(impl) -> None:
    raw = stdlib_socket.socket()
    with impl.socket.socket(fileno=raw.detach()) as sock:
        assert sock.family == stdlib_socket.AF_INET


@pytest.mark.parametrize("setter", ["set_custom_hostname_resolver", "set_custom_socket_factory"])
def test_custom_resolver_and_factory_setters_need_a_run(impl, setter) -> None:
    with pytest.raises(RuntimeError):
        getattr(impl.socket, setter)(None)


def test_socket_type_has_no_public_constructor(impl) -> None:
    with pytest.raises(TypeError, match="socket"):
        impl.socket.SocketType()


def test_socketpair_is_connected(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            assert isinstance(left, impl.socket.SocketType)
            await left.send(b"ping")
            assert await right.recv(10) == b"ping"

    run(main)


def test_socketpair_takes_a_type(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair(type=stdlib_socket.SOCK_DGRAM)
        with left, right:
            assert left.type == stdlib_socket.SOCK_DGRAM
            await left.send(b"one")
            await left.send(b"two")
            assert await right.recv(10) == b"one"
            assert await right.recv(10) == b"two"

    run(main)


def test_from_stdlib_socket_wraps_the_same_fd_and_makes_it_nonblocking(run, impl) -> None:
    async def main():
        raw = stdlib_socket.socket()
        with impl.socket.from_stdlib_socket(raw) as sock:
            assert sock.fileno() == raw.fileno()
            assert raw.getblocking() is False
        assert raw.fileno() == -1  # closing the wrapper closes the socket

    run(main)


def test_from_stdlib_socket_rejects_other_objects(impl) -> None:
    with pytest.raises(TypeError):
        impl.socket.from_stdlib_socket(3)


def test_fromfd_duplicates_the_fd(run, impl) -> None:
    async def main():
        left, right = stdlib_socket.socketpair()
        with left, right:
            with impl.socket.fromfd(left.fileno(), stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM) as sock:
                assert sock.fileno() != left.fileno()
                await sock.send(b"via the copy")
                assert right.recv(100) == b"via the copy"
            left.send(b"original still open")
            assert right.recv(100) == b"original still open"

    run(main)


# ---------------------------------------------------------------- sync methods


def test_getsockname_and_getpeername(run, impl) -> None:
    async def main():
        client, server = await tcp_pair(impl)
        with client, server:
            assert client.getpeername() == server.getsockname()
            assert server.getpeername() == client.getsockname()
            assert client.getsockname()[0] == "127.0.0.1"

    run(main)


def test_setsockopt_then_getsockopt(run, impl) -> None:
    async def main():
        with impl.socket.socket() as sock:
            assert not sock.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE)
            sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE, 1)
            assert sock.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE)
            raw = sock.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_KEEPALIVE, 4)
            assert isinstance(raw, bytes) and len(raw) == 4

    run(main)


def test_listen_makes_the_socket_accept_connections(run, impl) -> None:
    async def main():
        with impl.socket.socket() as sock:
            await sock.bind(("127.0.0.1", 0))
            assert not sock.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_ACCEPTCONN)
            sock.listen()
            assert sock.getsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_ACCEPTCONN)

    run(main)


@pytest.mark.parametrize(
    ("how", "sets_flag"),
    [
        (stdlib_socket.SHUT_WR, True),
        (stdlib_socket.SHUT_RDWR, True),
        (stdlib_socket.SHUT_RD, False),
    ],
    ids=["SHUT_WR", "SHUT_RDWR", "SHUT_RD"],
)
def test_shutdown_sets_did_shutdown_shut_wr(run, impl, how, sets_flag) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            assert left.did_shutdown_SHUT_WR is False
            left.shutdown(how)
            assert left.did_shutdown_SHUT_WR is sets_flag

    run(main)


def test_shutdown_shut_wr_sends_eof_and_keeps_receiving(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            left.shutdown(stdlib_socket.SHUT_WR)
            assert await right.recv(10) == b""
            await right.send(b"still flowing back")
            assert await left.recv(100) == b"still flowing back"

    run(main)


def test_send_after_shutdown_raises_broken_pipe_at_once(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            left.shutdown(stdlib_socket.SHUT_WR)
            with pytest.raises(BrokenPipeError):
                await left.send(b"x")

    run(main)


def test_dup_is_an_independent_socket_on_the_same_connection(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            copy = left.dup()
            assert isinstance(copy, impl.socket.SocketType)
            assert copy.fileno() != left.fileno()
            await copy.send(b"from the copy")
            copy.close()
            await left.send(b"; original")
            assert await right.recv(100) == b"from the copy; original"

    run(main)


def test_detach_returns_the_fd_and_leaves_it_open(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with right:
            fd = left.fileno()
            assert left.detach() == fd
            assert left.fileno() == -1
            try:
                os.write(fd, b"raw")
                assert await right.recv(10) == b"raw"
            finally:
                os.close(fd)
            left.close()  # a detached socket has nothing to close

    run(main)


def test_close_is_idempotent_and_clears_fileno(run, impl) -> None:
    async def main():
        sock = impl.socket.socket()
        sock.close()
        assert sock.fileno() == -1
        sock.close()

    run(main)


def test_context_manager_returns_the_socket_and_closes_it(run, impl) -> None:
    async def main():
        sock = impl.socket.socket()
        with sock as entered:
            assert entered is sock
            assert sock.fileno() != -1
        assert sock.fileno() == -1

    run(main)


def test_is_readable_reports_data_and_eof(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left:
            assert not left.is_readable()
            await right.send(b"x")
            assert left.is_readable()
            assert await left.recv(1) == b"x"
            assert not left.is_readable()
            right.close()
            assert left.is_readable()  # EOF counts as readable

    run(main)


def test_inheritable_flag_round_trips(run, impl) -> None:
    async def main():
        with impl.socket.socket() as sock:
            assert sock.get_inheritable() is False
            sock.set_inheritable(True)
            assert sock.get_inheritable() is True

    run(main)


# ---------------------------------------------------------------- async I/O


def test_recv_waits_for_data(run, impl) -> None:
    events: list[Any] = []

    async def main():
        left, right = impl.socket.socketpair()
        with left, right:

            async def receiver():
                events.append(await left.recv(10))

            async with impl.open_nursery() as nursery:
                nursery.start_soon(receiver)
                await impl.testing.wait_all_tasks_blocked()
                events.append("sending")
                await right.send(b"late")
        assert events == ["sending", b"late"]

    run(main)


def test_recv_with_msg_peek_leaves_the_data(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            await right.send(b"peek")
            assert await left.recv(10, stdlib_socket.MSG_PEEK) == b"peek"
            assert await left.recv(10) == b"peek"

    run(main)


def test_recv_into_fills_the_buffer(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            await right.send(b"abcdef")
            buffer = bytearray(10)
            assert await left.recv_into(buffer, 4) == 4
            assert buffer[:4] == b"abcd"
            assert await left.recv_into(buffer) == 2
            assert buffer[:2] == b"ef"

    run(main)


def test_udp_sendto_and_recvfrom(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            assert await first.sendto(b"datagram", second.getsockname()) == 8
            data, address = await second.recvfrom(100)
            assert (data, address) == (b"datagram", first.getsockname())

    run(main)


def test_udp_sendto_with_flags(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            await first.sendto(b"flagged", 0, second.getsockname())
            assert await second.recv(100) == b"flagged"

    run(main)


def test_udp_recvfrom_into(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            await first.sendto(b"into", second.getsockname())
            buffer = bytearray(16)
            count, address = await second.recvfrom_into(buffer)
            assert (bytes(buffer[:count]), address) == (b"into", first.getsockname())

    run(main)


def test_udp_sendmsg_and_recvmsg(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            sent = await first.sendmsg([b"two ", b"parts"], [], 0, second.getsockname())
            assert sent == 9
            data, ancdata, flags, address = await second.recvmsg(100)
            assert (data, ancdata, flags) == (b"two parts", [], 0)
            assert address == first.getsockname()

    run(main)


def test_udp_recvmsg_into_scatters_over_buffers(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            await first.sendto(b"abcdefgh", second.getsockname())
            head, tail = bytearray(3), bytearray(10)
            count, _, _, address = await second.recvmsg_into([head, tail])
            assert count == 8
            assert (bytes(head), bytes(tail[:5])) == (b"abc", b"defgh")
            assert address == first.getsockname()

    run(main)


def test_sendmsg_passes_a_file_descriptor_over_a_unix_socket(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair(stdlib_socket.AF_UNIX)
        read_end, write_end = os.pipe()
        with left, right:
            try:
                fds = array.array("i", [write_end])
                await left.sendmsg([b"fd"], [(stdlib_socket.SOL_SOCKET, stdlib_socket.SCM_RIGHTS, fds)])
            finally:
                os.close(write_end)
            data, ancdata, _, _ = await right.recvmsg(10, stdlib_socket.CMSG_LEN(fds.itemsize))
            assert data == b"fd"
            [(level, kind, payload)] = ancdata
            assert (level, kind) == (stdlib_socket.SOL_SOCKET, stdlib_socket.SCM_RIGHTS)
            received = array.array("i", payload)[0]
            os.write(received, b"through the passed fd")
            os.close(received)
            assert os.read(read_end, 100) == b"through the passed fd"
            os.close(read_end)

    run(main)


def test_tcp_send_and_recv_over_loopback(run, impl) -> None:
    async def main():
        client, server = await tcp_pair(impl)
        with client, server:
            assert await client.send(b"hello") == 5
            assert await server.recv(100) == b"hello"
            await server.send(b"back")
            assert await client.recv(100) == b"back"

    run(main)


def test_accept_returns_a_socket_and_the_peer_address(run, impl) -> None:
    async def main():
        with impl.socket.socket() as listener, impl.socket.socket() as client:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            await client.connect(listener.getsockname())
            server, address = await listener.accept()
            with server:
                assert isinstance(server, impl.socket.SocketType)
                assert address == client.getsockname()

    run(main)


def test_accept_waits_for_a_connection(run, impl) -> None:
    events: list[str] = []

    async def main():
        with impl.socket.socket() as listener, impl.socket.socket() as client:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()

            async def acceptor():
                server, _ = await listener.accept()
                server.close()
                events.append("accepted")

            async with impl.open_nursery() as nursery:
                nursery.start_soon(acceptor)
                await impl.testing.wait_all_tasks_blocked()
                events.append("connecting")
                await client.connect(listener.getsockname())
        assert events == ["connecting", "accepted"]

    run(main)


def test_cancelled_blocked_accept_loses_no_connection(run, impl) -> None:
    async def main():
        with impl.socket.socket() as listener, impl.socket.socket() as client:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            with impl.move_on_after(1) as scope:
                await listener.accept()
            assert scope.cancelled_caught
            await client.connect(listener.getsockname())
            server, address = await listener.accept()
            with server:
                assert address == client.getsockname()

    run(main)


def test_cancelled_blocked_send_sends_nothing_and_the_socket_still_works(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            sent = 0
            while True:  # fill the buffer; the last send blocks and is cancelled
                with impl.move_on_after(1) as scope:
                    sent += await left.send(b"x" * 65536)
                if scope.cancelled_caught:
                    break
            received = 0
            while received < sent:
                received += len(await right.recv(1 << 20))
            assert received == sent
            assert not right.is_readable()
            await left.send(b"more")
            assert await right.recv(10) == b"more"

    run(main)


def test_connect_to_a_closed_port_raises_connection_refused(run, impl) -> None:
    async def main():
        with impl.socket.socket() as probe:
            await probe.bind(("127.0.0.1", 0))
            address = probe.getsockname()  # bound, never listening: refuses
            with impl.socket.socket() as sock:
                with pytest.raises(ConnectionRefusedError):
                    await sock.connect(address)

    run(main)


def test_connect_cancelled_while_in_progress_closes_the_socket(run, impl) -> None:
    # A listener whose backlog is full drops new SYNs: connect() hangs.
    async def main():
        with stdlib_socket.socket() as full, stdlib_socket.socket() as occupant:
            full.bind(("127.0.0.1", 0))
            full.listen(0)
            occupant.connect(full.getsockname())
            sock = impl.socket.socket()
            with impl.move_on_after(5) as scope:
                await sock.connect(full.getsockname())
            assert scope.cancelled_caught
            assert impl.current_time() == 5
            assert sock.fileno() == -1

    run(main)


def test_close_wakes_a_blocked_recv_with_closed_resource_error(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with right:

            async def receiver():
                with pytest.raises(impl.ClosedResourceError):
                    await left.recv(10)

            async with impl.open_nursery() as nursery:
                nursery.start_soon(receiver)
                await impl.testing.wait_all_tasks_blocked()
                left.close()

    run(main)


def test_recv_on_a_closed_socket_raises_oserror_ebadf(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with right:
            left.close()
            with pytest.raises(OSError) as caught:
                await left.recv(10)
            assert caught.value.errno == errno.EBADF

    run(main)


def test_bind_and_connect_resolve_names_through_the_resolver(run, impl) -> None:
    async def main():
        with impl.socket.socket() as listener:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            port = listener.getsockname()[1]
            resolver = make_resolver(impl, {b"peer.test": [loopback_entry(port)]})
            with custom_resolver(impl, resolver), impl.socket.socket() as client:
                await client.connect(("peer.test", port))
                assert client.getpeername() == ("127.0.0.1", port)
                assert resolver.queries[0][:2] == (b"peer.test", port)
                server, _ = await listener.accept()
                server.close()

    run(main)


def test_sendto_resolves_the_address(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            port = second.getsockname()[1]
            entry = (
                stdlib_socket.AF_INET,
                stdlib_socket.SOCK_DGRAM,
                stdlib_socket.IPPROTO_UDP,
                "",
                ("127.0.0.1", port),
            )
            resolver = make_resolver(impl, {b"peer.test": [entry]})
            with custom_resolver(impl, resolver):
                await first.sendto(b"named", ("peer.test", port))
            assert await second.recv(100) == b"named"

    run(main)


# ---------------------------------------------------------------- checkpoints


def test_recv_with_data_ready_is_a_checkpoint(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            await right.send(b"ready")
            with impl.testing.assert_checkpoints():
                assert await left.recv(10) == b"ready"

    run(main)


def test_recvfrom_with_data_ready_is_a_checkpoint(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            await first.sendto(b"ready", second.getsockname())
            with impl.testing.assert_checkpoints():
                await second.recvfrom(10)

    run(main)


def test_send_is_a_checkpoint(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            with impl.testing.assert_checkpoints():
                await left.send(b"x")

    run(main)


def test_sendto_is_a_checkpoint(run, impl) -> None:
    async def main():
        first, second = await udp_pair(impl)
        with first, second:
            with impl.testing.assert_checkpoints():
                await first.sendto(b"x", second.getsockname())

    run(main)


def test_accept_with_a_pending_connection_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.socket.socket() as listener, impl.socket.socket() as client:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            await client.connect(listener.getsockname())
            accepted = []
            try:
                with impl.testing.assert_checkpoints():
                    accepted.append(await listener.accept())
            finally:
                for server, _ in accepted:
                    server.close()

    run(main)


def test_connect_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.socket.socket() as listener, impl.socket.socket() as client:
            await listener.bind(("127.0.0.1", 0))
            listener.listen()
            with impl.testing.assert_checkpoints():
                await client.connect(listener.getsockname())

    run(main)


def test_bind_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.socket.socket() as sock:
            with impl.testing.assert_checkpoints():
                await sock.bind(("127.0.0.1", 0))

    run(main)


def test_recv_in_a_cancelled_scope_raises_and_leaves_the_data(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            await right.send(b"kept")
            with impl.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(impl.Cancelled):
                    await left.recv(10)
            assert await left.recv(10) == b"kept"

    run(main)


def test_send_in_a_cancelled_scope_sends_nothing(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            with impl.CancelScope() as scope:
                scope.cancel()
                with pytest.raises(impl.Cancelled):
                    await left.send(b"dropped")
            assert not right.is_readable()

    run(main)


def test_cancelled_blocked_recv_loses_nothing(run, impl) -> None:
    async def main():
        left, right = impl.socket.socketpair()
        with left, right:
            with impl.move_on_after(1):
                await left.recv(10)
            await right.send(b"after")
            assert await left.recv(10) == b"after"

    run(main)


# ---------------------------------------------------------------- name resolution


def test_getaddrinfo_on_a_numeric_ipv4_host(run, impl) -> None:
    async def main():
        return await impl.socket.getaddrinfo("127.0.0.1", 80, type=stdlib_socket.SOCK_STREAM)

    [(family, kind, _, _, address)] = run(main)
    assert (family, kind, address) == (stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM, ("127.0.0.1", 80))


def test_getaddrinfo_on_a_numeric_ipv6_host(run, impl) -> None:
    async def main():
        return await impl.socket.getaddrinfo("::1", 80, type=stdlib_socket.SOCK_STREAM)

    [(family, _, _, _, address)] = run(main)
    assert family == stdlib_socket.AF_INET6
    assert address[:2] == ("::1", 80)


def test_getaddrinfo_on_a_numeric_host_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.socket.getaddrinfo("127.0.0.1", 80)

    run(main)


def test_getaddrinfo_on_a_numeric_host_skips_the_custom_resolver(run, impl) -> None:
    async def main():
        resolver = make_resolver(impl)
        with custom_resolver(impl, resolver):
            result = await impl.socket.getaddrinfo("127.0.0.1", 80)
        assert result
        assert resolver.queries == []

    run(main)


def test_getaddrinfo_resolves_localhost_in_a_worker_thread(run, impl) -> None:
    async def main():
        return await impl.socket.getaddrinfo("localhost", 80, type=stdlib_socket.SOCK_STREAM)

    addresses = {entry[4][0] for entry in run(main)}
    assert addresses and addresses <= {"127.0.0.1", "::1"}


def test_getaddrinfo_idna_encodes_a_non_ascii_name_for_the_resolver(run, impl) -> None:
    async def main():
        resolver = make_resolver(impl, {b"xn--bcher-kva.example": [loopback_entry(80)]})
        with custom_resolver(impl, resolver):
            result = await impl.socket.getaddrinfo("Bücher.example", 80)
        assert result == [loopback_entry(80)]
        assert resolver.queries == [(b"xn--bcher-kva.example", 80, 0, 0, 0, 0)]

    run(main)


def test_getaddrinfo_passes_bytes_and_arguments_to_the_resolver_unchanged(run, impl) -> None:
    async def main():
        resolver = make_resolver(impl, {b"peer.test": [loopback_entry(80)]})
        with custom_resolver(impl, resolver):
            await impl.socket.getaddrinfo(
                b"peer.test", "http", stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM, 6, 0
            )
        assert resolver.queries == [
            (b"peer.test", "http", stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM, 6, 0)
        ]

    run(main)


def test_getaddrinfo_of_an_unknown_host_raises_gaierror(run, impl) -> None:
    async def main():
        with custom_resolver(impl, make_resolver(impl)):
            with pytest.raises(impl.socket.gaierror) as caught:
                await impl.socket.getaddrinfo("nowhere.invalid", 80)
        assert caught.value.errno == stdlib_socket.EAI_NONAME

    run(main)


def test_getprotobyname(run, impl) -> None:
    async def main():
        return await impl.socket.getprotobyname("tcp")

    assert run(main) == stdlib_socket.IPPROTO_TCP


def test_gaierror_is_the_socket_modules_own(impl) -> None:
    assert impl.socket.gaierror is stdlib_socket.gaierror


def test_getnameinfo_goes_through_the_resolver(run, impl) -> None:
    async def main():
        resolver = make_resolver(impl)
        with custom_resolver(impl, resolver):
            names = await impl.socket.getnameinfo(("127.0.0.1", 7), 0)
        assert names == ("peer.test", "echo")
        assert resolver.queries == [(("127.0.0.1", 7), 0)]

    run(main)


def test_set_custom_hostname_resolver_returns_the_previous_one(run, impl) -> None:
    async def main():
        first, second = make_resolver(impl), make_resolver(impl)
        previous = impl.socket.set_custom_hostname_resolver(first)
        try:
            assert impl.socket.set_custom_hostname_resolver(second) is first
            assert impl.socket.set_custom_hostname_resolver(None) is second
        finally:
            impl.socket.set_custom_hostname_resolver(previous)

    run(main)


def test_custom_hostname_resolver_lasts_for_one_run(run, impl) -> None:
    async def set_and_keep():
        impl.socket.set_custom_hostname_resolver(make_resolver(impl))

    async def next_run():
        return impl.socket.set_custom_hostname_resolver(None)

    run(set_and_keep)
    assert run(next_run) is None


def test_set_custom_socket_factory_routes_socket_calls(run, impl) -> None:
    made: list[tuple[int, int, int]] = []

    class Factory(impl.abc.SocketFactory):
        def socket(self, family, type, proto):
            made.append((family, type, proto))
            return impl.socket.from_stdlib_socket(stdlib_socket.socket(family, type, proto))

    async def main():
        factory = Factory()
        with custom_socket_factory(impl, factory):
            with impl.socket.socket() as sock:
                assert isinstance(sock, impl.socket.SocketType)
            with impl.socket.socket(stdlib_socket.AF_INET6, stdlib_socket.SOCK_DGRAM):
                pass
            assert impl.socket.set_custom_socket_factory(factory) is factory

    run(main)
    assert made == [
        (stdlib_socket.AF_INET, stdlib_socket.SOCK_STREAM, 0),
        (stdlib_socket.AF_INET6, stdlib_socket.SOCK_DGRAM, 0),
    ]


def test_socket_from_fileno_bypasses_the_socket_factory(run, impl) -> None:
    class RefusingFactory(impl.abc.SocketFactory):
        def socket(self, family, type, proto):
            raise AssertionError("the factory must not be called for fileno=")

    async def main():
        with custom_socket_factory(impl, RefusingFactory()):
            raw = stdlib_socket.socket()
            with impl.socket.socket(fileno=raw.detach()) as sock:
                assert sock.family == stdlib_socket.AF_INET

    run(main)
