"""asyncio twin of ``bridge.py``: the same trivial coroutine run as an asyncio task of
its own and awaited, the closest native counterpart of one ``aio_await`` round trip."""

from __future__ import annotations

import asyncio
from time import perf_counter

from ._common import Sample, rate


async def _trivial() -> int:
    return 1


async def aio_await_round_trip(size: int) -> Sample:
    create_task = asyncio.get_running_loop().create_task
    t0 = perf_counter()
    for _ in range(size):
        await create_task(_trivial())
    elapsed = perf_counter() - t0
    assert await create_task(_trivial()) == 1, "the result was lost"
    return rate(size, elapsed)
