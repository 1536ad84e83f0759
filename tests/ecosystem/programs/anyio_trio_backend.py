"""anyio on its trio backend: TCP, task groups, cancel scopes, threads, memory streams, processes.

The last line names the runtime, so the test can tell tether from trio.
"""

from __future__ import annotations

import sys

import anyio
import anyio.abc
import anyio.from_thread
import anyio.to_thread
import trio

CHILD = "import sys; sys.stdout.write(sys.stdin.read().upper()); sys.exit(3)"


async def shout(stream: anyio.abc.SocketStream) -> None:
    async with stream:
        await stream.send((await stream.receive()).upper())


async def tcp() -> None:
    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with listener, anyio.create_task_group() as group:
        group.start_soon(listener.serve, shout)
        async with await anyio.connect_tcp("127.0.0.1", port) as client:
            await client.send(b"hello")
            print("tcp", await client.receive())
        group.cancel_scope.cancel()


async def threads() -> None:
    print("to_thread", await anyio.to_thread.run_sync(sum, [40, 2]))

    def in_thread() -> str:
        return anyio.from_thread.run(anyio.to_thread.run_sync, str.upper, "round trip")

    print("from_thread", await anyio.to_thread.run_sync(in_thread))


async def cancel_scopes() -> None:
    with anyio.move_on_after(0.01) as scope:
        await anyio.sleep_forever()
    print("move_on_after", scope.cancelled_caught)
    try:
        with anyio.fail_after(0.01):
            await anyio.sleep_forever()
    except TimeoutError:
        print("fail_after TimeoutError")
    with anyio.CancelScope() as outer:
        outer.cancel()
        with anyio.CancelScope(shield=True):
            await anyio.sleep(0)
            print("shielded checkpoint survived")
        await anyio.sleep(0)
        print("not reached")
    print("outer cancelled_caught", outer.cancelled_caught)


async def task_groups() -> None:
    async def starter(*, task_status: anyio.abc.TaskStatus[str]) -> None:
        task_status.started("ready")
        await anyio.sleep_forever()

    async with anyio.create_task_group() as group:
        print("start", await group.start(starter))
        group.cancel_scope.cancel()

    async def fails() -> None:
        raise ValueError("boom")

    try:
        async with anyio.create_task_group() as group:
            group.start_soon(fails)
            await anyio.sleep_forever()
    except* ValueError as errors:
        print("task group raised", [str(error) for error in errors.exceptions])


async def memory_streams() -> None:
    send, receive = anyio.create_memory_object_stream[int](2)
    event = anyio.Event()

    async def produce() -> None:
        async with send:
            for number in range(5):
                await send.send(number)
        event.set()

    received = []
    async with anyio.create_task_group() as group:
        group.start_soon(produce)
        async with receive:
            async for number in receive:
                received.append(number)
    await event.wait()
    print("memory stream", received, event.is_set())
    try:
        await send.send(99)
    except anyio.ClosedResourceError:
        print("send after close: ClosedResourceError")


async def processes() -> None:
    async with await anyio.open_process([sys.executable, "-c", CHILD]) as process:
        assert process.stdin is not None and process.stdout is not None
        await process.stdin.send(b"shout this")
        await process.stdin.aclose()
        output = b"".join([chunk async for chunk in process.stdout])
        print("open_process", output, await process.wait())
    completed = await anyio.run_process([sys.executable, "-c", "print('ran')"])
    print("run_process", completed.returncode, completed.stdout)


async def main() -> None:
    with anyio.fail_after(20):
        await tcp()
        await threads()
        await cancel_scopes()
        await task_groups()
        await memory_streams()
        await processes()
    print("runtime:", trio.__name__)


anyio.run(main, backend="trio")
