"""Synchronisation and channel scenarios (issue 4), written once against the trio API.

Same conventions as ``core.py``: ``fn(trio_like, size)``, run by ``trio_like.run``.
"""

from __future__ import annotations

import math
from time import perf_counter
from types import ModuleType
from typing import Any

from ._common import Sample, rate

FAN_IN_PRODUCERS = 10
FAN_IN_BUFFER = 100
CONTENDERS = 50
SEMAPHORE_TOKENS = 3
EVENT_WAITERS = 1_000


async def _pingpong(trio_like: ModuleType, size: int, buffer: float) -> Sample:
    ping_send, ping_receive = trio_like.open_memory_channel(buffer)
    pong_send, pong_receive = trio_like.open_memory_channel(buffer)

    async def echo() -> None:
        receive = ping_receive.receive
        send = pong_send.send
        for _ in range(size):
            await send(await receive())

    async with trio_like.open_nursery() as nursery:
        nursery.start_soon(echo)
        send = ping_send.send
        receive = pong_receive.receive
        t0 = perf_counter()
        last = -1
        for i in range(size):
            await send(i)
            last = await receive()
        elapsed = perf_counter() - t0
    assert last == size - 1, "the echo task lost an item"
    return rate(size, elapsed)


async def channel_pingpong_unbuffered(trio_like: ModuleType, size: int) -> Sample:
    """``size`` round trips between two tasks over two ``open_memory_channel(0)``."""
    return await _pingpong(trio_like, size, 0)


async def channel_pingpong_unbounded(trio_like: ModuleType, size: int) -> Sample:
    """``size`` round trips between two tasks over two ``open_memory_channel(math.inf)``."""
    return await _pingpong(trio_like, size, math.inf)


async def channel_fan_in(trio_like: ModuleType, size: int) -> Sample:
    """10 producers send ``size / 10`` items each into one channel of buffer 100; one consumer."""
    per_producer = size // FAN_IN_PRODUCERS
    total = per_producer * FAN_IN_PRODUCERS
    send_channel, receive_channel = trio_like.open_memory_channel(FAN_IN_BUFFER)

    async def producer() -> None:
        send = send_channel.send
        for i in range(per_producer):
            await send(i)

    async with trio_like.open_nursery() as nursery:
        t0 = perf_counter()
        for _ in range(FAN_IN_PRODUCERS):
            nursery.start_soon(producer)
        receive = receive_channel.receive
        for _ in range(total):
            await receive()
        elapsed = perf_counter() - t0
    return rate(total, elapsed)


async def _contend(trio_like: ModuleType, size: int, primitive: Any) -> Sample:
    sleep = trio_like.sleep
    per_task = size // CONTENDERS

    async def worker() -> None:
        for _ in range(per_task):
            async with primitive:
                await sleep(0)

    t0 = perf_counter()
    async with trio_like.open_nursery() as nursery:
        for _ in range(CONTENDERS):
            nursery.start_soon(worker)
    return rate(per_task * CONTENDERS, perf_counter() - t0)


async def semaphore(trio_like: ModuleType, size: int) -> Sample:
    """50 tasks share ``Semaphore(3)``: acquire, ``sleep(0)``, release; ``size`` acquisitions in all."""
    return await _contend(trio_like, size, trio_like.Semaphore(SEMAPHORE_TOKENS))


async def lock(trio_like: ModuleType, size: int) -> Sample:
    """50 tasks share a ``Lock``: acquire, ``sleep(0)``, release; ``size`` acquisitions in all."""
    return await _contend(trio_like, size, trio_like.Lock())


async def _event_round(trio_like: ModuleType) -> float:
    sleep = trio_like.sleep
    event = trio_like.Event()
    blocked = woken = 0
    t_all_woke = 0.0

    async def waiter() -> None:
        nonlocal blocked, woken, t_all_woke
        blocked += 1
        await event.wait()
        woken += 1
        if woken == EVENT_WAITERS:
            t_all_woke = perf_counter()

    async with trio_like.open_nursery() as nursery:
        for _ in range(EVENT_WAITERS):
            nursery.start_soon(waiter)
        while blocked < EVENT_WAITERS:
            await sleep(0)
        t0 = perf_counter()
        event.set()
    assert woken == EVENT_WAITERS, "set() did not wake every waiter"
    return t_all_woke - t0


async def event_wakeup(trio_like: ModuleType, size: int) -> Sample:
    """``size`` rounds: 1,000 tasks blocked in ``Event.wait()``; time from ``set()`` until the last woke."""
    elapsed = 0.0
    for _ in range(size):
        elapsed += await _event_round(trio_like)
    return rate(size * EVENT_WAITERS, elapsed)
