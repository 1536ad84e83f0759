"""Black-box tests of open_unix_socket against a Unix listener in tmp_path.

The listener is a ``trio.socket`` AF_UNIX socket wrapped in a SocketListener,
so both ends go through the implementation.  No test may leave a file
descriptor open, failed connects included.
"""

from __future__ import annotations

import os
import socket as stdlib_socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.skipif(not hasattr(stdlib_socket, "AF_UNIX"), reason="no Unix sockets")


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture(autouse=True)
def no_fd_leak() -> Iterator[None]:
    before = open_fds()
    yield
    leaked = open_fds() - before
    assert not leaked, f"file descriptors leaked: {sorted(leaked)}"


@pytest.fixture
def socket_path(tmp_path: Path) -> Path:
    path = tmp_path / "sock"
    if len(os.fsencode(path)) >= 100:  # sun_path holds 108 bytes
        pytest.skip(f"tmp_path too long for a Unix socket: {path}")
    return path


async def unix_listener(impl: Any, path: Path) -> Any:
    sock = impl.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    try:
        await sock.bind(os.fspath(path))
        sock.listen()
    except BaseException:
        sock.close()
        raise
    return impl.SocketListener(sock)


@pytest.mark.parametrize("kind", ["str", "bytes", "pathlike"])
def test_open_unix_socket_connects_to_a_listener(run, impl, socket_path, kind) -> None:
    target = {"str": str(socket_path), "bytes": os.fsencode(socket_path), "pathlike": socket_path}[kind]

    async def main():
        async with await unix_listener(impl, socket_path) as listener:
            client = await impl.open_unix_socket(target)
            async with client, await listener.accept() as server:
                assert isinstance(client, impl.SocketStream)
                assert client.socket.family == stdlib_socket.AF_UNIX
                await client.send_all(b"over unix")
                assert await server.receive_some() == b"over unix"
                await server.send_all(b"and back")
                assert await client.receive_some() == b"and back"

    run(main)


def test_open_unix_socket_is_a_checkpoint(run, impl, socket_path) -> None:
    async def main():
        async with await unix_listener(impl, socket_path) as listener:
            with impl.testing.assert_checkpoints():
                client = await impl.open_unix_socket(socket_path)
            async with client, await listener.accept():
                pass

    run(main)


def test_open_unix_socket_send_eof_half_closes(run, impl, socket_path) -> None:
    async def main():
        async with await unix_listener(impl, socket_path) as listener:
            client = await impl.open_unix_socket(socket_path)
            async with client, await listener.accept() as server:
                await client.send_all(b"request")
                await client.send_eof()
                assert await server.receive_some() == b"request"
                assert await server.receive_some() == b""
                await server.send_all(b"response")
                assert await client.receive_some() == b"response"

    run(main)


def test_open_unix_socket_to_a_missing_path_raises_file_not_found(run, impl, tmp_path) -> None:
    async def main():
        with pytest.raises(FileNotFoundError):
            await impl.open_unix_socket(tmp_path / "nobody-here")

    run(main)


def test_open_unix_socket_to_a_closed_listener_raises_connection_refused(run, impl, socket_path) -> None:
    async def main():
        listener = await unix_listener(impl, socket_path)
        await listener.aclose()  # the socket file stays; nobody listens
        assert socket_path.exists()
        with pytest.raises(ConnectionRefusedError):
            await impl.open_unix_socket(socket_path)

    run(main)


def test_unix_socket_stream_passes_check_half_closeable_stream(run, impl, socket_path) -> None:
    if not hasattr(impl.testing, "check_half_closeable_stream"):
        pytest.skip(f"{impl.__name__}.testing.check_half_closeable_stream does not exist yet")
    counter = iter(range(1000))

    async def main():
        async def stream_maker():
            path = socket_path.with_name(f"s{next(counter)}")
            async with await unix_listener(impl, path) as listener:
                client = await impl.open_unix_socket(path)
                return client, await listener.accept()

        await impl.testing.check_half_closeable_stream(stream_maker, None)

    run(main)
