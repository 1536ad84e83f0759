"""The asyncio bridge (issue 8): the cost of one ``aio_await`` round trip.

tether only: the bridge is tether's own module, so on trio the import fails
and the cell reads "n/a" (trio's counterpart, trio-asyncio, is not a
dependency).  The child already runs this function inside ``tether.run``,
and a bridged run cannot nest in it, so the measurement runs
``tether.asyncio_bridge.run`` (asyncio's own loop as host) in a worker
thread while the outer run waits; nothing else runs meanwhile.
"""

from __future__ import annotations

import importlib
from time import perf_counter
from types import ModuleType

from ._common import Sample, rate


async def _trivial() -> int:
    return 1


async def _timed_round_trips(bridge: ModuleType, size: int) -> Sample:
    aio_await = bridge.aio_await
    t0 = perf_counter()
    for _ in range(size):
        await aio_await(_trivial())
    elapsed = perf_counter() - t0
    assert await aio_await(_trivial()) == 1, "the asyncio result was lost"
    return rate(size, elapsed)


async def aio_await_round_trip(trio_like: ModuleType, size: int) -> Sample:
    """``size`` sequential ``aio_await(coro())`` of a coroutine that returns at once."""
    bridge = importlib.import_module(f"{trio_like.__name__}.asyncio_bridge")
    sample: Sample = await trio_like.to_thread.run_sync(bridge.run, _timed_round_trips, bridge, size)
    return sample
