"""trio-parallel: CPU-bound functions in worker processes.

``run_sync`` runs a function in a worker process (several at once, under a
``CapacityLimiter``), brings back its result or its exception, and with
``kill_on_cancel=True`` a cancellation kills a worker that is stuck in a
blocking call; a worker that dies is a ``BrokenWorkerError``.
``open_worker_context`` gives workers of their own, with an ``init`` and a
``retire`` policy; ``cache_scope`` does the same for ``run_sync`` in a block.
The workers are spawned processes that import this file as a module (hence
the ``__main__`` guard).  The last line names the runtime.
"""

from __future__ import annotations

import os
import time
from functools import partial

import trio
import trio_parallel

# Worker state lives in the worker's environment: a global of this file
# would not do, since cloudpickle (when installed) sends functions of the
# main module by value, each with its own copy of the globals.
JOBS = "TRIO_PARALLEL_PROGRAM_JOBS"


def count_primes(limit: int) -> int:
    sieve = bytearray([1]) * limit
    sieve[0:2] = b"\x00\x00"
    for n in range(2, int(limit**0.5) + 1):
        if sieve[n]:
            sieve[n * n :: n] = bytes(len(range(n * n, limit, n)))
    return sum(sieve)


def worker_pid() -> int:
    return os.getpid()


def fails(word: str) -> None:
    raise ValueError(f"worker says {word}")


def blocks_forever() -> None:
    time.sleep(60)


def dies() -> None:
    os._exit(3)


def init_worker() -> None:
    os.environ[JOBS] = "100"


def count_jobs() -> int:
    jobs = int(os.environ.get(JOBS, "0")) + 1
    os.environ[JOBS] = str(jobs)
    return jobs


def retire_after_two() -> bool:
    return int(os.environ.get(JOBS, "0")) >= 102


async def main() -> None:
    limiter = trio.CapacityLimiter(2)
    results: dict[int, int] = {}

    async def compute(limit: int) -> None:
        results[limit] = await trio_parallel.run_sync(count_primes, limit, limiter=limiter)

    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            for limit in (10, 1000, 100_000):
                nursery.start_soon(compute, limit)
        print("primes", sorted(results.items()))
        print("worker is another process", await trio_parallel.run_sync(worker_pid) != os.getpid())

        try:
            await trio_parallel.run_sync(fails, "no")
        except ValueError as error:
            print("error from the worker:", repr(error))

        start = trio.current_time()
        with trio.move_on_after(0.5) as scope:
            await trio_parallel.run_sync(blocks_forever, kill_on_cancel=True)
        print("kill_on_cancel", scope.cancelled_caught, trio.current_time() - start < 5)

        try:
            await trio_parallel.run_sync(dies)
        except trio_parallel.BrokenWorkerError as error:
            print("BrokenWorkerError exit code", error.args[-1].exitcode)

        async with trio_parallel.open_worker_context(init=init_worker, retire=retire_after_two) as ctx:
            counts = [await ctx.run_sync(count_jobs) for _ in range(4)]
            print("worker context", counts, ctx.statistics().idle_workers <= 1)

        async with trio_parallel.cache_scope(init=init_worker):
            print("cache_scope", await trio_parallel.run_sync(count_jobs))
            print("cache_scope partial", await trio_parallel.run_sync(partial(count_primes, 30)))
    print("runtime:", trio.__name__)


if __name__ == "__main__":
    trio.run(main)
