"""Black-box tests for lowlevel.ParkingLot, its breakers, and lowlevel.UnboundedQueue."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from types import ModuleType
from typing import Any

import pytest

Run = Callable[..., Any]


async def settle(impl: ModuleType) -> None:
    """Let every other task run until it blocks."""
    await impl.testing.wait_all_tasks_blocked()


class Parkers:
    """Spawns tasks that park in a lot one at a time, so arrival order is fixed."""

    def __init__(self, impl: ModuleType) -> None:
        self.impl = impl
        self.tasks: list[object] = []
        self.record: list[tuple[int, str]] = []

    async def park(self, n: int, lot: Any) -> None:
        self.tasks.append(self.impl.lowlevel.current_task())
        try:
            await lot.park()
        except self.impl.BrokenResourceError as exc:
            self.record.append((n, f"broken: {exc}"))
        else:
            self.record.append((n, "woken"))

    async def spawn(self, nursery: Any, lot: Any, count: int) -> None:
        for n in range(len(self.tasks), len(self.tasks) + count):
            nursery.start_soon(self.park, n, lot)
            await settle(self.impl)


# ---------------------------------------------------------------------------
# ParkingLot


def test_parking_lot_starts_empty(impl: ModuleType) -> None:
    lot = impl.lowlevel.ParkingLot()
    assert len(lot) == 0
    assert bool(lot) is False
    assert lot.statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=0)
    assert lot.broken_by == []


def test_parking_lot_len_bool_and_statistics_count_parked_tasks(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, lot, 3)
            assert len(lot) == 3
            assert bool(lot) is True
            assert lot.statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=3)
            lot.unpark_all()
            assert len(lot) == 0

    run(main)


def test_park_blocks_until_unpark(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    record: list[tuple[str, float]] = []

    async def parker() -> None:
        await lot.park()
        record.append(("woken", impl.current_time()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(parker)
            await impl.sleep(4)
            record.append(("unpark", impl.current_time()))
            lot.unpark()

    run(main)
    assert record == [("unpark", 4.0), ("woken", 4.0)]


def test_unpark_wakes_one_task_in_arrival_order_and_returns_it(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, lot, 3)
            for n in range(3):
                assert lot.unpark() == [parkers.tasks[n]]
                await settle(impl)

    run(main)
    assert parkers.record == [(0, "woken"), (1, "woken"), (2, "woken")]


def test_unpark_count_wakes_that_many_in_arrival_order(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, lot, 4)
            assert lot.unpark(count=2) == parkers.tasks[:2]
            assert len(lot) == 2
            await settle(impl)
            assert sorted(parkers.record) == [(0, "woken"), (1, "woken")]
            assert lot.unpark(count=10) == parkers.tasks[2:]
            assert len(lot) == 0

    run(main)


def test_unpark_count_inf_wakes_everyone(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, lot, 3)
            assert lot.unpark(count=math.inf) == parkers.tasks

    run(main)


def test_unpark_non_integer_count_raises_value_error(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="non-integer"):
        impl.lowlevel.ParkingLot().unpark(count=1.5)


def test_unpark_all_wakes_everyone_in_arrival_order(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, lot, 3)
            assert lot.unpark_all() == parkers.tasks
            assert lot.unpark_all() == []

    run(main)
    assert sorted(parkers.record) == [(0, "woken"), (1, "woken"), (2, "woken")]


def test_unpark_on_empty_lot_returns_empty_list(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        assert lot.unpark() == []
        assert lot.unpark(count=5) == []
        assert lot.unpark_all() == []

    run(main)


def test_repark_moves_tasks_preserving_order(impl: ModuleType, run: Run) -> None:
    old_lot = impl.lowlevel.ParkingLot()
    new_lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, old_lot, 4)
            old_lot.repark(new_lot)
            assert (len(old_lot), len(new_lot)) == (3, 1)
            old_lot.repark(new_lot, count=2)
            assert (len(old_lot), len(new_lot)) == (1, 3)
            await settle(impl)
            assert parkers.record == []
            assert new_lot.unpark_all() == parkers.tasks[:3]
            assert old_lot.unpark_all() == parkers.tasks[3:]

    run(main)


def test_repark_all_moves_everyone_behind_existing_parkers(impl: ModuleType, run: Run) -> None:
    old_lot = impl.lowlevel.ParkingLot()
    new_lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, new_lot, 1)
            await parkers.spawn(nursery, old_lot, 2)
            old_lot.repark_all(new_lot)
            assert (len(old_lot), len(new_lot)) == (0, 3)
            assert new_lot.unpark_all() == parkers.tasks

    run(main)


def test_repark_count_larger_than_parked_moves_what_is_there(impl: ModuleType, run: Run) -> None:
    old_lot = impl.lowlevel.ParkingLot()
    new_lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, old_lot, 2)
            old_lot.repark(new_lot, count=math.inf)
            assert (len(old_lot), len(new_lot)) == (0, 2)
            old_lot.repark(new_lot, count=7)
            new_lot.unpark_all()

    run(main)


def test_repark_to_something_else_raises_type_error(impl: ModuleType) -> None:
    with pytest.raises(TypeError, match="ParkingLot"):
        impl.lowlevel.ParkingLot().repark(object())


def test_reparked_task_is_no_longer_woken_by_old_lot(impl: ModuleType, run: Run) -> None:
    old_lot = impl.lowlevel.ParkingLot()
    new_lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, old_lot, 1)
            old_lot.repark_all(new_lot)
            assert old_lot.unpark() == []
            await settle(impl)
            assert parkers.record == []
            new_lot.unpark()

    run(main)
    assert parkers.record == [(0, "woken")]


def test_cancelled_parker_leaves_the_lot(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        with impl.move_on_after(3) as scope:
            await lot.park()
        assert scope.cancelled_caught is True
        assert impl.current_time() == 3.0
        assert lot.statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=0)

    run(main)


def test_cancelled_reparked_task_leaves_the_new_lot(impl: ModuleType, run: Run) -> None:
    old_lot = impl.lowlevel.ParkingLot()
    new_lot = impl.lowlevel.ParkingLot()

    async def parker() -> None:
        await old_lot.park()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(parker)
            await settle(impl)
            old_lot.repark_all(new_lot)
            nursery.cancel_scope.cancel()
        assert (len(old_lot), len(new_lot)) == (0, 0)

    run(main)


def test_cancelled_nursery_leaves_no_task_parked(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(lot.park)
            await settle(impl)
            assert len(lot) == 3
            nursery.cancel_scope.cancel()
        assert lot.statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=0)

    run(main)


def test_break_lot_raises_broken_resource_error_in_parked_tasks(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    parkers = Parkers(impl)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await parkers.spawn(nursery, lot, 2)
            lot.break_lot()
            assert len(lot) == 0

    run(main)
    assert sorted(n for n, _ in parkers.record) == [0, 1]
    assert all(message.startswith("broken: ") for _, message in parkers.record)
    assert all("broken by" in message for _, message in parkers.record)


def test_break_lot_defaults_to_current_task_as_breaker(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        lot.break_lot()
        assert lot.broken_by == [impl.lowlevel.current_task()]

    run(main)


def test_break_lot_records_the_given_task(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    other: list[object] = []

    async def child() -> None:
        other.append(impl.lowlevel.current_task())

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
        lot.break_lot(other[0])
        assert lot.broken_by == [other[0]]

    run(main)


def test_break_lot_twice_records_every_breaker(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    other: list[object] = []

    async def child() -> None:
        other.append(impl.lowlevel.current_task())

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
        me = impl.lowlevel.current_task()
        lot.break_lot()
        lot.break_lot(other[0])
        assert lot.broken_by == [me, other[0]]

    run(main)


def test_park_in_broken_lot_raises_broken_resource_error(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        lot.break_lot()
        with pytest.raises(impl.BrokenResourceError, match="broken by"):
            await lot.park()
        assert len(lot) == 0

    run(main)


def test_unpark_and_repark_on_broken_lot_do_nothing(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    other_lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        lot.break_lot()
        assert lot.unpark() == []
        assert lot.unpark_all() == []
        lot.repark_all(other_lot)
        assert len(other_lot) == 0

    run(main)


def test_parking_lot_methods_are_not_checkpoints(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    other_lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        with impl.testing.assert_no_checkpoints():
            lot.unpark()
            lot.unpark_all()
            lot.repark(other_lot)
            lot.repark_all(other_lot)
            lot.statistics()
            len(lot)
            lot.break_lot()

    run(main)


def test_park_is_a_checkpoint(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(_unpark_soon, impl, lot)
            with impl.testing.assert_checkpoints():
                await lot.park()

    run(main)


async def _unpark_soon(impl: ModuleType, lot: Any) -> None:
    await settle(impl)
    lot.unpark()


def test_parking_lot_created_outside_run_is_usable_in_two_runs(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> float:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(lot.park)
            await impl.sleep(1)
            assert lot.unpark() != []
        return float(impl.current_time())

    assert run(main) == 1.0
    assert run(main) == 1.0
    assert len(lot) == 0


# ---------------------------------------------------------------------------
# Parking lot breakers


def test_breaker_task_exiting_breaks_the_lot(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()
    breaker: list[object] = []
    parkers = Parkers(impl)

    async def guard() -> None:
        breaker.append(impl.lowlevel.current_task())
        impl.lowlevel.add_parking_lot_breaker(breaker[0], lot)
        await impl.sleep(2)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(guard)
            await parkers.spawn(nursery, lot, 1)
            await impl.sleep(1)
            assert parkers.record == []
        assert lot.broken_by == breaker
        assert impl.current_time() == 2.0

    run(main)
    assert [n for n, _ in parkers.record] == [0]
    assert "broken by" in parkers.record[0][1]


def test_removed_breaker_does_not_break_the_lot(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def guard() -> None:
        task = impl.lowlevel.current_task()
        impl.lowlevel.add_parking_lot_breaker(task, lot)
        impl.lowlevel.remove_parking_lot_breaker(task, lot)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(guard)
        assert lot.broken_by == []

    run(main)


def test_breaker_registered_twice_must_be_removed_twice(impl: ModuleType, run: Run) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        me = impl.lowlevel.current_task()
        impl.lowlevel.add_parking_lot_breaker(me, lot)
        impl.lowlevel.add_parking_lot_breaker(me, lot)
        impl.lowlevel.remove_parking_lot_breaker(me, lot)
        impl.lowlevel.remove_parking_lot_breaker(me, lot)
        with pytest.raises(RuntimeError, match="not registered"):
            impl.lowlevel.remove_parking_lot_breaker(me, lot)

    run(main)
    assert lot.broken_by == []


def test_add_parking_lot_breaker_for_exited_task_raises_broken_resource_error(
    impl: ModuleType, run: Run
) -> None:
    lot = impl.lowlevel.ParkingLot()
    exited: list[object] = []

    async def child() -> None:
        exited.append(impl.lowlevel.current_task())

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
        with pytest.raises(impl.BrokenResourceError, match="exited"):
            impl.lowlevel.add_parking_lot_breaker(exited[0], lot)
        assert lot.broken_by == []

    run(main)


def test_remove_unregistered_parking_lot_breaker_raises_runtime_error(
    impl: ModuleType, run: Run
) -> None:
    lot = impl.lowlevel.ParkingLot()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="not registered"):
            impl.lowlevel.remove_parking_lot_breaker(impl.lowlevel.current_task(), lot)

    run(main)


def test_breaker_for_one_lot_does_not_affect_another(impl: ModuleType, run: Run) -> None:
    guarded = impl.lowlevel.ParkingLot()
    unguarded = impl.lowlevel.ParkingLot()

    async def guard() -> None:
        impl.lowlevel.add_parking_lot_breaker(impl.lowlevel.current_task(), guarded)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(guard)
        assert len(guarded.broken_by) == 1
        assert unguarded.broken_by == []

    run(main)


# ---------------------------------------------------------------------------
# UnboundedQueue (deprecated in trio, kept for compatibility)


def make_queue(impl: ModuleType) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", impl.TrioDeprecationWarning)
        return impl.lowlevel.UnboundedQueue()


def test_unbounded_queue_construction_warns_deprecated(impl: ModuleType) -> None:
    with pytest.warns(impl.TrioDeprecationWarning, match="open_memory_channel"):
        impl.lowlevel.UnboundedQueue()


def test_unbounded_queue_starts_empty(impl: ModuleType) -> None:
    queue = make_queue(impl)
    assert queue.qsize() == 0
    assert queue.empty() is True
    assert queue.statistics() == impl.lowlevel.UnboundedQueueStatistics(qsize=0, tasks_waiting=0)


def test_unbounded_queue_get_batch_nowait_returns_everything_in_order(
    impl: ModuleType, run: Run
) -> None:
    queue = make_queue(impl)

    async def main() -> None:
        for item in ("a", "b", "c"):
            queue.put_nowait(item)
        assert (queue.qsize(), queue.empty()) == (3, False)
        assert queue.get_batch_nowait() == ["a", "b", "c"]
        assert (queue.qsize(), queue.empty()) == (0, True)

    run(main)


def test_unbounded_queue_get_batch_nowait_when_empty_raises_would_block(
    impl: ModuleType, run: Run
) -> None:
    queue = make_queue(impl)

    async def main() -> None:
        with pytest.raises(impl.WouldBlock):
            queue.get_batch_nowait()

    run(main)


def test_unbounded_queue_get_batch_blocks_until_put(impl: ModuleType, run: Run) -> None:
    queue = make_queue(impl)
    record: list[tuple[str, float, list[int]]] = []

    async def getter() -> None:
        batch = await queue.get_batch()
        record.append(("got", impl.current_time(), batch))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(getter)
            await impl.sleep(2)
            assert queue.statistics() == impl.lowlevel.UnboundedQueueStatistics(
                qsize=0, tasks_waiting=1
            )
            queue.put_nowait(1)
            queue.put_nowait(2)
            assert queue.statistics() == impl.lowlevel.UnboundedQueueStatistics(
                qsize=2, tasks_waiting=0
            )

    run(main)
    assert record == [("got", 2.0, [1, 2])]


def test_unbounded_queue_wakes_getters_in_arrival_order(impl: ModuleType, run: Run) -> None:
    queue = make_queue(impl)
    record: list[tuple[int, list[str]]] = []

    async def getter(n: int) -> None:
        record.append((n, await queue.get_batch()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(3):
                nursery.start_soon(getter, n)
                await settle(impl)
            for item in ("x", "y", "z"):
                queue.put_nowait(item)
                await settle(impl)

    run(main)
    assert record == [(0, ["x"]), (1, ["y"]), (2, ["z"])]


def test_unbounded_queue_async_for_yields_batches(impl: ModuleType, run: Run) -> None:
    queue = make_queue(impl)
    batches: list[list[int]] = []

    async def consumer() -> None:
        async for batch in queue:
            batches.append(batch)
            if len(batches) == 2:
                break

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await settle(impl)
            queue.put_nowait(1)
            await settle(impl)
            queue.put_nowait(2)
            queue.put_nowait(3)

    run(main)
    assert batches == [[1], [2, 3]]


def test_unbounded_queue_get_batch_with_data_is_a_checkpoint(impl: ModuleType, run: Run) -> None:
    queue = make_queue(impl)

    async def main() -> None:
        queue.put_nowait(1)
        with impl.testing.assert_checkpoints():
            assert await queue.get_batch() == [1]

    run(main)


def test_unbounded_queue_sync_methods_are_not_checkpoints(impl: ModuleType, run: Run) -> None:
    queue = make_queue(impl)

    async def main() -> None:
        with impl.testing.assert_no_checkpoints():
            queue.put_nowait(1)
            queue.qsize()
            queue.empty()
            queue.statistics()
            queue.get_batch_nowait()

    run(main)


def test_unbounded_queue_cancelled_get_batch_loses_nothing(impl: ModuleType, run: Run) -> None:
    queue = make_queue(impl)

    async def main() -> None:
        with impl.move_on_after(1):
            await queue.get_batch()
        assert queue.statistics() == impl.lowlevel.UnboundedQueueStatistics(
            qsize=0, tasks_waiting=0
        )
        queue.put_nowait("kept")
        assert await queue.get_batch() == ["kept"]

    run(main)


def test_unbounded_queue_get_batch_in_cancelled_scope_leaves_items(
    impl: ModuleType, run: Run
) -> None:
    queue = make_queue(impl)

    async def main() -> None:
        queue.put_nowait("kept")
        with impl.CancelScope() as scope:
            scope.cancel()
            await queue.get_batch()
        assert scope.cancelled_caught is True
        assert queue.get_batch_nowait() == ["kept"]

    run(main)
