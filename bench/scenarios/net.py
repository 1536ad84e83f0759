"""Networking scenarios (issue 5), written once against the trio API.

Same conventions as ``core.py``: ``fn(trio_like, size)``, run by ``trio_like.run``.
Every scenario runs its server and its clients over TCP on 127.0.0.1 (the idle
scenario keeps its clients in a helper process), checks what comes back, and
closes everything before returning: ``check_fds_closed`` fails the scenario if
the process holds more sockets at the end than at the start.

The server side is ``serve_tcp`` (listeners on port 0 of 127.0.0.1, started with
``nursery.start``), the client side ``open_tcp_stream``; data moves with
``SocketStream.send_all`` / ``receive_some``.
"""

from __future__ import annotations

import functools
import gc
import os
import random
import resource
import subprocess
import sys
import tracemalloc
from pathlib import Path
from time import perf_counter
from types import ModuleType
from typing import Any

from ._common import Sample, rate

HOST = "127.0.0.1"
BACKLOG = 4096  # the same for every implementation (asyncio's default would be 100)
RECEIVE_SIZE = 65536  # max_bytes of every receive (trio's default for receive_some)

ROUNDTRIP_MESSAGE = 64
CONCURRENT_CLIENTS = 50
CONCURRENT_MESSAGE = 1024
BULK_CHUNK = 64 * 1024
CHURN_MESSAGE = 64

IDLE_FD_RESERVE = 64  # descriptors kept free besides one per connection, in each process
IDLE_DEADLINE = 60.0  # seconds allowed for connecting (and for closing) all idle clients
FD_SETTLE_SECONDS = 2.0  # how long closed descriptors may take to go away (uvloop closes lazily)


# --------------------------------------------------------------------------- shared helpers
# (also used by the asyncio twins in net_asyncio.py)


def messages(size: int) -> list[bytes]:
    """256 distinct messages of ``size`` bytes; message i is sent in round trip i % 256."""
    return [bytes([i]) * size for i in range(256)]


def bulk_chunks() -> tuple[bytes, bytes]:
    """Two different 64 KiB chunks of pseudo-random bytes, sent alternately."""
    generator = random.Random(5)
    return generator.randbytes(BULK_CHUNK), generator.randbytes(BULK_CHUNK)


def bulk_spot_check(chunks: tuple[bytes, bytes], position: int, data: bytes) -> bool:
    """Whether the first and last bytes of ``data``, received at byte ``position`` of the
    stream, are the ones sent there.

    Chunks of random bytes alternate, so a lost, repeated or reordered piece fails this with
    near certainty, at O(1) per receive: a CRC of every byte (tried first) cost as much as
    the transfer itself and flattened the comparison this scenario exists for."""
    last = position + len(data) - 1
    return (
        data[0] == chunks[(position // BULK_CHUNK) & 1][position % BULK_CHUNK]
        and data[-1] == chunks[(last // BULK_CHUNK) & 1][last % BULK_CHUNK]
    )


def bulk_chunk_count(size: int) -> int:
    """``size`` is in MiB."""
    return max(2, size * (1024 * 1024) // BULK_CHUNK)


def open_fd_count() -> int | None:
    """How many sockets this process holds (other descriptors, such as the /dev/null that
    libuv keeps open from the first listener on, are loop state, not leaks)."""
    try:
        names = os.listdir("/proc/self/fd")
    except OSError:  # no /proc: no check
        return None
    count = 0
    for name in names:
        try:
            if os.readlink(f"/proc/self/fd/{name}").startswith("socket:"):
                count += 1
        except OSError:  # closed meanwhile (e.g. the directory's own descriptor)
            pass
    return count


def fds_leaked(before: int | None) -> int:
    now = open_fd_count()
    if before is None or now is None:
        return 0
    return now - before


def raise_fd_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``needed`` (at most the hard limit); return the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return needed if soft == resource.RLIM_INFINITY else soft


def idle_connection_count(size: int) -> int:
    """How many idle connections fit: ``size``, or fewer if RLIMIT_NOFILE's hard limit is too low.

    The server process holds one descriptor per connection (the clients live in a helper
    process with its own limit); the count depends only on the machine, so every
    implementation gets the same one.
    """
    limit = raise_fd_limit(size + IDLE_FD_RESERVE)
    count = min(size, limit - IDLE_FD_RESERVE)
    if count < 1:
        raise RuntimeError(f"RLIMIT_NOFILE hard limit too low for any idle connection: {limit}")
    if count < size:
        print(
            f"note: idle_connections: RLIMIT_NOFILE allows only {limit} descriptors; "
            f"holding {count} connections instead of {size}",
            file=sys.stderr,
        )
    return count


def start_idle_clients(port: int, count: int) -> subprocess.Popen[bytes]:
    """Start the helper process that will hold ``count`` idle connections to ``port``.

    It connects when it reads a line on stdin, and closes every socket and exits
    when it reads the next one.
    """
    bench_dir = Path(__file__).resolve().parent.parent
    code = f"import sys; sys.path.insert(0, {str(bench_dir)!r}); from scenarios.net import idle_clients_main; idle_clients_main()"
    return subprocess.Popen(
        [sys.executable, "-c", code, HOST, str(port), str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
    )


def tell(process: subprocess.Popen[bytes], line: bytes) -> None:
    assert process.stdin is not None
    process.stdin.write(line)
    process.stdin.flush()


def stop_idle_clients(process: subprocess.Popen[bytes]) -> None:
    """Make sure the helper is gone (it normally exited already)."""
    if process.stdin is not None and not process.stdin.closed:
        try:
            process.stdin.close()
        except OSError:
            pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def check_idle_clients(process: subprocess.Popen[bytes]) -> None:
    returncode = process.poll()
    if returncode is not None:
        raise RuntimeError(f"the idle-client helper exited early with status {returncode}")


def idle_clients_main() -> None:
    """The helper process of ``idle_connections``: plain blocking sockets, no event loop."""
    import socket

    host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    raise_fd_limit(count + IDLE_FD_RESERVE)
    sys.stdin.buffer.readline()  # go
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.connect((host, port))
        sys.stdin.buffer.readline()  # close
    finally:
        for sock in sockets:
            sock.close()


# --------------------------------------------------------------------------- trio-API side


async def check_fds_closed(trio_like: ModuleType, before: int | None) -> None:
    """Fail unless the descriptors opened since ``before`` are all closed (within a short grace)."""
    deadline = perf_counter() + FD_SETTLE_SECONDS
    while fds_leaked(before) > 0 and perf_counter() < deadline:
        await trio_like.sleep(0.001)
    leaked = fds_leaked(before)
    assert leaked <= 0, f"{leaked} socket(s) still open at the end"


async def receive_exactly(stream: Any, count: int) -> bytes:
    data = await stream.receive_some(count)
    if len(data) == count or not data:
        return data  # type: ignore[no-any-return]
    parts = [data]
    received = len(data)
    while received < count:
        data = await stream.receive_some(count - received)
        if not data:
            break
        parts.append(data)
        received += len(data)
    return b"".join(parts)


class EchoServer:
    """An echo handler that counts the connections it served to the end."""

    def __init__(self) -> None:
        self.finished = 0

    async def handle(self, stream: Any) -> None:
        async with stream:
            receive_some = stream.receive_some
            send_all = stream.send_all
            while True:
                data = await receive_some(RECEIVE_SIZE)
                if not data:
                    break
                await send_all(data)
        self.finished += 1


async def start_server(trio_like: ModuleType, nursery: Any, handler: Any) -> int:
    serve = functools.partial(trio_like.serve_tcp, host=HOST, backlog=BACKLOG)
    listeners = await nursery.start(serve, handler, 0)
    return int(listeners[0].socket.getsockname()[1])


async def wait_until(trio_like: ModuleType, condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = perf_counter() + timeout
    while not condition():
        if perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await trio_like.sleep(0.001)


async def tcp_echo_roundtrip(trio_like: ModuleType, size: int) -> Sample:
    """``size`` round trips of a 64-byte message over one connection to an echo server."""
    fds_before = open_fd_count()
    server = EchoServer()
    payloads = messages(ROUNDTRIP_MESSAGE)
    async with trio_like.open_nursery() as nursery:
        port = await start_server(trio_like, nursery, server.handle)
        stream = await trio_like.open_tcp_stream(HOST, port)
        send_all = stream.send_all
        receive_some = stream.receive_some
        t0 = perf_counter()
        for i in range(size):
            message = payloads[i & 255]
            await send_all(message)
            reply = await receive_some(ROUNDTRIP_MESSAGE)
            if reply != message:
                reply += await receive_exactly(stream, ROUNDTRIP_MESSAGE - len(reply))
                assert reply == message, f"round trip {i}: echo mismatch"
        elapsed = perf_counter() - t0
        await stream.aclose()
        await wait_until(trio_like, lambda: server.finished == 1, "the server to see EOF")
        nursery.cancel_scope.cancel()
    await check_fds_closed(trio_like, fds_before)
    return rate(size, elapsed)


async def tcp_echo_concurrent(trio_like: ModuleType, size: int) -> Sample:
    """50 clients, each doing ``size / 50`` round trips of a 1 KiB message, all at once."""
    fds_before = open_fd_count()
    per_client = max(1, size // CONCURRENT_CLIENTS)
    server = EchoServer()
    payloads = messages(CONCURRENT_MESSAGE)
    done = 0

    async def client(stream: Any, start: Any) -> None:
        nonlocal done
        send_all = stream.send_all
        await start.wait()
        for i in range(per_client):
            message = payloads[i & 255]
            await send_all(message)
            reply = await receive_exactly(stream, CONCURRENT_MESSAGE)
            assert reply == message, f"round trip {i}: echo mismatch"
        done += 1

    async with trio_like.open_nursery() as nursery:
        port = await start_server(trio_like, nursery, server.handle)
        streams = [await trio_like.open_tcp_stream(HOST, port) for _ in range(CONCURRENT_CLIENTS)]
        start = trio_like.Event()
        async with trio_like.open_nursery() as clients:
            for stream in streams:
                clients.start_soon(client, stream, start)
            await trio_like.sleep(0.01)  # let every client reach start.wait()
            t0 = perf_counter()
            start.set()
        elapsed = perf_counter() - t0
        assert done == CONCURRENT_CLIENTS, "a client did not finish"
        for stream in streams:
            await stream.aclose()
        await wait_until(trio_like, lambda: server.finished == CONCURRENT_CLIENTS, "the server to see EOF")
        nursery.cancel_scope.cancel()
    await check_fds_closed(trio_like, fds_before)
    return rate(per_client * CONCURRENT_CLIENTS, elapsed)


async def bulk_transfer(trio_like: ModuleType, size: int) -> Sample:
    """Send ``size`` MiB in 64 KiB ``send_all`` calls over one connection; the receiving
    server checks the byte count and spot-checks every receive. Timed until the server has
    received it all."""
    fds_before = open_fd_count()
    chunks = bulk_chunks()
    count = bulk_chunk_count(size)
    total = count * BULK_CHUNK
    received_all = trio_like.Event()
    result: dict[str, Any] = {}

    async def sink(stream: Any) -> None:
        async with stream:
            receive_some = stream.receive_some
            received = 0
            intact = True
            while True:
                data = await receive_some(RECEIVE_SIZE)
                if not data:
                    break
                intact = intact and bulk_spot_check(chunks, received, data)
                received += len(data)
                if received >= total:
                    result["t1"] = perf_counter()
                    received_all.set()
            result["received"] = received
            result["intact"] = intact

    async with trio_like.open_nursery() as nursery:
        port = await start_server(trio_like, nursery, sink)
        stream = await trio_like.open_tcp_stream(HOST, port)
        send_all = stream.send_all
        t0 = perf_counter()
        for i in range(count):
            await send_all(chunks[i & 1])
        await received_all.wait()
        elapsed = result["t1"] - t0
        await stream.aclose()
        await wait_until(trio_like, lambda: "intact" in result, "the server to see EOF")
        nursery.cancel_scope.cancel()
    assert result["received"] == total, f"received {result['received']} bytes of {total}"
    assert result["intact"], "the received bytes differ from those sent"
    await check_fds_closed(trio_like, fds_before)
    return Sample(total / (1024 * 1024) / elapsed, elapsed)


async def connection_churn(trio_like: ModuleType, size: int) -> Sample:
    """``size`` times: ``open_tcp_stream``, one 64-byte round trip, ``aclose``."""
    fds_before = open_fd_count()
    server = EchoServer()
    payloads = messages(CHURN_MESSAGE)
    open_tcp_stream = trio_like.open_tcp_stream
    async with trio_like.open_nursery() as nursery:
        port = await start_server(trio_like, nursery, server.handle)
        t0 = perf_counter()
        for i in range(size):
            message = payloads[i & 255]
            stream = await open_tcp_stream(HOST, port)
            await stream.send_all(message)
            reply = await receive_exactly(stream, CHURN_MESSAGE)
            await stream.aclose()
            assert reply == message, f"connection {i}: echo mismatch"
        elapsed = perf_counter() - t0
        await wait_until(trio_like, lambda: server.finished == size, "the server to close every connection")
        nursery.cancel_scope.cancel()
    await check_fds_closed(trio_like, fds_before)
    return rate(size, elapsed)


async def idle_connections(trio_like: ModuleType, size: int) -> Sample:
    """Traced bytes per connection while one ``serve_tcp`` server holds ``size`` idle
    connections, each handler blocked in ``receive_some``.

    The clients are plain blocking sockets in a helper process (so the server process
    needs one descriptor per connection). Live memory after ``gc.collect()`` with every
    connection accepted, minus the same before the first connect, divided by the count.
    Then the helper closes its sockets; every handler must see EOF and close its stream.
    """
    count = idle_connection_count(size)
    fds_before = open_fd_count()
    accepted = 0
    finished = 0

    async def hold(stream: Any) -> None:
        nonlocal accepted, finished
        async with stream:
            accepted += 1
            data = await stream.receive_some(RECEIVE_SIZE)
            assert data == b"", "an idle client sent data"
        finished += 1

    t0 = perf_counter()
    tracemalloc.start()
    try:
        async with trio_like.open_nursery() as nursery:
            port = await start_server(trio_like, nursery, hold)
            helper = start_idle_clients(port, count)
            try:
                gc.collect()
                baseline = tracemalloc.get_traced_memory()[0]
                tell(helper, b"go\n")
                deadline = perf_counter() + IDLE_DEADLINE
                while accepted < count:
                    check_idle_clients(helper)
                    assert perf_counter() < deadline, f"only {accepted} of {count} connections accepted"
                    await trio_like.sleep(0.005)
                gc.collect()
                used = tracemalloc.get_traced_memory()[0] - baseline
                tracemalloc.stop()  # closing need not be traced
                tell(helper, b"close\n")
                deadline = perf_counter() + IDLE_DEADLINE
                while finished < count:
                    assert perf_counter() < deadline, f"only {finished} of {count} connections saw EOF"
                    await trio_like.sleep(0.005)
            finally:
                stop_idle_clients(helper)
            nursery.cancel_scope.cancel()
    finally:
        tracemalloc.stop()
    assert helper.returncode == 0, f"the idle-client helper failed with status {helper.returncode}"
    await check_fds_closed(trio_like, fds_before)
    return Sample(used / count, perf_counter() - t0)
