"""Core scheduling scenarios (issue 3), written once against the trio API.

Every function takes ``trio_like`` (the module ``trio`` or ``tether``) and a
``size`` (loop iterations, tasks or rounds, as each docstring says) and is run
with ``trio_like.run(fn, trio_like, size)``. Only public trio names are used.
"""

from __future__ import annotations

import gc
import tracemalloc
from time import perf_counter
from types import ModuleType

from ._common import Sample, rate

SWITCH_TASKS = 100
SPAWN_BATCH = 10_000
TIMER_TASKS = 10_000
CANCEL_TASKS = 30_000


async def _noop() -> None:
    pass


async def checkpoint(trio_like: ModuleType, size: int) -> Sample:
    """One task awaiting ``sleep(0)`` ``size`` times."""
    sleep = trio_like.sleep
    t0 = perf_counter()
    for _ in range(size):
        await sleep(0)
    return rate(size, perf_counter() - t0)


async def switch(trio_like: ModuleType, size: int) -> Sample:
    """100 tasks taking turns, each awaiting ``sleep(0)`` ``size / 100`` times."""
    sleep = trio_like.sleep
    per_task = size // SWITCH_TASKS

    async def spinner() -> None:
        for _ in range(per_task):
            await sleep(0)

    t0 = perf_counter()
    async with trio_like.open_nursery() as nursery:
        for _ in range(SWITCH_TASKS):
            nursery.start_soon(spinner)
    return rate(per_task * SWITCH_TASKS, perf_counter() - t0)


async def spawn(trio_like: ModuleType, size: int) -> Sample:
    """``size`` trivial tasks, started with ``start_soon`` in nurseries of 10,000 and run to the end."""
    open_nursery = trio_like.open_nursery
    batches = max(1, size // SPAWN_BATCH)
    t0 = perf_counter()
    for _ in range(batches):
        async with open_nursery() as nursery:
            start_soon = nursery.start_soon
            for _ in range(SPAWN_BATCH):
                start_soon(_noop)
    return rate(batches * SPAWN_BATCH, perf_counter() - t0)


async def nursery_churn(trio_like: ModuleType, size: int) -> Sample:
    """Open and close ``size`` nurseries, each with one trivial child."""
    open_nursery = trio_like.open_nursery
    t0 = perf_counter()
    for _ in range(size):
        async with open_nursery() as nursery:
            nursery.start_soon(_noop)
    return rate(size, perf_counter() - t0)


async def timeouts(trio_like: ModuleType, size: int) -> Sample:
    """Enter and exit ``move_on_after(10)`` around one ``sleep(0)``, ``size`` times."""
    sleep = trio_like.sleep
    move_on_after = trio_like.move_on_after
    t0 = perf_counter()
    for _ in range(size):
        with move_on_after(10):
            await sleep(0)
    return rate(size, perf_counter() - t0)


async def timers(trio_like: ModuleType, size: int) -> Sample:
    """``size`` rounds of 10,000 tasks, task ``i`` sleeping ``i`` microseconds; wall time of spawn-to-exit."""
    sleep = trio_like.sleep
    open_nursery = trio_like.open_nursery
    elapsed = 0.0
    for _ in range(size):
        t0 = perf_counter()
        async with open_nursery() as nursery:
            start_soon = nursery.start_soon
            for i in range(TIMER_TASKS):
                start_soon(sleep, i * 1e-6)
        round_elapsed = perf_counter() - t0
        # The longest sleep is (TIMER_TASKS - 1) µs: finishing sooner means nobody slept.
        assert round_elapsed >= (TIMER_TASKS - 1) * 1e-6, "tasks did not sleep"
        elapsed += round_elapsed
    return rate(size * TIMER_TASKS, elapsed)


async def _cancel_round(trio_like: ModuleType) -> float:
    sleep = trio_like.sleep
    sleep_forever = trio_like.sleep_forever
    blocked = 0

    async def sleeper() -> None:
        nonlocal blocked
        blocked += 1
        await sleep_forever()

    async with trio_like.open_nursery() as nursery:
        for _ in range(CANCEL_TASKS):
            nursery.start_soon(sleeper)
        while blocked < CANCEL_TASKS:
            await sleep(0)
        t0 = perf_counter()
        nursery.cancel_scope.cancel()
    return perf_counter() - t0


async def cancel_many(trio_like: ModuleType, size: int) -> Sample:
    """``size`` rounds: 30,000 tasks in ``sleep_forever()``, cancelled at once by the nursery's
    cancel scope; only cancel() to nursery exit is timed."""
    elapsed = 0.0
    for _ in range(size):
        elapsed += await _cancel_round(trio_like)
    return rate(size * CANCEL_TASKS, elapsed)


async def memory_per_task(trio_like: ModuleType, size: int) -> Sample:
    """Traced bytes per task while ``size`` tasks are blocked in ``Event.wait()``.

    Live memory after a full collection, with all tasks blocked, minus the same
    just before the first spawn (inside the open nursery), divided by ``size``.
    """
    sleep = trio_like.sleep
    event = trio_like.Event()
    blocked = 0

    async def waiter() -> None:
        nonlocal blocked
        blocked += 1
        await event.wait()

    t0 = perf_counter()
    tracemalloc.start()
    try:
        async with trio_like.open_nursery() as nursery:
            gc.collect()
            baseline = tracemalloc.get_traced_memory()[0]
            for _ in range(size):
                nursery.start_soon(waiter)
            while blocked < size:
                await sleep(0)
            gc.collect()
            used = tracemalloc.get_traced_memory()[0] - baseline
            event.set()
    finally:
        tracemalloc.stop()
    return Sample(used / size, perf_counter() - t0)
