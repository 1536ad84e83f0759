"""trio-util's tools on virtual time: values, events, timeouts and iterators.

The run's clock is ``trio.testing.MockClock(autojump_threshold=0)``, so every
sleep takes no real time and every time printed is exact.  Covered:
``AsyncValue`` (``wait_value`` with a value, a predicate and ``held_for``,
``wait_transition``, ``transitions``, ``eventual_values``,
``open_transform``), ``compose_values``, ``AsyncBool``, ``RepeatedEvent``
(``wait``, ``events``, ``unqueued_events``), ``periodic`` with
``iter_move_on_after`` and ``iter_fail_after``, ``move_on_when``,
``run_and_cancelling``, ``wait_any``, ``wait_all``, ``azip``,
``azip_longest``, ``trio_async_generator`` (a generator that yields from
inside a nursery) and the ``TaskStats`` instrument.  The last line names the
runtime.
"""

from __future__ import annotations

import logging
import sys
from functools import partial

import trio
import trio.testing
from trio_util import (
    AsyncBool,
    AsyncValue,
    RepeatedEvent,
    TaskStats,
    azip,
    azip_longest,
    compose_values,
    iter_fail_after,
    iter_move_on_after,
    move_on_when,
    periodic,
    run_and_cancelling,
    trio_async_generator,
    wait_all,
    wait_any,
)


def now() -> float:
    return trio.current_time()


async def set_later(value: AsyncValue[int], steps: list[tuple[float, int]]) -> None:
    for delay, new in steps:
        await trio.sleep(delay)
        value.value = new


async def async_values() -> None:
    value = AsyncValue(0)
    start = now()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(set_later, value, [(1, 1), (1, 2), (1, 3), (0.5, 4), (2, 5)])
        print("wait_value 2 ->", await value.wait_value(2), "at", now() - start)
        old_and_new = await value.wait_transition()
        print("wait_transition ->", old_and_new, "at", now() - start)
        held = await value.wait_value(lambda v: v >= 4, held_for=1)
        print("held_for 1 ->", held, "at", now() - start)
    print("final", value.value, "at", now() - start)

    seen: list[tuple[int, int]] = []
    with value.open_transform(lambda v: v * 10) as tens:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                async for transition in tens.transitions():
                    seen.append(transition)
                    if transition[0] >= 70:
                        return

            nursery.start_soon(watch)
            await trio.testing.wait_all_tasks_blocked()
            for new in (6, 7):
                value.value = new
                await trio.testing.wait_all_tasks_blocked()
    print("transformed transitions", seen)

    eventual: list[int] = []
    async for current in value.eventual_values(lambda v: v % 2 == 1):
        eventual.append(current)
        if len(eventual) == 2:
            break
        value.value = 8
        value.value = 9
    print("eventual_values", eventual)


async def composed_and_bool() -> None:
    width, height = AsyncValue(2), AsyncValue(3)
    with compose_values(w=width, h=height) as size:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(set_later, width, [(1, 5)])
            composite = await size.wait_value(lambda s: s.w * s.h >= 15)
            print("compose_values", composite.w, composite.h)
    ready = AsyncBool()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(set_later, ready, [(0.25, True)])
        await ready.wait_value(True)
    print("AsyncBool", ready.value)


async def repeated_events() -> None:
    event = RepeatedEvent()
    hits: list[str] = []
    async with trio.open_nursery() as nursery:

        async def waiter() -> None:
            await event.wait()
            hits.append("wait")

        async def eventual() -> None:
            async for _ in event.events(repeat_last=True):
                hits.append("events")
                await trio.sleep(1)  # busy: misses one set, catches up after

        async def unqueued() -> None:
            async for _ in event.unqueued_events():
                hits.append("unqueued")
                await trio.sleep(1)  # busy: misses the second set for good

        for task in (waiter, eventual, unqueued):
            nursery.start_soon(task)
        await trio.testing.wait_all_tasks_blocked()
        event.set()
        await trio.sleep(0.5)
        event.set()
        await trio.sleep(2)
        nursery.cancel_scope.cancel()
    print("RepeatedEvent", sorted(hits))


async def timing_iterators() -> None:
    start = now()
    ticks = []
    async for elapsed, delta in periodic(0.25):
        ticks.append((elapsed, delta))
        if len(ticks) == 5:
            break
        await trio.sleep(0.5 if len(ticks) == 2 else 0.125)  # the second one overruns
    print("periodic", ticks, "at", now() - start)
    start = now()
    items = [item async for item in iter_move_on_after(1, delayed([0.5, 0.75, 2, 0.5]))]
    print("iter_move_on_after", items, "stopped at", now() - start)
    start = now()
    try:
        async for _ in iter_fail_after(1, delayed([0.5, 1.5])):
            pass
    except trio.TooSlowError:
        print("iter_fail_after TooSlowError at", now() - start)


async def scopes_and_waits() -> None:
    go = trio.Event()
    start = now()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(partial(trio.sleep, 2))
        nursery.start_soon(lambda: set_event_after(go, 1))
        async with move_on_when(go.wait) as scope:
            await trio.sleep(10)
    print("move_on_when", scope.cancelled_caught, "at", now() - start)

    background: list[str] = []

    async def forever() -> None:
        try:
            await trio.sleep_forever()
        finally:
            background.append("cancelled")

    async with run_and_cancelling(forever):
        await trio.sleep(0.5)
    print("run_and_cancelling", background)

    order: list[str] = []

    async def after(delay: float, name: str) -> None:
        await trio.sleep(delay)
        order.append(name)

    start = now()
    await wait_any(partial(after, 3, "slow"), partial(after, 1, "fast"))
    print("wait_any", order, "at", now() - start)
    order.clear()
    await wait_all(partial(after, 3, "slow"), partial(after, 1, "fast"))
    print("wait_all", order, "at", now() - start)


async def set_event_after(event: trio.Event, delay: float) -> None:
    await trio.sleep(delay)
    event.set()


async def delayed(delays: list[float]):  # type: ignore[no-untyped-def]
    for n, delay in enumerate(delays):
        await trio.sleep(delay)
        yield n


@trio_async_generator
async def with_a_helper(limit: int):  # type: ignore[no-untyped-def]
    async with trio.open_nursery() as nursery:
        ticks: list[int] = []

        async def helper() -> None:
            while True:
                await trio.sleep(1)
                ticks.append(1)

        nursery.start_soon(helper)
        for n in range(limit):
            await trio.sleep(1.25)
            yield n, len(ticks)
        nursery.cancel_scope.cancel()


async def iterators() -> None:
    start = now()
    pairs = [pair async for pair in azip(delayed([1, 1, 1]), delayed([2, 2, 2, 2, 2]))]
    print("azip", pairs, "at", now() - start)
    pairs = [pair async for pair in azip_longest(delayed([1]), delayed([1, 1]), fillvalue="-")]
    print("azip_longest", pairs)
    async with with_a_helper(3) as generated:
        print("trio_async_generator", [item async for item in generated])


async def main() -> None:
    with trio.fail_after(600):
        await async_values()
        await composed_and_bool()
        await repeated_events()
        await timing_iterators()
        await scopes_and_waits()
        await iterators()


logging.basicConfig(stream=sys.stdout, level=logging.INFO, format="%(name)s: %(message)s")
stats = TaskStats(high_rate_task_threshold=float("inf"))
trio.run(main, clock=trio.testing.MockClock(autojump_threshold=0), instruments=[stats])
print("runtime:", trio.__name__)
