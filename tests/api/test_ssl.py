"""Black-box tests of SSLStream, SSLListener and the SSL-over-TCP helpers.

TLS runs over memory streams (buffered) and lockstep streams (no buffer at
all, which is where deadlocks hide), in virtual time: a deadlock becomes
TooSlowError under ``fail_after``.  Certificates come from ``trustme``.  The
TCP tests use loopback only and check for leaked file descriptors.
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Callable, Iterator
from types import ModuleType
from typing import Any

import pytest
import trustme

Run = Callable[..., Any]

DEADLOCK_TIMEOUT = 1000


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def server_cert(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("localhost", "127.0.0.1")


@pytest.fixture
def server_ctx(server_cert: trustme.LeafCert) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_cert.configure_cert(context)
    return context


@pytest.fixture
def client_ctx(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(params=["TLSv1.3", "TLSv1.2"])
def tls_version(request: pytest.FixtureRequest, client_ctx: ssl.SSLContext) -> str:
    """Runs the test with each TLS version (the client caps it)."""
    if request.param == "TLSv1.2":
        client_ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    return str(request.param)


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def no_fd_leak() -> Iterator[None]:
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, f"file descriptors leaked: {sorted(leaked)}"


def ssl_pair(
    impl: ModuleType,
    client_ctx: ssl.SSLContext,
    server_ctx: ssl.SSLContext,
    *,
    lockstep: bool = False,
    client_kwargs: dict[str, Any] | None = None,
    server_kwargs: dict[str, Any] | None = None,
) -> tuple[Any, Any]:
    """(client, server) SSLStreams over a memory (or lockstep) stream pair."""
    pair = impl.testing.lockstep_stream_pair() if lockstep else impl.testing.memory_stream_pair()
    client = impl.SSLStream(pair[0], client_ctx, server_hostname="localhost", **(client_kwargs or {}))
    server = impl.SSLStream(pair[1], server_ctx, server_side=True, **(server_kwargs or {}))
    return client, server


async def handshake_both(impl: ModuleType, client: Any, server: Any) -> None:
    async with impl.open_nursery() as nursery:
        nursery.start_soon(client.do_handshake)
        nursery.start_soon(server.do_handshake)


async def echo_until_eof(stream: Any) -> None:
    while True:
        data = await stream.receive_some()
        if not data:
            return
        await stream.send_all(data)


# ---------------------------------------------------------------- conformance


def test_ssl_stream_passes_check_two_way_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    async def stream_maker() -> Any:
        return ssl_pair(impl, client_ctx, server_ctx)

    async def clogged_stream_maker() -> Any:
        # Handshake first: a clogged send must be clogged by the transport,
        # not by a handshake the peer has not started.
        client, server = ssl_pair(impl, client_ctx, server_ctx, lockstep=True)
        await handshake_both(impl, client, server)
        return client, server

    async def main() -> None:
        with impl.fail_after(DEADLOCK_TIMEOUT):
            await impl.testing.check_two_way_stream(stream_maker, clogged_stream_maker)

    run(main)


def test_ssl_over_lockstep_transport_moves_data_both_ways(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    # No buffering anywhere: the handshake, TLS 1.3 session tickets and
    # echoed data must all get through without both ends sending at once.
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx, lockstep=True)
        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(echo_until_eof, server)
                for message in (b"a", b"bb" * 5000, b"ccc"):
                    await client.send_all(message)
                    got = b""
                    while len(got) < len(message):
                        got += await client.receive_some()
                    assert got == message
                nursery.cancel_scope.cancel()

    run(main)


def test_ssl_over_ssl_works(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        outer_client, outer_server = ssl_pair(impl, client_ctx, server_ctx)
        client = impl.SSLStream(outer_client, client_ctx, server_hostname="localhost")
        server = impl.SSLStream(outer_server, server_ctx, server_side=True)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(echo_until_eof, server)
            await client.send_all(b"inner")
            assert await client.receive_some() == b"inner"
            await client.aclose()

    run(main)


# ---------------------------------------------------------------- handshake and attributes


def test_handshake_happens_on_first_use(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"hello")
            assert await server.receive_some() == b"hello"
        assert client.version() == server.version() == tls_version

    run(main)


def test_peer_details_after_handshake(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    client_ctx.set_alpn_protocols(["h2", "http/1.1"])
    server_ctx.set_alpn_protocols(["http/1.1"])

    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        certificate = client.getpeercert()
        assert ("DNS", "localhost") in certificate["subjectAltName"]
        assert isinstance(client.getpeercert(True), bytes)
        assert server.getpeercert() is None  # no client certificate asked for
        assert client.selected_alpn_protocol() == server.selected_alpn_protocol() == "http/1.1"
        name, protocol, bits = client.cipher()
        assert isinstance(name, str) and protocol == client.version() and bits >= 128
        assert client.compression() is None
        assert client.session_reused is False
        assert server.shared_ciphers()
        assert client.pending() == 0

    run(main)


@pytest.mark.parametrize(
    "name",
    [
        "getpeercert",
        "cipher",
        "version",
        "selected_alpn_protocol",
        "shared_ciphers",
        "compression",
        "get_channel_binding",
    ],
)
def test_peer_details_before_handshake_raise_need_handshake_error(
    impl: ModuleType, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, name: str
) -> None:
    client, _server = ssl_pair(impl, client_ctx, server_ctx)
    with pytest.raises(impl.NeedHandshakeError, match=name):
        getattr(client, name)()


def test_session_reused_before_handshake_raises_need_handshake_error(
    impl: ModuleType, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    client, _server = ssl_pair(impl, client_ctx, server_ctx)
    with pytest.raises(impl.NeedHandshakeError):
        client.session_reused


def test_attributes_available_before_handshake(
    impl: ModuleType, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    client, server = ssl_pair(impl, client_ctx, server_ctx)
    assert client.server_side is False and server.server_side is True
    assert client.server_hostname == "localhost" and server.server_hostname is None
    assert client.context is client_ctx
    assert client.session is None
    assert client.pending() == 0
    assert isinstance(client, impl.abc.Stream)
    assert isinstance(client.transport_stream, impl.StapledStream)
    assert isinstance(client._ssl_object, ssl.SSLObject)  # httpcore reads it
    assert issubclass(impl.NeedHandshakeError, Exception)


def test_bytes_server_hostname_is_accepted(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        left, right = impl.testing.memory_stream_pair()
        client = impl.SSLStream(left, client_ctx, server_hostname=b"localhost")
        server = impl.SSLStream(right, server_ctx, server_side=True)
        assert client.server_hostname == "localhost"
        await handshake_both(impl, client, server)

    run(main)


def test_session_can_be_resumed(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    # With TLS 1.3 the tickets arrive after the handshake, with the server's
    # first data: they must not be lost.
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(echo_until_eof, server)
            await client.send_all(b"x")
            assert await client.receive_some() == b"x"
            await client.aclose()
        session = client.session
        assert session is not None

        client, server = ssl_pair(impl, client_ctx, server_ctx)
        client.session = session
        await handshake_both(impl, client, server)
        assert client.session_reused is True
        assert server.session_reused is True

    run(main)


def test_do_handshake_is_a_checkpoint_even_when_done(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        with impl.testing.assert_checkpoints():
            await client.do_handshake()

    run(main)


def test_concurrent_do_handshake_calls_share_one_handshake(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    done: list[str] = []

    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)

        async def handshake(name: str, stream: Any) -> None:
            await stream.do_handshake()
            done.append(name)

        async with impl.open_nursery() as nursery:
            for name in ("client 1", "client 2"):
                nursery.start_soon(handshake, name, client)
            nursery.start_soon(client.send_all, b"x")  # also waits for the same handshake
            nursery.start_soon(handshake, "server", server)
        assert await server.receive_some() == b"x"

    run(main)
    assert sorted(done) == ["client 1", "client 2", "server"]


def test_untrusted_certificate_breaks_the_handshake(
    impl: ModuleType, run: Run, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, ssl.create_default_context(), server_ctx)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(server.do_handshake)
            with pytest.raises(impl.BrokenResourceError) as caught:
                await client.do_handshake()
            assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)
            nursery.cancel_scope.cancel()
        with pytest.raises(impl.BrokenResourceError):
            await client.send_all(b"x")
        with pytest.raises(impl.BrokenResourceError):
            await client.receive_some()
        await client.aclose()  # a broken stream still closes
        with pytest.raises(impl.ClosedResourceError):
            await client.send_all(b"x")

    run(main)


@pytest.mark.trio_differs  # trio leaves the other tasks waiting forever
def test_tasks_waiting_for_a_failed_handshake_get_broken_resource_error(
    impl: ModuleType, run: Run, server_ctx: ssl.SSLContext
) -> None:
    outcomes: list[str] = []

    async def main() -> None:
        client, server = ssl_pair(impl, ssl.create_default_context(), server_ctx)

        async def attempt(operation: Callable[[], Any]) -> None:
            try:
                await operation()
            except impl.BrokenResourceError:
                outcomes.append("broken")

        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(server.do_handshake)
                async with impl.open_nursery() as clients:
                    clients.start_soon(attempt, client.do_handshake)
                    clients.start_soon(attempt, client.do_handshake)
                    clients.start_soon(attempt, lambda: client.send_all(b"x"))
                nursery.cancel_scope.cancel()

    run(main)
    assert outcomes == ["broken"] * 3


def test_cancelled_handshake_breaks_the_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, _server = ssl_pair(impl, client_ctx, server_ctx)
        with impl.move_on_after(1):
            await client.do_handshake()  # the server never answers
        with pytest.raises(impl.BrokenResourceError):
            await client.do_handshake()
        await client.aclose()

    run(main)


# ---------------------------------------------------------------- sending and receiving


def test_send_all_of_a_str_raises_type_error(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        with pytest.raises(TypeError):
            await client.send_all("text")
        await client.send_all(b"still fine")
        assert await server.receive_some() == b"still fine"

    run(main)


def test_receive_some_returns_at_most_max_bytes(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"0123456789" * 100)
            assert await server.receive_some(10) == b"0123456789"
            rest = b""
            while len(rest) < 990:
                rest += await server.receive_some()
            assert rest == b"0123456789" * 99
        with pytest.raises(ValueError):
            await server.receive_some(0)
        with pytest.raises(TypeError):
            await server.receive_some(1.5)

    run(main)


def test_records_split_into_small_pieces_still_decrypt(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    # Every byte in both directions arrives in 7-byte pieces: TLS records
    # are cut everywhere, headers included.
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        halves = [
            (client.transport_stream.send_stream, server.transport_stream.receive_stream),
            (server.transport_stream.send_stream, client.transport_stream.receive_stream),
        ]
        for send_stream, _ in halves:
            send_stream.send_all_hook = None

        async def trickle() -> None:
            while True:
                moved = False
                for send_stream, receive_stream in halves:
                    moved |= impl.testing.memory_stream_pump(send_stream, receive_stream, max_bytes=7)
                await (impl.lowlevel.checkpoint() if moved else impl.sleep(1))

        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(trickle)
                nursery.start_soon(echo_until_eof, server)
                for message in (b"x", b"hello" * 1000):
                    await client.send_all(message)
                    got = b""
                    while len(got) < len(message):
                        got += await client.receive_some()
                    assert got == message
                nursery.cancel_scope.cancel()

    run(main)


def test_large_send_arrives_whole(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB: many TLS records

    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        got = bytearray()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.send_all, payload)
            while len(got) < len(payload):
                got += await server.receive_some()
        assert got == payload

    run(main)


def test_operations_are_checkpoints(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        with impl.testing.assert_checkpoints():
            await client.send_all(b"ab")
        with impl.testing.assert_checkpoints():
            assert await server.receive_some(1) == b"a"
        with impl.testing.assert_checkpoints():  # already decrypted: no transport I/O
            assert await server.receive_some(1) == b"b"
        with impl.testing.assert_checkpoints():
            await client.send_all(b"")
        with impl.testing.assert_checkpoints():
            await client.wait_send_all_might_not_block()
        with impl.testing.assert_checkpoints():
            await client.aclose()
        with impl.testing.assert_checkpoints():
            await client.aclose()

    run(main)


def test_cancelled_receive_leaves_the_stream_usable(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        with impl.move_on_after(1):
            await server.receive_some()
        await client.send_all(b"later")
        assert await server.receive_some() == b"later"

    run(main)


def test_wait_send_all_might_not_block_waits_for_the_transport(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    calls: list[float] = []

    async def main() -> None:
        client, _server = ssl_pair(impl, client_ctx, server_ctx)

        async def slow_hook() -> None:
            calls.append(impl.current_time())
            await impl.sleep(5)

        client.transport_stream.send_stream.wait_send_all_might_not_block_hook = slow_hook
        await client.wait_send_all_might_not_block()
        assert impl.current_time() == 5

    run(main)
    assert calls == [0]


def test_concurrent_use_raises_busy_resource_error(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.receive_some)
            await impl.testing.wait_all_tasks_blocked()
            with pytest.raises(impl.BusyResourceError):
                await client.receive_some()
            with pytest.raises(impl.BusyResourceError):
                await client.unwrap()
            nursery.cancel_scope.cancel()
        client.transport_stream.send_stream.send_all_hook = impl.sleep_forever
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"x")
            await impl.testing.wait_all_tasks_blocked()
            with pytest.raises(impl.BusyResourceError):
                await client.send_all(b"y")
            with pytest.raises(impl.BusyResourceError):
                await client.wait_send_all_might_not_block()
            nursery.cancel_scope.cancel()

    run(main)


def test_send_cancelled_inside_the_transport_breaks_the_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        client.transport_stream.send_stream.send_all_hook = impl.sleep_forever
        with impl.move_on_after(1):
            await client.send_all(b"x")
        with pytest.raises(impl.BrokenResourceError):
            await client.send_all(b"y")
        await client.aclose()

    run(main)


def test_transport_error_while_sending_propagates_and_breaks_the_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)

        async def failing_hook() -> None:
            raise KeyError("transport failed")

        client.transport_stream.send_stream.send_all_hook = failing_hook
        with pytest.raises(KeyError):
            await client.send_all(b"x")
        with pytest.raises(impl.BrokenResourceError):
            await client.send_all(b"y")
        with pytest.raises(impl.BrokenResourceError):
            await client.receive_some()
        await client.aclose()
        with pytest.raises(impl.ClosedResourceError):
            await client.receive_some()

    run(main)


# ---------------------------------------------------------------- closing


def test_graceful_close_gives_the_peer_a_clean_end_of_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)

        async def server_side() -> None:
            assert await server.receive_some(10) == b""
            assert await server.receive_some(10) == b""  # and again
            await server.aclose()

        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.aclose)
            nursery.start_soon(server_side)
        # Closing the SSLStream closed its transport.
        with pytest.raises(impl.ClosedResourceError):
            await client.transport_stream.send_all(b"123")
        for operation in (client.receive_some, client.do_handshake, client.unwrap, server.receive_some):
            with pytest.raises(impl.ClosedResourceError):
                await operation()
        with pytest.raises(impl.ClosedResourceError):
            await server.send_all(b"123")
        await client.aclose()

    run(main)


def close_notify_crossing(impl: ModuleType, run: Run, client: Any, server: Any) -> list[str]:
    """Both ends close at the same moment, each with a receive pending.

    Each close_notify crosses the other's, and nobody waits for a reply.
    Returns how each pending receive ended.
    """
    endings: list[str] = []

    async def receive(stream: Any) -> None:
        try:
            data = await stream.receive_some()
        except impl.ClosedResourceError:
            endings.append("closed")
        except impl.BrokenResourceError:
            endings.append("broken")
        else:
            assert data == b""
            endings.append("eof")

    async def main() -> None:
        await handshake_both(impl, client, server)
        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(receive, client)
                nursery.start_soon(receive, server)
                await impl.testing.wait_all_tasks_blocked()
                nursery.start_soon(client.aclose)
                nursery.start_soon(server.aclose)
        assert impl.current_time() == 0

    run(main)
    assert len(endings) == 2
    return endings


def test_close_notify_crossing_does_not_deadlock(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    endings = close_notify_crossing(impl, run, *ssl_pair(impl, client_ctx, server_ctx))
    assert set(endings) <= {"closed", "eof", "broken"}


@pytest.mark.trio_differs  # trio: BrokenResourceError when the peer's close_notify follows ours
def test_close_notify_crossing_is_a_clean_end_for_pending_receives(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    endings = close_notify_crossing(impl, run, *ssl_pair(impl, client_ctx, server_ctx))
    assert set(endings) <= {"closed", "eof"}


def test_both_ends_closing_without_receivers_finish(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(client.aclose)
                nursery.start_soon(server.aclose)

    run(main)


@pytest.mark.trio_differs  # trio waits for the peer to read
def test_graceful_close_while_a_task_waits_to_send(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    # The waiting task has the transport's sending side: the close cannot
    # send close_notify, but it must not wait for the peer either.
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx, lockstep=True)
        await handshake_both(impl, client, server)

        async def wait_until_closed() -> None:
            with pytest.raises(impl.ClosedResourceError):
                await client.wait_send_all_might_not_block()

        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(wait_until_closed)
                await impl.testing.wait_all_tasks_blocked()
                await client.aclose()
        assert impl.current_time() == 0

    run(main)


def test_graceful_close_before_handshake_gives_a_clean_end_of_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)

        async def server_side() -> None:
            assert await server.receive_some() == b""
            await server.aclose()

        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.aclose)
            nursery.start_soon(server_side)

    run(main)


def test_cancelled_aclose_closes_the_transport_forcefully(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, _server = ssl_pair(impl, client_ctx, server_ctx)
        with impl.move_on_after(1):
            await client.aclose()  # needs a handshake the server never answers
        assert impl.current_time() == 1
        with pytest.raises(impl.ClosedResourceError):
            await client.send_all(b"x")
        with pytest.raises(impl.ClosedResourceError):
            await client.transport_stream.send_all(b"x")

    run(main)


def test_truncated_close_is_broken_by_default(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        await server.transport_stream.aclose()  # no close_notify
        with pytest.raises(impl.BrokenResourceError) as caught:
            await client.receive_some()
        assert isinstance(caught.value.__cause__, ssl.SSLEOFError)

    run(main)


def test_truncated_close_is_end_of_stream_when_https_compatible(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(
            impl, client_ctx, server_ctx, client_kwargs={"https_compatible": True}
        )
        await handshake_both(impl, client, server)
        await server.transport_stream.aclose()
        assert await client.receive_some() == b""

    run(main)


def test_https_compatible_aclose_sends_no_close_notify(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    # A strict peer therefore sees a truncated stream.
    async def main() -> None:
        client, server = ssl_pair(
            impl, client_ctx, server_ctx, server_kwargs={"https_compatible": True}
        )
        await handshake_both(impl, client, server)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(server.aclose)
            with pytest.raises(impl.BrokenResourceError):
                await client.receive_some()

    run(main)


def test_https_compatible_close_before_handshake_is_end_of_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        kwargs = {"https_compatible": True}
        client, server = ssl_pair(impl, client_ctx, server_ctx, client_kwargs=kwargs, server_kwargs=kwargs)
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.aclose)  # no handshake, no close_notify
            assert await server.receive_some() == b""

    run(main)


def test_unwrap_returns_transport_and_trailing_bytes(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        to_client = server.transport_stream.send_stream
        to_client_pump = to_client.send_all_hook
        to_client.send_all_hook = None  # server-to-client bytes now move only when pumped
        results: dict[str, Any] = {}

        async def client_unwrap() -> None:
            results["client"] = await client.unwrap()

        async def server_unwrap_then_send_plaintext() -> None:
            transport, trailing = await server.unwrap()
            assert trailing == b""
            await transport.send_all(b"plain")
            results["server transport"] = transport

        async with impl.open_nursery() as nursery:
            nursery.start_soon(client_unwrap)
            nursery.start_soon(server_unwrap_then_send_plaintext)
            await impl.testing.wait_all_tasks_blocked()
            # close_notify and the plaintext after it arrive together.
            impl.testing.memory_stream_pump(to_client, client.transport_stream.receive_stream)
            to_client.send_all_hook = to_client_pump
        transport, trailing = results["client"]
        assert trailing == b"plain"
        assert isinstance(transport, impl.StapledStream)
        assert client.transport_stream is None
        await transport.send_all(b"reply")
        assert await results["server transport"].receive_some() == b"reply"
        with pytest.raises(impl.ClosedResourceError):
            await client.send_all(b"x")
        await client.aclose()  # already closed: fine

    run(main)


def test_unwrap_crossing_on_both_ends(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext, tls_version: str
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        results: list[Any] = []

        async def unwrap(stream: Any) -> None:
            results.append(await stream.unwrap())

        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(unwrap, client)
                nursery.start_soon(unwrap, server)
        assert [trailing for _, trailing in results] == [b"", b""]

    run(main)


# ---------------------------------------------------------------- misbehaving peers


def test_garbage_during_handshake_breaks_the_stream(
    impl: ModuleType, run: Run, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        raw, transport = impl.testing.memory_stream_pair()
        server = impl.SSLStream(transport, server_ctx, server_side=True)
        await raw.send_all(b"GET / HTTP/1.0\r\n\r\n")
        with pytest.raises(impl.BrokenResourceError) as caught:
            await server.receive_some()
        assert isinstance(caught.value.__cause__, ssl.SSLError)
        with pytest.raises(impl.BrokenResourceError):
            await server.send_all(b"x")
        await server.aclose()

    run(main)


def test_garbage_after_handshake_breaks_the_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, client_ctx, server_ctx)
        await handshake_both(impl, client, server)
        await client.transport_stream.send_all(b"\x17\x03\x03\x00\x05hello")
        with pytest.raises(impl.BrokenResourceError) as caught:
            await server.receive_some()
        assert isinstance(caught.value.__cause__, ssl.SSLError)

    run(main)


def test_garbage_is_broken_even_when_https_compatible(
    impl: ModuleType, run: Run, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        raw, transport = impl.testing.memory_stream_pair()
        server = impl.SSLStream(transport, server_ctx, server_side=True, https_compatible=True)
        await raw.send_all(b"\x00" * 100)
        with pytest.raises(impl.BrokenResourceError):
            await server.receive_some()

    run(main)


def memory_listener(impl: ModuleType) -> Any:
    """A Listener handing out the server ends of memory stream pairs; ``connect()`` makes one."""

    class MemoryListener(impl.abc.Listener):  # type: ignore[misc]
        def __init__(self) -> None:
            self.send_channel, self.receive_channel = impl.open_memory_channel(float("inf"))
            self.closed = False

        def connect(self) -> Any:
            client_end, server_end = impl.testing.memory_stream_pair()
            self.send_channel.send_nowait(server_end)
            return client_end

        async def accept(self) -> Any:
            return await self.receive_channel.receive()

        async def aclose(self) -> None:
            self.closed = True
            await impl.lowlevel.checkpoint()

    return MemoryListener()


def test_ssl_listener_wraps_accepted_streams(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        transport_listener = memory_listener(impl)
        listener = impl.SSLListener(transport_listener, server_ctx, https_compatible=True)
        assert isinstance(listener, impl.abc.Listener)
        assert listener.transport_listener is transport_listener
        client = impl.SSLStream(transport_listener.connect(), client_ctx, server_hostname="localhost")
        server = await listener.accept()
        assert isinstance(server, impl.SSLStream)
        assert server.server_side is True
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"over tls")
            assert await server.receive_some() == b"over tls"
        await server.aclose()  # https_compatible: no close_notify, the client sees EOF
        with pytest.raises(impl.BrokenResourceError):
            await client.receive_some()
        await listener.aclose()
        assert transport_listener.closed

    run(main)


def test_garbage_from_one_client_breaks_only_its_connection(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    handled: list[object] = []

    async def main() -> None:
        transport_listener = memory_listener(impl)
        listener = impl.SSLListener(transport_listener, server_ctx)

        async def handler(stream: Any) -> None:
            try:
                handled.append(bytes(await stream.receive_some()))
                await stream.send_all(b"welcome")
            except impl.BrokenResourceError:
                handled.append("broken")

        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.serve_listeners, handler, [listener])
            await impl.testing.wait_all_tasks_blocked()
            await transport_listener.connect().send_all(b"garbage, not TLS")
            await impl.testing.wait_all_tasks_blocked()
            client = impl.SSLStream(transport_listener.connect(), client_ctx, server_hostname="localhost")
            await client.send_all(b"hello")
            assert await client.receive_some() == b"welcome"
            nursery.cancel_scope.cancel()

    run(main)
    assert handled == ["broken", b"hello"]


# ---------------------------------------------------------------- post-handshake traffic


@pytest.fixture
def client_cert_contexts(
    ca: trustme.CA, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """Contexts for TLS 1.3 post-handshake client authentication."""
    ca.issue_cert("client@example.org").configure_cert(client_ctx)
    client_ctx.post_handshake_auth = True
    ca.configure_trust(server_ctx)
    server_ctx.verify_mode = ssl.CERT_REQUIRED
    server_ctx.post_handshake_auth = True
    return client_ctx, server_ctx


async def post_handshake_auth_exchange(impl: ModuleType, client: Any, server: Any) -> None:
    """The server asks for the client's certificate mid-stream while the client echoes."""
    await handshake_both(impl, client, server)
    assert server.getpeercert() is None
    with impl.fail_after(DEADLOCK_TIMEOUT):
        async with impl.open_nursery() as nursery:
            nursery.start_soon(echo_until_eof, client)
            server._ssl_object.verify_client_post_handshake()
            await server.send_all(b"ping")
            assert await server.receive_some() == b"ping"
            assert ("email", "client@example.org") in server.getpeercert()["subjectAltName"]
            await server.send_all(b"again")
            assert await server.receive_some() == b"again"
            await server.aclose()


def test_post_handshake_authentication_mid_stream(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # The client's receive must send its certificate (a handshake message
    # in the middle of application data).
    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts)
        await post_handshake_auth_exchange(impl, client, server)

    run(main)


async def pha_with_a_send_in_flight(impl: ModuleType, client: Any, server: Any, early: list[object]) -> None:
    """The client's receive must answer a certificate request while its send_all holds the transport.

    The client's transport send is held until ``release`` is set; meanwhile
    its receive decrypts the request and has an answer to send.  ``early``
    gets what the receive returned before the send was released.
    """
    await handshake_both(impl, client, server)
    to_server = client.transport_stream.send_stream
    pump = to_server.send_all_hook
    release = impl.Event()

    async def held_pump() -> None:
        await release.wait()
        await pump()

    to_server.send_all_hook = held_pump
    received: list[object] = []

    async def receive() -> None:
        received.append(bytes(await client.receive_some()))

    with impl.fail_after(DEADLOCK_TIMEOUT):
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"app data")
            await impl.testing.wait_all_tasks_blocked()
            server._ssl_object.verify_client_post_handshake()
            await server.send_all(b"request")
            nursery.start_soon(receive)
            await impl.testing.wait_all_tasks_blocked()
            early.extend(received)
            release.set()
        got = b""
        while len(got) < len(b"app data"):
            got += await server.receive_some()
        assert got == b"app data"
        assert received == [b"request"]
        # The answer followed the application data: the server has the certificate.
        await client.send_all(b"!")
        assert await server.receive_some() == b"!"
        assert server.getpeercert() is not None


def test_a_receive_answering_the_peer_while_a_send_is_in_flight(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts)
        await pha_with_a_send_in_flight(impl, client, server, [])

    run(main)


@pytest.mark.trio_differs  # trio's receive waits for the send to finish
def test_a_receive_answering_the_peer_does_not_wait_for_a_send_in_flight(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    early: list[object] = []

    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts)
        await pha_with_a_send_in_flight(impl, client, server, early)

    run(main)
    assert early == [b"request"]


async def send_while_an_answer_is_in_flight(
    impl: ModuleType, client: Any, server: Any, *, cancel_send: bool
) -> None:
    """The client's send_all must wait while its receive's answer holds the transport.

    With ``cancel_send``, the waiting send_all is cancelled before the
    transport frees up; its bytes must still not corrupt the stream.
    """
    await handshake_both(impl, client, server)
    to_server = client.transport_stream.send_stream
    pump = to_server.send_all_hook
    release = impl.Event()

    async def held_pump() -> None:
        await release.wait()
        await pump()

    server._ssl_object.verify_client_post_handshake()
    await server.send_all(b"request")
    to_server.send_all_hook = held_pump
    send_scope = impl.CancelScope()

    async def send() -> None:
        with send_scope:
            await client.send_all(b"app data")

    with impl.fail_after(DEADLOCK_TIMEOUT):
        async with impl.open_nursery() as nursery:
            nursery.start_soon(client.receive_some)  # answers, and holds the transport
            await impl.testing.wait_all_tasks_blocked()
            nursery.start_soon(send)
            await impl.testing.wait_all_tasks_blocked()
            if cancel_send:
                send_scope.cancel()
                await impl.testing.wait_all_tasks_blocked()
            release.set()
        got = b""
        while len(got) < len(b"app data"):
            got += await server.receive_some()
        assert got == b"app data"
        await client.send_all(b"!")
        assert await server.receive_some() == b"!"
        assert server.getpeercert() is not None


def test_send_all_waits_for_an_answer_in_flight(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts)
        await send_while_an_answer_is_in_flight(impl, client, server, cancel_send=False)

    run(main)


@pytest.mark.trio_differs  # trio drops the encrypted bytes: the peer waits for them forever
def test_send_all_cancelled_while_waiting_for_the_transport_keeps_the_stream_intact(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts)
        await send_while_an_answer_is_in_flight(impl, client, server, cancel_send=True)

    run(main)


@pytest.mark.trio_differs  # trio gets stuck: the answer cannot go out during the wait
def test_a_receive_answering_the_peer_during_wait_send_all_might_not_block(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts)
        await handshake_both(impl, client, server)
        release = impl.Event()
        client.transport_stream.send_stream.wait_send_all_might_not_block_hook = release.wait
        server._ssl_object.verify_client_post_handshake()
        await server.send_all(b"request")
        with impl.fail_after(DEADLOCK_TIMEOUT):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(client.wait_send_all_might_not_block)
                await impl.testing.wait_all_tasks_blocked()
                assert await client.receive_some() == b"request"  # the answer waits for the transport
                release.set()
            # The wait sent the answer once the transport was free.
            await client.send_all(b"!")
            assert await server.receive_some() == b"!"
            assert server.getpeercert() is not None

    run(main)


@pytest.mark.trio_differs  # trio deadlocks: both ends end up in send_all
def test_post_handshake_authentication_over_an_unbuffered_transport(
    impl: ModuleType, run: Run, client_cert_contexts: tuple[ssl.SSLContext, ssl.SSLContext]
) -> None:
    # After the client's certificate the server queues fresh session
    # tickets while the client is busy sending: they must wait for the
    # server's next send, not block its receive.
    async def main() -> None:
        client, server = ssl_pair(impl, *client_cert_contexts, lockstep=True)
        await post_handshake_auth_exchange(impl, client, server)

    run(main)


# ---------------------------------------------------------------- TLS over TCP


@pytest.mark.usefixtures("no_fd_leak")
def test_open_ssl_over_tcp_stream_talks_to_ssl_listeners(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def main() -> None:
        listeners = await impl.open_ssl_over_tcp_listeners(0, server_ctx, host="127.0.0.1")
        assert len(listeners) == 1
        [listener] = listeners
        assert isinstance(listener, impl.SSLListener)
        assert isinstance(listener.transport_listener, impl.SocketListener)
        port = listener.transport_listener.socket.getsockname()[1]
        async with listener:
            client = await impl.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=client_ctx)
            assert isinstance(client, impl.SSLStream)
            assert isinstance(client.transport_stream, impl.SocketStream)
            async with client, await listener.accept() as server:
                async with impl.open_nursery() as nursery:
                    nursery.start_soon(client.send_all, b"over tcp")
                    assert await server.receive_some() == b"over tcp"
                await server.send_all(b"back")
                assert await client.receive_some() == b"back"

    run(main)


@pytest.mark.usefixtures("no_fd_leak")
def test_ssl_over_tcp_passes_check_two_way_stream(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    async def stream_maker() -> Any:
        [listener] = await impl.open_tcp_listeners(0, host="127.0.0.1")
        async with listener:
            client_transport = await impl.testing.open_stream_to_socket_listener(listener)
            server_transport = await listener.accept()
        client = impl.SSLStream(client_transport, client_ctx, server_hostname="localhost")
        return client, impl.SSLStream(server_transport, server_ctx, server_side=True)

    async def main() -> None:
        await impl.testing.check_two_way_stream(stream_maker, None)

    run(main)


@pytest.mark.usefixtures("no_fd_leak")
def test_serve_ssl_over_tcp_echoes_and_survives_a_garbage_client(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, server_ctx: ssl.SSLContext
) -> None:
    handled: list[object] = []

    async def handler(stream: Any) -> None:
        try:
            data = await stream.receive_some()
            handled.append(bytes(data))
            await stream.send_all(data.upper())
        except impl.BrokenResourceError:
            handled.append("broken")

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            listeners = await nursery.start(impl.serve_ssl_over_tcp, handler, 0, server_ctx)
            port = listeners[0].transport_listener.socket.getsockname()[1]
            async with await impl.open_tcp_stream("127.0.0.1", port) as raw:
                await raw.send_all(b"GET / HTTP/1.0\r\n\r\n")
                with contextlib.suppress(impl.BrokenResourceError):
                    assert await raw.receive_some() == b""  # the server hangs up
            async with await impl.open_ssl_over_tcp_stream(
                "127.0.0.1", port, ssl_context=client_ctx
            ) as client:
                await client.send_all(b"shout")
                assert await client.receive_some() == b"SHOUT"
            nursery.cancel_scope.cancel()

    run(main)
    assert handled == ["broken", b"shout"]


@pytest.mark.usefixtures("no_fd_leak")
def test_open_ssl_over_tcp_stream_checks_the_hostname(
    impl: ModuleType, run: Run, client_ctx: ssl.SSLContext, ca: trustme.CA
) -> None:
    other_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("elsewhere.example").configure_cert(other_ctx)

    async def handshake_expecting_failure(server: Any) -> None:
        with pytest.raises(impl.BrokenResourceError):
            await server.do_handshake()

    async def main() -> None:
        [listener] = await impl.open_ssl_over_tcp_listeners(0, other_ctx, host="127.0.0.1")
        port = listener.transport_listener.socket.getsockname()[1]
        async with listener:
            client = await impl.open_ssl_over_tcp_stream("127.0.0.1", port, ssl_context=client_ctx)
            async with await listener.accept() as server:

                async with impl.open_nursery() as nursery:
                    nursery.start_soon(handshake_expecting_failure, server)
                    with pytest.raises(impl.BrokenResourceError) as caught:
                        await client.do_handshake()
                    await client.aclose()  # the server's handshake then sees end of stream
                assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)

    run(main)
