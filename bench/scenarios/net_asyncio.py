"""asyncio twins of ``net.py``, run on asyncio's own loop and on uvloop.

asyncio streams, as an asyncio user would write them: ``asyncio.start_server`` for
the server, ``asyncio.open_connection`` for the clients, ``StreamWriter.write`` then
``await drain()`` for every send, ``StreamReader.read`` / ``readexactly`` to receive.
Every writer is closed with ``close()`` + ``await wait_closed()``, the server with
``close()`` + ``await wait_closed()``. Same sizes, checks and descriptor accounting
as the trio-API side.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from time import perf_counter
from typing import Any

from ._common import Sample, rate
from .net import (
    BACKLOG,
    BULK_CHUNK,
    CHURN_MESSAGE,
    CONCURRENT_CLIENTS,
    CONCURRENT_MESSAGE,
    FD_SETTLE_SECONDS,
    HOST,
    IDLE_DEADLINE,
    RECEIVE_SIZE,
    ROUNDTRIP_MESSAGE,
    bulk_chunk_count,
    bulk_chunks,
    bulk_spot_check,
    check_idle_clients,
    fds_leaked,
    idle_connection_count,
    messages,
    open_fd_count,
    start_idle_clients,
    stop_idle_clients,
    tell,
)

Handler = Any  # async (reader, writer) -> None


async def check_fds_closed(before: int | None) -> None:
    deadline = perf_counter() + FD_SETTLE_SECONDS
    while fds_leaked(before) > 0 and perf_counter() < deadline:
        await asyncio.sleep(0.001)
    leaked = fds_leaked(before)
    assert leaked <= 0, f"{leaked} socket(s) still open at the end"


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


class EchoServer:
    """An echo handler that counts the connections it served to the end."""

    def __init__(self) -> None:
        self.finished = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        read = reader.read
        write = writer.write
        drain = writer.drain
        while True:
            data = await read(RECEIVE_SIZE)
            if not data:
                break
            write(data)
            await drain()
        await close_writer(writer)
        self.finished += 1


async def start_server(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, HOST, 0, backlog=BACKLOG)
    return server, int(server.sockets[0].getsockname()[1])


async def stop_server(server: asyncio.Server) -> None:
    server.close()
    await server.wait_closed()


async def wait_until(condition: Any, what: str, timeout: float = 10.0) -> None:
    deadline = perf_counter() + timeout
    while not condition():
        if perf_counter() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.001)


async def tcp_echo_roundtrip(size: int) -> Sample:
    fds_before = open_fd_count()
    echo = EchoServer()
    payloads = messages(ROUNDTRIP_MESSAGE)
    server, port = await start_server(echo.handle)
    reader, writer = await asyncio.open_connection(HOST, port)
    write = writer.write
    drain = writer.drain
    readexactly = reader.readexactly
    t0 = perf_counter()
    for i in range(size):
        message = payloads[i & 255]
        write(message)
        await drain()
        reply = await readexactly(ROUNDTRIP_MESSAGE)
        assert reply == message, f"round trip {i}: echo mismatch"
    elapsed = perf_counter() - t0
    await close_writer(writer)
    await wait_until(lambda: echo.finished == 1, "the server to see EOF")
    await stop_server(server)
    await check_fds_closed(fds_before)
    return rate(size, elapsed)


async def tcp_echo_concurrent(size: int) -> Sample:
    fds_before = open_fd_count()
    per_client = max(1, size // CONCURRENT_CLIENTS)
    echo = EchoServer()
    payloads = messages(CONCURRENT_MESSAGE)
    done = 0

    async def client(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, start: asyncio.Event) -> None:
        nonlocal done
        write = writer.write
        drain = writer.drain
        readexactly = reader.readexactly
        await start.wait()
        for i in range(per_client):
            message = payloads[i & 255]
            write(message)
            await drain()
            reply = await readexactly(CONCURRENT_MESSAGE)
            assert reply == message, f"round trip {i}: echo mismatch"
        done += 1

    server, port = await start_server(echo.handle)
    connections = [await asyncio.open_connection(HOST, port) for _ in range(CONCURRENT_CLIENTS)]
    start = asyncio.Event()
    async with asyncio.TaskGroup() as group:
        for reader, writer in connections:
            group.create_task(client(reader, writer, start))
        await asyncio.sleep(0.01)  # let every client reach start.wait()
        t0 = perf_counter()
        start.set()
    elapsed = perf_counter() - t0
    assert done == CONCURRENT_CLIENTS, "a client did not finish"
    for _, writer in connections:
        await close_writer(writer)
    await wait_until(lambda: echo.finished == CONCURRENT_CLIENTS, "the server to see EOF")
    await stop_server(server)
    await check_fds_closed(fds_before)
    return rate(per_client * CONCURRENT_CLIENTS, elapsed)


async def bulk_transfer(size: int) -> Sample:
    fds_before = open_fd_count()
    chunks = bulk_chunks()
    count = bulk_chunk_count(size)
    total = count * BULK_CHUNK
    received_all = asyncio.Event()
    result: dict[str, Any] = {}

    async def sink(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        read = reader.read
        received = 0
        intact = True
        while True:
            data = await read(RECEIVE_SIZE)
            if not data:
                break
            intact = intact and bulk_spot_check(chunks, received, data)
            received += len(data)
            if received >= total:
                result["t1"] = perf_counter()
                received_all.set()
        await close_writer(writer)
        result["received"] = received
        result["intact"] = intact

    server, port = await start_server(sink)
    _, writer = await asyncio.open_connection(HOST, port)
    write = writer.write
    drain = writer.drain
    t0 = perf_counter()
    for i in range(count):
        write(chunks[i & 1])
        await drain()
    async with asyncio.timeout(IDLE_DEADLINE):  # a failed handler is only logged by asyncio
        await received_all.wait()
    elapsed = result["t1"] - t0
    await close_writer(writer)
    await wait_until(lambda: "intact" in result, "the server to see EOF")
    await stop_server(server)
    assert result["received"] == total, f"received {result['received']} bytes of {total}"
    assert result["intact"], "the received bytes differ from those sent"
    await check_fds_closed(fds_before)
    return Sample(total / (1024 * 1024) / elapsed, elapsed)


async def connection_churn(size: int) -> Sample:
    fds_before = open_fd_count()
    echo = EchoServer()
    payloads = messages(CHURN_MESSAGE)
    open_connection = asyncio.open_connection
    server, port = await start_server(echo.handle)
    t0 = perf_counter()
    for i in range(size):
        message = payloads[i & 255]
        reader, writer = await open_connection(HOST, port)
        writer.write(message)
        await writer.drain()
        reply = await reader.readexactly(CHURN_MESSAGE)
        writer.close()
        await writer.wait_closed()
        assert reply == message, f"connection {i}: echo mismatch"
    elapsed = perf_counter() - t0
    await wait_until(lambda: echo.finished == size, "the server to close every connection")
    await stop_server(server)
    await check_fds_closed(fds_before)
    return rate(size, elapsed)


async def idle_connections(size: int) -> Sample:
    count = idle_connection_count(size)
    fds_before = open_fd_count()
    accepted = 0
    finished = 0

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted, finished
        accepted += 1
        data = await reader.read(RECEIVE_SIZE)
        assert data == b"", "an idle client sent data"
        await close_writer(writer)
        finished += 1

    t0 = perf_counter()
    tracemalloc.start()
    try:
        server, port = await start_server(hold)
        helper = start_idle_clients(port, count)
        try:
            gc.collect()
            baseline = tracemalloc.get_traced_memory()[0]
            tell(helper, b"go\n")
            deadline = perf_counter() + IDLE_DEADLINE
            while accepted < count:
                check_idle_clients(helper)
                assert perf_counter() < deadline, f"only {accepted} of {count} connections accepted"
                await asyncio.sleep(0.005)
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - baseline
            tracemalloc.stop()  # closing need not be traced
            tell(helper, b"close\n")
            deadline = perf_counter() + IDLE_DEADLINE
            while finished < count:
                assert perf_counter() < deadline, f"only {finished} of {count} connections saw EOF"
                await asyncio.sleep(0.005)
        finally:
            stop_idle_clients(helper)
        await stop_server(server)
    finally:
        tracemalloc.stop()
    assert helper.returncode == 0, f"the idle-client helper failed with status {helper.returncode}"
    await check_fds_closed(fds_before)
    return Sample(used / count, perf_counter() - t0)
