"""Threads, files and subprocesses (issue 6), written once against the trio API.

Same conventions as ``core.py``: ``fn(trio_like, size)``, run by ``trio_like.run``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path
from time import perf_counter
from types import ModuleType

from ._common import Sample, rate

LINE_BYTES = 50  # 100,000 lines make the 5 MB file of the issue


def lines_file(lines: int) -> str:
    """A text file of ``lines`` lines of ``LINE_BYTES`` bytes, made once per size and process."""
    path = Path(tempfile.gettempdir()) / f"tether-bench-lines-{lines}-{os.getpid()}.txt"
    if not path.exists():
        with open(path, "w") as f:
            for i in range(lines):
                f.write(f"line {i} ".ljust(LINE_BYTES - 1, "x") + "\n")
    return str(path)


async def file_lines(trio_like: ModuleType, size: int) -> Sample:
    """``async for line in f`` over a text file of ``size`` lines (5 MB at 100,000), opened and closed."""
    path = lines_file(size)
    try:
        t0 = perf_counter()
        count = 0
        async with await trio_like.open_file(path) as f:
            async for _line in f:
                count += 1
        elapsed = perf_counter() - t0
    finally:
        os.unlink(path)
    assert count == size, "lines were lost"
    return rate(count, elapsed)


async def to_thread_round_trip(trio_like: ModuleType, size: int) -> Sample:
    """``size`` sequential ``to_thread.run_sync(lambda: None)`` calls."""
    run_sync = trio_like.to_thread.run_sync

    def nothing() -> None:
        pass

    t0 = perf_counter()
    for _ in range(size):
        await run_sync(nothing)
    return rate(size, perf_counter() - t0)


async def run_process(trio_like: ModuleType, size: int) -> Sample:
    """``size`` sequential ``run_process([sys.executable, "-c", "pass"])`` calls."""
    command = [sys.executable, "-c", "pass"]
    t0 = perf_counter()
    for _ in range(size):
        await trio_like.run_process(command)
    return rate(size, perf_counter() - t0)
