"""asyncio twins of ``core.py``, run on asyncio's own loop and on uvloop.

Each twin does the same work as the trio-API scenario of the same name, in
the idiom an asyncio user would write (TaskGroup for a nursery,
``asyncio.timeout`` for ``move_on_after``, ``Task.cancel`` for a cancel scope).
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from time import perf_counter

from ._common import Sample, rate
from .core import CANCEL_TASKS, SPAWN_BATCH, SWITCH_TASKS, TIMER_TASKS


async def _noop() -> None:
    pass


async def checkpoint(size: int) -> Sample:
    sleep = asyncio.sleep
    t0 = perf_counter()
    for _ in range(size):
        await sleep(0)
    return rate(size, perf_counter() - t0)


async def switch(size: int) -> Sample:
    sleep = asyncio.sleep
    per_task = size // SWITCH_TASKS

    async def spinner() -> None:
        for _ in range(per_task):
            await sleep(0)

    t0 = perf_counter()
    async with asyncio.TaskGroup() as group:
        for _ in range(SWITCH_TASKS):
            group.create_task(spinner())
    return rate(per_task * SWITCH_TASKS, perf_counter() - t0)


async def spawn(size: int) -> Sample:
    batches = max(1, size // SPAWN_BATCH)
    t0 = perf_counter()
    for _ in range(batches):
        async with asyncio.TaskGroup() as group:
            create_task = group.create_task
            for _ in range(SPAWN_BATCH):
                create_task(_noop())
    return rate(batches * SPAWN_BATCH, perf_counter() - t0)


async def nursery_churn(size: int) -> Sample:
    task_group = asyncio.TaskGroup
    t0 = perf_counter()
    for _ in range(size):
        async with task_group() as group:
            group.create_task(_noop())
    return rate(size, perf_counter() - t0)


async def timeouts(size: int) -> Sample:
    sleep = asyncio.sleep
    timeout = asyncio.timeout
    t0 = perf_counter()
    for _ in range(size):
        async with timeout(10):
            await sleep(0)
    return rate(size, perf_counter() - t0)


async def timers(size: int) -> Sample:
    sleep = asyncio.sleep
    elapsed = 0.0
    for _ in range(size):
        t0 = perf_counter()
        async with asyncio.TaskGroup() as group:
            create_task = group.create_task
            for i in range(TIMER_TASKS):
                create_task(sleep(i * 1e-6))
        round_elapsed = perf_counter() - t0
        # The longest sleep is (TIMER_TASKS - 1) µs: finishing sooner means nobody slept.
        assert round_elapsed >= (TIMER_TASKS - 1) * 1e-6, "tasks did not sleep"
        elapsed += round_elapsed
    return rate(size * TIMER_TASKS, elapsed)


async def _cancel_round() -> float:
    loop = asyncio.get_running_loop()
    blocked = 0

    async def sleeper() -> None:
        nonlocal blocked
        blocked += 1
        await loop.create_future()  # like sleep_forever(): no timer, only a waiter

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(sleeper()) for _ in range(CANCEL_TASKS)]
        while blocked < CANCEL_TASKS:
            await asyncio.sleep(0)
        t0 = perf_counter()
        for task in tasks:
            task.cancel()
    return perf_counter() - t0


async def cancel_many(size: int) -> Sample:
    elapsed = 0.0
    for _ in range(size):
        elapsed += await _cancel_round()
    return rate(size * CANCEL_TASKS, elapsed)


async def memory_per_task(size: int) -> Sample:
    event = asyncio.Event()
    blocked = 0

    async def waiter() -> None:
        nonlocal blocked
        blocked += 1
        await event.wait()

    t0 = perf_counter()
    tracemalloc.start()
    try:
        async with asyncio.TaskGroup() as group:
            gc.collect()
            baseline = tracemalloc.get_traced_memory()[0]
            for _ in range(size):
                group.create_task(waiter())
            while blocked < size:
                await asyncio.sleep(0)
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - baseline
            event.set()
    finally:
        tracemalloc.stop()
    return Sample(used / size, perf_counter() - t0)
