"""Differential fuzzing of ParkingLot, memory channels and the sync primitives against trio.

Each scenario is a seeded random sequence of operations (spawn a waiter, cancel
one, unpark, repark, break, send, receive, clone, close, notify, release, ...),
with ``wait_all_tasks_blocked()`` after each so the outcome does not depend on
the order tasks run within a batch.  It runs once on trio and once on tether,
in this process, and what each observed must be the same: the events of each
step (as a set) and the statistics after it.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest
import trio
import trio.testing

import tether
import tether.testing

SEEDS = range(60)
STEPS = 30
CHANNEL_STATISTICS = (
    "current_buffer_used",
    "max_buffer_size",
    "open_send_channels",
    "open_receive_channels",
    "tasks_waiting_send",
    "tasks_waiting_receive",
    "peak_buffer_used",
)

Log = list[Any]


def _observe(impl: ModuleType, body: Callable[[ModuleType, random.Random, Log], Any], seed: int) -> Log:
    log: Log = []
    impl.run(body, impl, random.Random(seed), log, clock=impl.testing.MockClock(autojump_threshold=0))
    # Within one step, events may come in any order: compare them as sets.
    steps: Log = []
    chunk: list[str] = []
    for event in log:
        if event[0] == "stats":
            steps.append((sorted(chunk), event))
            chunk = []
        else:
            chunk.append(repr(event))
    steps.append((sorted(chunk), None))
    return steps


async def _parking_lots(impl: ModuleType, rng: random.Random, log: Log) -> None:
    lots = [impl.lowlevel.ParkingLot() for _ in range(3)]
    scopes: list[Any] = []

    async def parker(n: int, lot: Any, scope: Any) -> None:
        with scope:
            try:
                await lot.park()
                log.append(("woken", n))
            except impl.BrokenResourceError:
                log.append(("broken", n))
            return
        log.append(("cancelled", n))

    async with impl.open_nursery() as nursery:
        for _ in range(STEPS):
            lot = rng.choice(lots)
            op = rng.random()
            if op < 0.35:
                scopes.append(impl.CancelScope())
                nursery.start_soon(parker, len(scopes), lot, scopes[-1])
            elif op < 0.5 and scopes:
                rng.choice(scopes).cancel()
            elif op < 0.65:
                lot.unpark(count=rng.choice([0, 1, 2, 5, math.inf]))
            elif op < 0.8:
                lot.repark(rng.choice(lots), count=rng.choice([1, 2, math.inf]))
            elif op < 0.83:
                lot.break_lot()
            elif op < 0.9:
                lot.unpark_all()
            await impl.testing.wait_all_tasks_blocked()
            log.append(("stats", [len(each) for each in lots]))
        nursery.cancel_scope.cancel()


async def _channels(impl: ModuleType, rng: random.Random, log: Log) -> None:
    first_send, first_receive = impl.open_memory_channel(rng.choice([0, 0, 1, 2, math.inf]))
    sends, receives = [first_send], [first_receive]
    scopes: list[Any] = []

    async def sender(n: int, handle: Any, scope: Any) -> None:
        with scope:
            try:
                await handle.send(n)
                log.append(("sent", n))
            except (impl.BrokenResourceError, impl.ClosedResourceError) as exc:
                log.append(("send failed", n, type(exc).__name__))
            return
        log.append(("send cancelled", n))

    async def receiver(n: int, handle: Any, scope: Any) -> None:
        with scope:
            try:
                log.append(("received", n, await handle.receive()))
            except (impl.EndOfChannel, impl.ClosedResourceError) as exc:
                log.append(("receive failed", n, type(exc).__name__))
            return
        log.append(("receive cancelled", n))

    async with impl.open_nursery() as nursery:
        for step in range(STEPS):
            op = rng.random()
            try:
                if op < 0.25:
                    scopes.append(impl.CancelScope())
                    nursery.start_soon(sender, len(scopes), rng.choice(sends), scopes[-1])
                elif op < 0.5:
                    scopes.append(impl.CancelScope())
                    nursery.start_soon(receiver, len(scopes), rng.choice(receives), scopes[-1])
                elif op < 0.6 and scopes:
                    rng.choice(scopes).cancel()
                elif op < 0.68:
                    rng.choice(sends).send_nowait(1000 + step)
                elif op < 0.76:
                    log.append(("received now", rng.choice(receives).receive_nowait()))
                elif op < 0.82:
                    handles = rng.choice([sends, receives])
                    handles.append(rng.choice(handles).clone())
                elif op < 0.88:
                    rng.choice(rng.choice([sends, receives])).close()
            except Exception as exc:
                log.append(("failed now", step, type(exc).__name__))
            await impl.testing.wait_all_tasks_blocked()
            stats = first_send.statistics()
            log.append(("stats", [getattr(stats, name) for name in CHANNEL_STATISTICS]))
        nursery.cancel_scope.cancel()


async def _primitives(impl: ModuleType, rng: random.Random, log: Log) -> None:
    lock = impl.Lock()
    semaphore = impl.Semaphore(rng.randrange(3), max_value=rng.choice([None, 3]))
    condition = impl.Condition()
    limiter = impl.CapacityLimiter(rng.randrange(3))
    event = impl.Event()
    scopes: list[Any] = []
    done: list[Any] = []

    async def worker(n: int, kind: str, scope: Any, finish: Any) -> None:
        with scope:
            try:
                if kind == "lock":
                    async with lock:
                        log.append(("locked", n))
                        await finish.wait()
                elif kind == "semaphore":
                    async with semaphore:
                        log.append(("acquired", n))
                        await finish.wait()
                elif kind == "condition":
                    async with condition:
                        await condition.wait()
                        log.append(("notified", n))
                        await finish.wait()
                elif kind == "limiter":
                    async with limiter:
                        log.append(("borrowed", n))
                        await finish.wait()
                else:
                    await event.wait()
                log.append(("done", n))
            except ValueError as exc:
                log.append(("failed", n, str(exc)))
            return
        log.append(("cancelled", n))

    async def notifier(every: bool) -> None:
        async with condition:
            if every:
                condition.notify_all()
            else:
                condition.notify(rng.choice([1, 2]))

    async with impl.open_nursery() as nursery:
        for _ in range(STEPS):
            op = rng.random()
            if op < 0.4:
                scopes.append(impl.CancelScope())
                done.append(impl.Event())
                kind = rng.choice(["lock", "semaphore", "condition", "limiter", "event"])
                nursery.start_soon(worker, len(scopes), kind, scopes[-1], done[-1])
            elif op < 0.55 and scopes:
                rng.choice(scopes).cancel()
            elif op < 0.7 and done:
                rng.choice(done).set()
            elif op < 0.8:
                nursery.start_soon(notifier, rng.random() < 0.3)
            elif op < 0.83:
                event.set()
            elif op < 0.88:
                try:
                    semaphore.release()
                except ValueError:
                    log.append(("released too often",))
            elif op < 0.92:
                limiter.total_tokens = rng.randrange(4)
            await impl.testing.wait_all_tasks_blocked()
            log.append(
                (
                    "stats",
                    lock.statistics().tasks_waiting,
                    lock.locked(),
                    semaphore.value,
                    semaphore.statistics().tasks_waiting,
                    condition.statistics().tasks_waiting,
                    condition.statistics().lock_statistics.tasks_waiting,
                    limiter.borrowed_tokens,
                    limiter.statistics().tasks_waiting,
                    event.statistics().tasks_waiting,
                )
            )
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("body", [_parking_lots, _channels, _primitives], ids=lambda f: f.__name__)
def test_random_operations_observe_the_same_as_trio(body: Any) -> None:
    for seed in SEEDS:
        assert _observe(tether, body, seed) == _observe(trio, body, seed), f"seed {seed}"
