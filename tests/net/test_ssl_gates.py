"""White-box tests of SSLStream's transport gates (tether only).

Some races need a TLS 1.2 renegotiation: a send whose SSLObject call wants
to *read*, while a receive already waits on the transport.  Python's ssl
module cannot start a renegotiation, so these tests make the SSLObject's
``write`` ask for a read once, exactly as OpenSSL does mid-renegotiation.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from typing import Any

import pytest
import trustme

import tether
import tether.testing


@pytest.fixture(scope="module")
def contexts() -> tuple[ssl.SSLContext, ssl.SSLContext]:
    ca = trustme.CA()
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("localhost").configure_cert(server_ctx)
    client_ctx = ssl.create_default_context()
    ca.configure_trust(client_ctx)
    return client_ctx, server_ctx


def run(async_fn: Callable[[], Any]) -> Any:
    return tether.run(async_fn, clock=tether.testing.MockClock(autojump_threshold=0))


def wants_read_once(stream: Any) -> list[str]:
    """Make the stream's next SSLObject write fail with SSLWantReadError once."""
    calls: list[str] = []
    real_write = stream._write

    def write(data: Any) -> int:
        if not calls:
            calls.append("wants read")
            raise ssl.SSLWantReadError(2, "The operation did not complete (read)")
        calls.append("written")
        return int(real_write(data))

    stream._write = write
    return calls


def test_a_send_that_must_read_uses_the_bytes_a_pending_receive_fetched(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    # If the send received from the transport itself after waiting for the
    # receive gate, it would wait for bytes that already arrived: a deadlock.
    async def main() -> None:
        left, right = tether.testing.memory_stream_pair()
        client = tether.SSLStream(left, contexts[0], server_hostname="localhost")
        server = tether.SSLStream(right, contexts[1], server_side=True)
        async with tether.open_nursery() as nursery:
            nursery.start_soon(client.do_handshake)
            nursery.start_soon(server.do_handshake)
        received: list[bytes] = []

        async def receive() -> None:
            received.append(await client.receive_some())

        with tether.fail_after(100):
            async with tether.open_nursery() as nursery:
                nursery.start_soon(receive)
                await tether.testing.wait_all_tasks_blocked()
                reads_before = client._transport_reads
                calls = wants_read_once(client)
                nursery.start_soon(client.send_all, b"from client")
                await tether.testing.wait_all_tasks_blocked()
                assert calls == ["wants read"]  # the send now waits for the receive gate
                await server.send_all(b"from server")
        assert received == [b"from server"]
        assert calls == ["wants read", "written"]
        assert client._transport_reads == reads_before + 1
        assert await server.receive_some() == b"from client"

    run(main)


def test_a_send_that_must_read_receives_when_nobody_else_does(
    contexts: tuple[ssl.SSLContext, ssl.SSLContext],
) -> None:
    async def main() -> None:
        left, right = tether.testing.memory_stream_pair()
        client = tether.SSLStream(left, contexts[0], server_hostname="localhost")
        server = tether.SSLStream(right, contexts[1], server_side=True)
        async with tether.open_nursery() as nursery:
            nursery.start_soon(client.do_handshake)
            nursery.start_soon(server.do_handshake)
        calls = wants_read_once(client)
        with tether.fail_after(100):
            async with tether.open_nursery() as nursery:
                nursery.start_soon(client.send_all, b"from client")
                await tether.testing.wait_all_tasks_blocked()
                await server.send_all(b"wake up")  # what the send is reading for
        assert calls == ["wants read", "written"]
        assert await server.receive_some() == b"from client"
        # The bytes the send fetched are still there for the next receive.
        assert await client.receive_some() == b"wake up"

    run(main)
