"""asyncio twins of ``sync.py``, run on asyncio's own loop and on uvloop.

Channels become ``asyncio.Queue`` (``Queue(1)`` for an unbuffered channel,
the closest asyncio has; ``Queue()`` for an unbounded one).
"""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any

from ._common import Sample, rate
from .sync import CONTENDERS, EVENT_WAITERS, FAN_IN_BUFFER, FAN_IN_PRODUCERS, SEMAPHORE_TOKENS


async def _pingpong(size: int, maxsize: int) -> Sample:
    ping: asyncio.Queue[int] = asyncio.Queue(maxsize)
    pong: asyncio.Queue[int] = asyncio.Queue(maxsize)

    async def echo() -> None:
        get = ping.get
        put = pong.put
        for _ in range(size):
            await put(await get())

    async with asyncio.TaskGroup() as group:
        group.create_task(echo())
        put = ping.put
        get = pong.get
        t0 = perf_counter()
        last = -1
        for i in range(size):
            await put(i)
            last = await get()
        elapsed = perf_counter() - t0
    assert last == size - 1, "the echo task lost an item"
    return rate(size, elapsed)


async def channel_pingpong_unbuffered(size: int) -> Sample:
    return await _pingpong(size, 1)


async def channel_pingpong_unbounded(size: int) -> Sample:
    return await _pingpong(size, 0)


async def channel_fan_in(size: int) -> Sample:
    per_producer = size // FAN_IN_PRODUCERS
    total = per_producer * FAN_IN_PRODUCERS
    queue: asyncio.Queue[int] = asyncio.Queue(FAN_IN_BUFFER)

    async def producer() -> None:
        put = queue.put
        for i in range(per_producer):
            await put(i)

    async with asyncio.TaskGroup() as group:
        t0 = perf_counter()
        for _ in range(FAN_IN_PRODUCERS):
            group.create_task(producer())
        get = queue.get
        for _ in range(total):
            await get()
        elapsed = perf_counter() - t0
    return rate(total, elapsed)


async def _contend(size: int, primitive: Any) -> Sample:
    sleep = asyncio.sleep
    per_task = size // CONTENDERS

    async def worker() -> None:
        for _ in range(per_task):
            async with primitive:
                await sleep(0)

    t0 = perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(CONTENDERS):
            group.create_task(worker())
    return rate(per_task * CONTENDERS, perf_counter() - t0)


async def semaphore(size: int) -> Sample:
    return await _contend(size, asyncio.Semaphore(SEMAPHORE_TOKENS))


async def lock(size: int) -> Sample:
    return await _contend(size, asyncio.Lock())


async def _event_round() -> float:
    event = asyncio.Event()
    blocked = woken = 0
    t_all_woke = 0.0

    async def waiter() -> None:
        nonlocal blocked, woken, t_all_woke
        blocked += 1
        await event.wait()
        woken += 1
        if woken == EVENT_WAITERS:
            t_all_woke = perf_counter()

    async with asyncio.TaskGroup() as group:
        for _ in range(EVENT_WAITERS):
            group.create_task(waiter())
        while blocked < EVENT_WAITERS:
            await asyncio.sleep(0)
        t0 = perf_counter()
        event.set()
    assert woken == EVENT_WAITERS, "set() did not wake every waiter"
    return t_all_woke - t0


async def event_wakeup(size: int) -> Sample:
    elapsed = 0.0
    for _ in range(size):
        elapsed += await _event_round()
    return rate(size * EVENT_WAITERS, elapsed)
