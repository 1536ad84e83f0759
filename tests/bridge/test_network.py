"""Real asyncio networking code meeting tether networking code, over 127.0.0.1.

asyncio streams against tether's TCP, and aiohttp (a registry library,
asyncio-only) as client of a tether HTTP server and as server for tether
code, whose handler calls back into tether; and httpx on tether (installed
as trio, in a fresh process) against aiohttp.  Every test is bounded with
``fail_after`` (or a subprocess timeout) well under the per-test timeout.
"""

from __future__ import annotations

import asyncio
import functools
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
from shout_app import start_app

import tether
from tether.asyncio_bridge import aio_await, aio_context, aio_iter

BridgeRun = Callable[..., Any]
BOUND = 10.0  # seconds; every test finishes in milliseconds


async def echo(stream: tether.SocketStream) -> None:
    async for data in stream:
        await stream.send_all(data)


async def start_server(nursery: tether.Nursery, handler: Callable[..., Any]) -> int:
    (listener,) = await nursery.start(functools.partial(tether.serve_tcp, handler, 0, host="127.0.0.1"))
    return int(listener.socket.getsockname()[1])


async def receive_until(stream: tether.SocketStream, end: bytes) -> bytes:
    data = b""
    while not data.endswith(end):
        chunk = await stream.receive_some(4096)
        assert chunk, "the peer closed early"
        data += chunk
    return data


async def receive_all(stream: tether.SocketStream) -> bytes:
    data = b""
    async for chunk in stream:
        data += chunk
    return data


# ---------------------------------------------------------------- asyncio streams


def test_asyncio_streams_client_talks_to_a_tether_tcp_server(bridge_run: BridgeRun) -> None:
    async def asyncio_client(port: int) -> list[bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        replies = []
        for n in range(5):
            message = f"message {n}\n".encode()
            writer.write(message)
            await writer.drain()
            replies.append(await reader.readexactly(len(message)))
        writer.close()
        await writer.wait_closed()
        return replies

    async def main() -> list[bytes]:
        with tether.fail_after(BOUND):
            async with tether.open_nursery() as nursery:
                port = await start_server(nursery, echo)
                replies = await aio_await(asyncio_client, port)
                nursery.cancel_scope.cancel()
        return replies

    assert bridge_run(main) == [f"message {n}\n".encode() for n in range(5)]


def test_tether_client_talks_to_an_asyncio_streams_server(bridge_run: BridgeRun) -> None:
    async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while line := await reader.readline():
            writer.write(line.upper())
            await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def main() -> list[bytes]:
        with tether.fail_after(BOUND):
            server = await aio_await(asyncio.start_server, shout, "127.0.0.1", 0)
            port = server.sockets[0].getsockname()[1]
            replies = []
            async with await tether.open_tcp_stream("127.0.0.1", port) as stream:
                for word in (b"tether", b"meets", b"asyncio"):
                    await stream.send_all(word + b"\n")
                    replies.append(await receive_until(stream, b"\n"))
                await stream.send_eof()
                assert await receive_all(stream) == b""
            server.close()
            await aio_await(server.wait_closed)
        return replies

    assert bridge_run(main) == [b"TETHER\n", b"MEETS\n", b"ASYNCIO\n"]


# ---------------------------------------------------------------- aiohttp client, tether server


async def http_server(stream: tether.SocketStream) -> None:
    request = await receive_until(stream, b"\r\n\r\n")
    request_line = request.split(b"\r\n", 1)[0]
    body = b"tether saw " + request_line
    if request_line.startswith(b"GET /big "):
        body = b"".join(b"%06d\n" % n for n in range(20_000))  # 140 kB, many TCP segments
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
    await stream.send_all(head % len(body) + body)


def test_aiohttp_client_fetches_from_a_tether_server(bridge_run: BridgeRun) -> None:
    async def fetch(url: str) -> tuple[int, str]:
        async with aiohttp.ClientSession() as session, session.get(url) as response:
            return response.status, await response.text()

    async def main() -> list[tuple[int, str]]:
        with tether.fail_after(BOUND):
            async with tether.open_nursery() as nursery:
                port = await start_server(nursery, http_server)
                results = [await aio_await(fetch, f"http://127.0.0.1:{port}/page/{n}") for n in range(3)]
                nursery.cancel_scope.cancel()
        return results

    assert bridge_run(main) == [(200, f"tether saw GET /page/{n} HTTP/1.1") for n in range(3)]


def test_aiohttp_session_used_from_tether_code_through_the_adapters(bridge_run: BridgeRun) -> None:
    async def main() -> tuple[int, str, int]:
        with tether.fail_after(BOUND):
            async with tether.open_nursery() as nursery:
                port = await start_server(nursery, http_server)
                async with aio_context(aiohttp.ClientSession()) as session:
                    async with aio_context(session.get(f"http://127.0.0.1:{port}/small")) as response:
                        status, text = response.status, await aio_await(response.text)
                    async with aio_context(session.get(f"http://127.0.0.1:{port}/big")) as response:
                        received = 0
                        async for chunk in aio_iter(response.content.iter_chunked(8192)):
                            assert chunk.endswith(b"\n") or len(chunk) > 0
                            received += len(chunk)
                nursery.cancel_scope.cancel()
        return status, text, received

    assert bridge_run(main) == (200, "tether saw GET /small HTTP/1.1", 140_000)


# ---------------------------------------------------------------- aiohttp server, tether client


def test_tether_client_fetches_from_an_aiohttp_server(bridge_run: BridgeRun) -> None:
    async def get(port: int, path: str) -> bytes:
        async with await tether.open_tcp_stream("127.0.0.1", port) as stream:
            await stream.send_all(
                b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" % path.encode()
            )
            return await receive_all(stream)

    async def main() -> list[bytes]:
        with tether.fail_after(BOUND):
            runner = await aio_await(start_app)
            try:
                port = runner.addresses[0][1]
                async with tether.open_nursery() as nursery:
                    replies: list[bytes] = []

                    async def fetch(name: str) -> None:
                        replies.append(await get(port, f"/hello/{name}"))

                    for name in ("tether", "asyncio", "aiohttp"):
                        nursery.start_soon(fetch, name)
            finally:
                await aio_await(runner.cleanup)
        return sorted(reply.split(b"\r\n\r\n", 1)[1] for reply in replies if b" 200 OK\r\n" in reply)

    assert bridge_run(main) == [
        b"hello AIOHTTP from aiohttp",
        b"hello ASYNCIO from aiohttp",
        b"hello TETHER from aiohttp",
    ]


def test_cancelling_a_tether_fetch_cancels_the_aiohttp_request(bridge_run: BridgeRun) -> None:
    events: list[str] = []
    got_request = tether.Event()

    async def stalls(stream: tether.SocketStream) -> None:
        await receive_until(stream, b"\r\n\r\n")
        events.append("server got the request")
        got_request.set()
        await tether.sleep_forever()

    async def fetch(url: str) -> None:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.get(url) as response:
                    await response.text()
            except asyncio.CancelledError:
                events.append("aiohttp request cancelled")
                raise

    async def main() -> bool:
        with tether.fail_after(BOUND):
            async with tether.open_nursery() as nursery:
                port = await start_server(nursery, stalls)
                with tether.CancelScope() as scope:
                    async with tether.open_nursery() as inner:
                        inner.start_soon(aio_await, fetch, f"http://127.0.0.1:{port}/")
                        await got_request.wait()
                        scope.cancel()
                nursery.cancel_scope.cancel()
        return scope.cancelled_caught

    assert bridge_run(main) is True
    assert events == ["server got the request", "aiohttp request cancelled"]


# ---------------------------------------------------------------- httpx on tether, in a fresh process


def test_httpx_on_tether_fetches_from_an_aiohttp_server(host: str) -> None:
    # tether.install() changes sys.modules for good, so this runs in its own
    # interpreter: httpx (httpcore's trio backend, on tether) in tether code
    # against aiohttp in asyncio code, whose handler calls back into tether.
    program = Path(__file__).parent / "httpx_program.py"
    environment = {key: value for key, value in os.environ.items() if key != "TETHER_AS_TRIO"}
    completed = subprocess.run(
        [sys.executable, "-W", "error", str(program), host],
        capture_output=True,
        text=True,
        timeout=30,
        env=environment,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines() == [
        "asyncio tasks left at close: 0",
        "200 hello HTTPX from aiohttp",
        "200 hello TETHER from aiohttp",
    ]
