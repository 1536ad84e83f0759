"""trio-asyncio: asyncio code running inside a trio program, and back.

Inside ``trio_asyncio.open_loop()``: trio awaits asyncio coroutines, futures,
context managers and async iterators (``aio_as_trio``), asyncio awaits trio
functions and context managers (``trio_as_aio``), callbacks run with
``call_soon``/``call_later``, ``run_in_executor`` uses a thread, an asyncio
TCP server and client talk over 127.0.0.1 while trio code talks to the same
server, an ``asyncio.Queue`` carries items from a trio task to an asyncio
task, exceptions cross both ways, and cancellation crosses both ways (a trio
timeout cancels an asyncio coroutine, ``task.cancel()`` cancels trio code).
``trio_asyncio.run`` is the shortcut for ``trio.run`` plus ``open_loop``.
The last line names the runtime.
"""

from __future__ import annotations

import asyncio
import contextlib

import trio
import trio_asyncio
from trio_asyncio import aio_as_trio, trio_as_aio


async def aio_add(a: int, b: int) -> int:
    await asyncio.sleep(0.001)
    return a + b


@trio_as_aio
async def trio_double(x: int) -> int:
    await trio.sleep(0.001)
    return 2 * x


async def aio_calls_trio(x: int) -> int:
    return await trio_double(x) + 1


@contextlib.asynccontextmanager
async def aio_resource(log: list[str]):  # type: ignore[no-untyped-def]
    await asyncio.sleep(0)
    log.append("aio enter")
    try:
        yield "aio resource"
    finally:
        await asyncio.sleep(0)
        log.append("aio exit")


@contextlib.asynccontextmanager
async def trio_resource(log: list[str]):  # type: ignore[no-untyped-def]
    # trio_as_aio runs __aenter__ and __aexit__ as two trio tasks: no
    # nursery or cancel scope may stay open across the yield.
    await trio.sleep(0)
    log.append("trio enter")
    yield "trio resource"
    await trio.sleep(0)
    log.append("trio exit")


async def aio_counter(n: int):  # type: ignore[no-untyped-def]
    for i in range(n):
        await asyncio.sleep(0)
        yield i


async def aio_uses_trio_resource(log: list[str]) -> str:
    async with trio_as_aio(trio_resource(log)) as value:
        await asyncio.sleep(0)
        return value


async def handle_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while line := await reader.readline():
        writer.write(b"echo " + line.upper())
        await writer.drain()
    writer.close()
    await writer.wait_closed()


async def aio_client(port: int, lines: list[bytes]) -> list[bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    answers = []
    for line in lines:
        writer.write(line)
        await writer.drain()
        answers.append(await reader.readline())
    writer.close()
    await writer.wait_closed()
    return answers


async def trio_client(port: int) -> bytes:
    async with await trio.open_tcp_stream("127.0.0.1", port) as stream:
        await stream.send_all(b"from trio\n")
        received = b""
        while not received.endswith(b"\n"):
            received += await stream.receive_some(100)
        return received


async def aio_consumer(queue: asyncio.Queue[int | None]) -> list[int]:
    items = []
    while (item := await queue.get()) is not None:
        items.append(item)
    return items


async def aio_fails() -> None:
    await asyncio.sleep(0)
    raise KeyError("from asyncio")


@trio_as_aio
async def trio_fails() -> None:
    await trio.sleep(0)
    raise ValueError("from trio")


async def aio_catches_trio_error() -> str:
    try:
        await trio_fails()
    except ValueError as error:
        return f"asyncio caught {error!r}"
    return "not raised"


async def aio_slow(log: list[str]) -> None:
    try:
        await asyncio.sleep(10)
    except asyncio.CancelledError:
        log.append("asyncio coroutine cancelled")
        raise


@trio_as_aio
async def trio_slow(log: list[str]) -> None:
    try:
        await trio.sleep(10)
    except trio.Cancelled:
        log.append("trio code cancelled")
        raise


async def aio_cancels_trio(log: list[str]) -> bool:
    task = asyncio.ensure_future(trio_slow(log))
    await asyncio.sleep(0.01)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return True
    return False


async def main() -> None:
    async with trio_asyncio.open_loop() as loop:
        print("aio_as_trio", await aio_as_trio(aio_add)(1, 2))
        print("trio_as_aio", await aio_as_trio(aio_calls_trio)(20))
        print("run_aio_coroutine", await trio_asyncio.run_aio_coroutine(aio_add(5, 6)))

        future = loop.create_future()
        loop.call_later(0.001, future.set_result, "later")
        print("future", await trio_asyncio.run_aio_future(future))
        fired: list[str] = []
        loop.call_soon(fired.append, "soon")
        await aio_as_trio(asyncio.sleep)(0.001)
        print("call_soon", fired)
        print("run_in_executor", await aio_as_trio(loop.run_in_executor(None, sum, [1, 2, 3])))

        log: list[str] = []
        async with aio_as_trio(aio_resource(log)) as value:
            log.append(f"inside with {value}")
        print("aio context manager", log)
        log = []
        print("trio context manager", await aio_as_trio(aio_uses_trio_resource)(log), log)
        print("aio iterator", [i async for i in aio_as_trio(aio_counter(4))])

        server = await aio_as_trio(asyncio.start_server)(handle_echo, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        print("asyncio client", await aio_as_trio(aio_client)(port, [b"one\n", b"two\n"]))
        print("trio client", await trio_client(port))
        server.close()
        await aio_as_trio(server.wait_closed)()

        queue: asyncio.Queue[int | None] = asyncio.Queue()
        async with trio.open_nursery() as nursery:
            consumed: list[list[int]] = []

            async def consume() -> None:
                consumed.append(await aio_as_trio(aio_consumer)(queue))

            nursery.start_soon(consume)
            for item in [*range(5), None]:
                queue.put_nowait(item)
                await trio.sleep(0)
        print("asyncio.Queue", consumed)

        try:
            await aio_as_trio(aio_fails)()
        except KeyError as error:
            print("trio caught", repr(error))
        print(await aio_as_trio(aio_catches_trio_error)())

        log = []
        with trio.move_on_after(0.05) as scope:
            await aio_as_trio(aio_slow)(log)
        print("trio timeout", scope.cancelled_caught, log)
        log = []
        print("asyncio cancel", await aio_as_trio(aio_cancels_trio)(log), log)
    print("loop closed", loop.is_closed())


async def short_main(x: int) -> int:
    return await aio_as_trio(aio_add)(x, x)


trio.run(main)
print("trio_asyncio.run", trio_asyncio.run(short_main, 4))
print("runtime:", trio.__name__)
