"""White-box tests of ParkingLot's lazy deletion: dead entries, compaction, idle lots.

A cancelled waiter leaves a dead entry in the lot's queue instead of being
removed at once; these tests check that dead entries never change who is
woken, never pile up, and never keep a finished task alive.
"""

from __future__ import annotations

import gc
import weakref
from collections.abc import Callable
from typing import Any

import tether
from tether import lowlevel
from tether.testing import wait_all_tasks_blocked

Run = Callable[..., Any]


def _queue_length(lot: lowlevel.ParkingLot) -> int:
    # Live and dead entries together (the queue is created on first park).
    queue = lot._aborts
    return 0 if queue is None else len(queue)


def test_cancelled_then_reparked_task_goes_to_the_back(run: Run) -> None:
    # The dead entry of the first wait must not be mistaken for the second.
    lot = lowlevel.ParkingLot()
    woken: list[str] = []

    async def parker(name: str, scope: tether.CancelScope) -> None:
        with scope:
            await lot.park()
            woken.append(name)

    async def parks_twice(scope: tether.CancelScope) -> None:
        with scope:
            await lot.park()
        await lot.park()
        woken.append("twice")

    async def main() -> None:
        first_scope = tether.CancelScope()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(parks_twice, first_scope)
            await wait_all_tasks_blocked()
            nursery.start_soon(parker, "other", tether.CancelScope())
            await wait_all_tasks_blocked()
            first_scope.cancel()  # parks_twice parks again, behind "other"
            await wait_all_tasks_blocked()
            assert len(lot) == 2
            lot.unpark()
            await wait_all_tasks_blocked()
            assert woken == ["other"]
            lot.unpark()

    run(main)
    assert woken == ["other", "twice"]


def test_dead_entries_are_compacted(run: Run) -> None:
    lot = lowlevel.ParkingLot()

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(lot.park)  # one waiter stays throughout
            await wait_all_tasks_blocked()
            for _ in range(500):
                with tether.move_on_after(1):
                    await lot.park()
            assert len(lot) == 1
            assert _queue_length(lot) < 40
            lot.unpark_all()

    run(main)


def test_idle_lot_keeps_no_finished_task_alive(run: Run) -> None:
    lot = lowlevel.ParkingLot()
    refs: list[weakref.ref[lowlevel.Task]] = []

    async def woken() -> None:
        refs.append(weakref.ref(lowlevel.current_task()))
        await lot.park()

    async def cancelled() -> None:
        refs.append(weakref.ref(lowlevel.current_task()))
        with tether.move_on_after(1):
            await lot.park()

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            # One at a time, so `woken` parks first whatever the batch order.
            nursery.start_soon(woken)
            await wait_all_tasks_blocked()
            nursery.start_soon(cancelled)
            await wait_all_tasks_blocked()
            lot.unpark()

    run(main)
    gc.collect()
    assert [ref() for ref in refs] == [None, None]
    assert _queue_length(lot) == 0


def test_closing_a_channel_handle_fails_only_its_live_waiters(run: Run) -> None:
    # Dead entries of cancelled receivers sit next to live ones of both handles.
    send_channel, receive_channel = tether.open_memory_channel[str](0)
    other = receive_channel.clone()
    record: list[tuple[str, str]] = []

    async def receive(name: str, handle: Any) -> None:
        try:
            record.append((name, await handle.receive()))
        except tether.ClosedResourceError:
            record.append((name, "closed"))

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            for _ in range(30):
                with tether.move_on_after(1):
                    await receive_channel.receive()
            nursery.start_soon(receive, "mine", receive_channel)
            await wait_all_tasks_blocked()
            nursery.start_soon(receive, "other", other)
            await wait_all_tasks_blocked()
            receive_channel.close()
            await wait_all_tasks_blocked()
            assert send_channel.statistics().tasks_waiting_receive == 1
            send_channel.send_nowait("value")

    run(main)
    assert record == [("mine", "closed"), ("other", "value")]


def test_lazily_created_queue_keeps_tasks_reparked_into_it(run: Run) -> None:
    # The target lot had never been parked in: repark creates its queue, and
    # the next park must append to that queue, not start a new one.
    old_lot = lowlevel.ParkingLot()
    new_lot = lowlevel.ParkingLot()
    parked: list[lowlevel.Task] = []

    async def parker(lot: lowlevel.ParkingLot) -> None:
        parked.append(lowlevel.current_task())
        await lot.park()

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(parker, old_lot)
            await wait_all_tasks_blocked()
            old_lot.repark_all(new_lot)
            nursery.start_soon(parker, new_lot)
            await wait_all_tasks_blocked()
            assert len(new_lot) == 2
            assert new_lot.unpark_all() == parked

    run(main)
