"""tricycle's streams, lock, scopes and tree variables.

First run, over real TCP on 127.0.0.1: ``BufferedReceiveStream``
(``receive``, ``receive_exactly``, ``receive_all_or_none``, ``unget``, an
unclean EOF) and ``TextReceiveStream`` (lines with CRLF, a UTF-8 character
split across two sends, ``max_chars``, iteration to EOF).  Second run, on
``MockClock(autojump_threshold=0)`` so every time printed is exact:
``RWLock`` (concurrent readers, an exclusive writer, fairness, statistics,
``read_biased``), ``MultiCancelScope``, ``open_service_nursery`` (the body is
cancelled before the service tasks), ``ScopedObject`` and
``BackgroundObject``, and ``TreeVar`` (inherited from the nursery, not the
spawner; ``being``, ``get_in``).  The last line names the runtime.
"""

from __future__ import annotations

from functools import partial

import trio
import trio.testing
from tricycle import (
    BackgroundObject,
    BufferedReceiveStream,
    MultiCancelScope,
    RWLock,
    ScopedObject,
    TextReceiveStream,
    TreeVar,
    open_service_nursery,
)

BINARY_SENDS = [b"HEAD" + (5).to_bytes(2, "big") + b"hello", b"tail-"]
TEXT_SENDS = [
    b"line one\r\nline t",
    "wo caf\u00e9 ".encode()[:-2],
    "wo caf\u00e9 ".encode()[-2:] + b"\r\n",
    b"a long line without an end yet",
    b"\r\nlast line",
]


async def sender(stream: trio.SocketStream) -> None:
    async with stream:
        # The binary part goes in lockstep (the client asks for each chunk),
        # so what the buffered reader finds in the socket never depends on
        # timing; lines come out the same however the text is chunked.
        for chunk in BINARY_SENDS:
            assert await stream.receive_some(4) == b"next"
            await stream.send_all(chunk)
        assert await stream.receive_some(4) == b"next"
        for chunk in TEXT_SENDS:
            await stream.send_all(chunk)
            await trio.sleep(0.005)  # usually a chunk of its own: splits the UTF-8 character


async def tcp_streams() -> None:
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            listeners = await nursery.start(partial(trio.serve_tcp, sender, 0, host="127.0.0.1"))
            port = listeners[0].socket.getsockname()[1]
            client = await trio.open_tcp_stream("127.0.0.1", port)
            buffered = BufferedReceiveStream(client, chunk_size=3)
            await client.send_all(b"next")
            magic = await buffered.receive_exactly(4)
            length = int.from_bytes(await buffered.receive_exactly(2), "big")
            print("buffered header", magic, length, await buffered.receive_exactly(length))
            await client.send_all(b"next")
            peeked = await buffered.receive(4)
            buffered.unget(peeked)
            print("unget then receive", peeked, await buffered.receive_all_or_none(5))
            await client.send_all(b"next")
            text = TextReceiveStream(client, encoding="utf-8", newline="\r\n")
            print("text line", repr(await text.receive_line()))
            print("text split character", repr(await text.receive_line()))
            print("text max_chars", repr(await text.receive_line(max_chars=6)))
            print("text rest", [line async for line in text])
            await text.aclose()
            nursery.cancel_scope.cancel()

    left, right = trio.testing.memory_stream_pair()
    await left.send_all(b"abc")
    await left.aclose()
    buffered = BufferedReceiveStream(right)
    try:
        await buffered.receive_exactly(5)
    except ValueError as error:
        print("receive_exactly at EOF:", error)
    print("then", await buffered.receive(5), await buffered.receive_all_or_none(1))


async def rwlock() -> None:
    lock = RWLock()
    log: list[str] = []

    async def reader(name: str, hold: float) -> None:
        async with lock.read_locked():
            log.append(f"{trio.current_time()} {name} reads")
            await trio.sleep(hold)
        log.append(f"{trio.current_time()} {name} done")

    async def writer(name: str) -> None:
        async with lock.write_locked():
            log.append(f"{trio.current_time()} {name} writes ({lock.locked()})")
            await trio.sleep(1)
        log.append(f"{trio.current_time()} {name} done")

    async with trio.open_nursery() as nursery:
        for task, args in [(reader, ("r1", 2)), (reader, ("r2", 1)), (writer, ("w1",)), (reader, ("r3", 1))]:
            nursery.start_soon(task, *args)
            await trio.testing.wait_all_tasks_blocked()
        stats = lock.statistics()
        waiting = (stats.readers_waiting, stats.writers_waiting)
        print("rwlock statistics", stats.locked, len(stats.readers), *waiting)
    print("rwlock fair", log)

    log.clear()
    lock.read_biased = True
    async with trio.open_nursery() as nursery:
        for task, args in [(reader, ("r1", 2)), (writer, ("w1",)), (reader, ("r2", 1))]:
            nursery.start_soon(task, *args)
            await trio.testing.wait_all_tasks_blocked()
    print("rwlock read_biased", log)
    lock.acquire_write_nowait()

    async def try_to_read() -> None:
        try:
            lock.acquire_read_nowait()
        except trio.WouldBlock:
            print("acquire_read_nowait while write-locked: WouldBlock")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(try_to_read)
    lock.release()


async def multi_cancel_scope() -> None:
    scopes = MultiCancelScope()
    outcomes: list[str] = []

    async def worker(name: str) -> None:
        with scopes.open_child() as scope:
            await trio.sleep(10)
        outcomes.append(f"{name} {scope.cancelled_caught} at +{trio.current_time() - start}")

    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(worker, "a")
        nursery.start_soon(worker, "b")
        await trio.sleep(1)
        scopes.cancel()
    with scopes.open_child() as late:
        await trio.sleep(1)
    print("MultiCancelScope", sorted(outcomes), late.cancelled_caught)


async def service_nursery() -> None:
    log: list[str] = []

    async def service(received: trio.MemoryReceiveChannel[str]) -> None:
        async for message in received:
            log.append(f"service got {message}")

    send, receive = trio.open_memory_channel[str](0)
    with trio.move_on_after(1):
        async with open_service_nursery() as nursery:
            nursery.start_soon(service, receive)
            try:
                await send.send("first")
                await trio.sleep_forever()
            finally:
                # The body is cancelled, the service is not yet: it still answers.
                with trio.CancelScope(shield=True):
                    await send.send("from finally")
                await send.aclose()
    print("service nursery", log)


class Connection(ScopedObject):
    async def __open__(self) -> None:
        print("ScopedObject opened")

    async def __close__(self) -> None:
        print("ScopedObject closed")


class Heartbeat(BackgroundObject, daemon=True):
    beats: int

    async def __open__(self) -> None:
        self.beats = 0
        self.nursery.start_soon(self._beat)

    async def _beat(self) -> None:
        while True:
            await trio.sleep(1)
            self.beats += 1


async def scoped_objects() -> None:
    async with Connection() as connection:
        print("using", type(connection).__name__)
    async with Heartbeat() as heartbeat:
        await trio.sleep(3.5)
    print("BackgroundObject beats", heartbeat.beats)


request = TreeVar("request", default="none")


async def tree_var() -> None:
    seen: list[str] = []

    async def child(label: str) -> None:
        seen.append(f"{label} sees {request.get()}")

    request.set("outer")
    async with trio.open_nursery() as nursery:
        with request.being("inner"):
            nursery.start_soon(child, "spawned under being()")
            in_task = request.get_in(trio.lowlevel.current_task())
            print("get_in nursery", request.get_in(nursery), "task", in_task)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(child, "spawned normally")
    print("TreeVar", seen, request.get())


async def virtual_time() -> None:
    with trio.fail_after(600):
        await rwlock()
        await multi_cancel_scope()
        await service_nursery()
        await scoped_objects()
        await tree_var()


trio.run(tcp_streams)
trio.run(virtual_time, clock=trio.testing.MockClock(autojump_threshold=0))
print("runtime:", trio.__name__)
