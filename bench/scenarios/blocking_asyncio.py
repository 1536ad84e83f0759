"""asyncio twins of ``blocking.py``, run on asyncio's own loop and on uvloop.

asyncio has no async file API, so the twin of ``file_lines`` is what an
asyncio program does: a plain synchronous ``for line in f`` (blocking the
loop).  It is the baseline of the issue's "at least 0.25x a sync loop" target.
"""

from __future__ import annotations

import asyncio
import os
import sys
from time import perf_counter

from ._common import Sample, rate
from .blocking import lines_file


async def file_lines(size: int) -> Sample:
    path = lines_file(size)
    try:
        t0 = perf_counter()
        count = 0
        with open(path) as f:
            for _line in f:
                count += 1
        elapsed = perf_counter() - t0
    finally:
        os.unlink(path)
    assert count == size, "lines were lost"
    return rate(count, elapsed)


async def to_thread_round_trip(size: int) -> Sample:
    def nothing() -> None:
        pass

    t0 = perf_counter()
    for _ in range(size):
        await asyncio.to_thread(nothing)
    return rate(size, perf_counter() - t0)


async def run_process(size: int) -> Sample:
    t0 = perf_counter()
    for _ in range(size):
        process = await asyncio.create_subprocess_exec(sys.executable, "-c", "pass")
        await process.wait()
    return rate(size, perf_counter() - t0)
