"""Black-box tests for Event, Lock, StrictFIFOLock, Semaphore, Condition and CapacityLimiter.

Every test reaches the implementation through the ``impl`` fixture and runs in
virtual time through ``run``; arrival order is fixed with
``wait_all_tasks_blocked()`` between spawns, never with sleeps.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from types import ModuleType
from typing import Any

import pytest

Run = Callable[..., Any]
Case = Callable[[ModuleType], Awaitable[None]]

LOCK_CLASSES = ["Lock", "StrictFIFOLock"]


async def settle(impl: ModuleType) -> None:
    """Let every other task run until it blocks."""
    await impl.testing.wait_all_tasks_blocked()


# ---------------------------------------------------------------------------
# Objects are plain data: created outside a run, usable in later runs.


def test_event_created_outside_run_is_set_in_one_run_and_seen_in_the_next(
    impl: ModuleType, run: Run
) -> None:
    event = impl.Event()
    assert event.is_set() is False

    async def setter() -> None:
        event.set()

    async def waiter() -> float:
        await event.wait()
        return float(impl.current_time())

    run(setter)
    assert event.is_set() is True
    assert run(waiter) == 0.0


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_created_outside_run_is_usable_in_two_runs(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    seen: list[bool] = []

    async def use_lock() -> None:
        async with lock:
            seen.append(lock.locked())
        seen.append(lock.locked())

    run(use_lock)
    run(use_lock)
    assert seen == [True, False, True, False]


def test_semaphore_created_outside_run_keeps_its_value_across_runs(
    impl: ModuleType, run: Run
) -> None:
    semaphore = impl.Semaphore(2)

    async def take_one() -> int:
        await semaphore.acquire()
        return int(semaphore.value)

    assert run(take_one) == 1
    assert run(take_one) == 0
    assert semaphore.value == 0


def test_condition_created_outside_run_is_usable_in_two_runs(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()
    woken: list[int] = []

    async def main(n: int) -> None:
        async def waiter() -> None:
            async with condition:
                await condition.wait()
                woken.append(n)

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await settle(impl)
            async with condition:
                condition.notify()

    run(main, 1)
    run(main, 2)
    assert woken == [1, 2]
    assert condition.locked() is False


def test_capacity_limiter_created_outside_run_is_usable_in_two_runs(
    impl: ModuleType, run: Run
) -> None:
    limiter = impl.CapacityLimiter(1)

    async def borrow_and_return() -> int:
        async with limiter:
            borrowed = int(limiter.borrowed_tokens)
        return borrowed

    assert run(borrow_and_return) == 1
    assert run(borrow_and_return) == 1
    assert limiter.borrowed_tokens == 0


def test_statistics_can_be_read_outside_a_run(impl: ModuleType) -> None:
    assert impl.Event().statistics() == impl.EventStatistics(tasks_waiting=0)
    assert impl.Lock().statistics() == impl.LockStatistics(
        locked=False, owner=None, tasks_waiting=0
    )
    assert impl.Semaphore(3).statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=0)
    assert impl.CapacityLimiter(4).statistics() == impl.CapacityLimiterStatistics(
        borrowed_tokens=0, total_tokens=4, borrowers=[], tasks_waiting=0
    )
    assert impl.Condition().statistics() == impl.ConditionStatistics(
        tasks_waiting=0,
        lock_statistics=impl.LockStatistics(locked=False, owner=None, tasks_waiting=0),
    )


@pytest.mark.parametrize(
    "make_statistics",
    [
        pytest.param(lambda impl: impl.Event().statistics(), id="Event"),
        pytest.param(lambda impl: impl.Lock().statistics(), id="Lock"),
        pytest.param(lambda impl: impl.Semaphore(1).statistics(), id="Semaphore"),
        pytest.param(lambda impl: impl.CapacityLimiter(1).statistics(), id="CapacityLimiter"),
        pytest.param(lambda impl: impl.Condition().statistics(), id="Condition"),
    ],
)
def test_statistics_records_are_immutable(
    impl: ModuleType, make_statistics: Callable[[ModuleType], Any]
) -> None:
    record = make_statistics(impl)
    with pytest.raises(AttributeError):
        record.tasks_waiting = 99
    assert record.tasks_waiting == 0


# ---------------------------------------------------------------------------
# Checkpoints: async methods always are one, sync methods never are.


async def _event_wait_when_set(impl: ModuleType) -> None:
    event = impl.Event()
    event.set()
    with impl.testing.assert_checkpoints():
        await event.wait()


async def _lock_acquire_when_free(impl: ModuleType) -> None:
    lock = impl.Lock()
    with impl.testing.assert_checkpoints():
        await lock.acquire()


async def _strict_fifo_lock_acquire_when_free(impl: ModuleType) -> None:
    lock = impl.StrictFIFOLock()
    with impl.testing.assert_checkpoints():
        await lock.acquire()


async def _lock_async_with_entry(impl: ModuleType) -> None:
    lock = impl.Lock()
    with impl.testing.assert_checkpoints():
        async with lock:
            pass


async def _semaphore_acquire_when_available(impl: ModuleType) -> None:
    semaphore = impl.Semaphore(1)
    with impl.testing.assert_checkpoints():
        await semaphore.acquire()


async def _semaphore_async_with_entry(impl: ModuleType) -> None:
    semaphore = impl.Semaphore(1)
    with impl.testing.assert_checkpoints():
        async with semaphore:
            pass


async def _capacity_limiter_acquire_when_available(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(1)
    with impl.testing.assert_checkpoints():
        await limiter.acquire()


async def _capacity_limiter_acquire_on_behalf_of_when_available(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(1)
    with impl.testing.assert_checkpoints():
        await limiter.acquire_on_behalf_of("borrower")


async def _capacity_limiter_async_with_entry(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(1)
    with impl.testing.assert_checkpoints():
        async with limiter:
            pass


async def _condition_acquire_when_free(impl: ModuleType) -> None:
    condition = impl.Condition()
    with impl.testing.assert_checkpoints():
        await condition.acquire()


async def _condition_wait(impl: ModuleType) -> None:
    condition = impl.Condition()

    async def notifier() -> None:
        async with condition:
            condition.notify()

    async with impl.open_nursery() as nursery:
        async with condition:
            nursery.start_soon(notifier)
            with impl.testing.assert_checkpoints():
                await condition.wait()


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_event_wait_when_set, id="Event.wait-already-set"),
        pytest.param(_lock_acquire_when_free, id="Lock.acquire-free"),
        pytest.param(_strict_fifo_lock_acquire_when_free, id="StrictFIFOLock.acquire-free"),
        pytest.param(_lock_async_with_entry, id="Lock-async-with"),
        pytest.param(_semaphore_acquire_when_available, id="Semaphore.acquire-available"),
        pytest.param(_semaphore_async_with_entry, id="Semaphore-async-with"),
        pytest.param(_capacity_limiter_acquire_when_available, id="CapacityLimiter.acquire"),
        pytest.param(
            _capacity_limiter_acquire_on_behalf_of_when_available,
            id="CapacityLimiter.acquire_on_behalf_of",
        ),
        pytest.param(_capacity_limiter_async_with_entry, id="CapacityLimiter-async-with"),
        pytest.param(_condition_acquire_when_free, id="Condition.acquire-free"),
        pytest.param(_condition_wait, id="Condition.wait"),
    ],
)
def test_async_method_is_a_checkpoint_even_when_it_need_not_block(
    impl: ModuleType, run: Run, case: Case
) -> None:
    run(case, impl)


async def _event_sync_methods(impl: ModuleType) -> None:
    event = impl.Event()
    with impl.testing.assert_no_checkpoints():
        event.is_set()
        event.set()
        event.set()
        event.statistics()


async def _lock_sync_methods(impl: ModuleType) -> None:
    for lock in (impl.Lock(), impl.StrictFIFOLock()):
        with impl.testing.assert_no_checkpoints():
            lock.acquire_nowait()
            lock.locked()
            lock.statistics()
            lock.release()


async def _semaphore_sync_methods(impl: ModuleType) -> None:
    semaphore = impl.Semaphore(1)
    with impl.testing.assert_no_checkpoints():
        semaphore.acquire_nowait()
        semaphore.release()
        semaphore.statistics()
        _ = semaphore.value, semaphore.max_value


async def _capacity_limiter_sync_methods(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(1)
    with impl.testing.assert_no_checkpoints():
        limiter.acquire_nowait()
        limiter.release()
        limiter.acquire_on_behalf_of_nowait("borrower")
        limiter.release_on_behalf_of("borrower")
        limiter.total_tokens = 2
        limiter.statistics()
        _ = limiter.borrowed_tokens, limiter.available_tokens


async def _condition_sync_methods(impl: ModuleType) -> None:
    condition = impl.Condition()
    with impl.testing.assert_no_checkpoints():
        condition.acquire_nowait()
        condition.notify()
        condition.notify(3)
        condition.notify_all()
        condition.locked()
        condition.statistics()
        condition.release()


async def _lock_async_with_exit(impl: ModuleType) -> None:
    lock = impl.Lock()
    await lock.__aenter__()
    with impl.testing.assert_no_checkpoints():
        await lock.__aexit__(None, None, None)


async def _semaphore_async_with_exit(impl: ModuleType) -> None:
    semaphore = impl.Semaphore(1)
    await semaphore.__aenter__()
    with impl.testing.assert_no_checkpoints():
        await semaphore.__aexit__(None, None, None)


async def _capacity_limiter_async_with_exit(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(1)
    await limiter.__aenter__()
    with impl.testing.assert_no_checkpoints():
        await limiter.__aexit__(None, None, None)


async def _condition_async_with_exit(impl: ModuleType) -> None:
    condition = impl.Condition()
    await condition.__aenter__()
    with impl.testing.assert_no_checkpoints():
        await condition.__aexit__(None, None, None)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_event_sync_methods, id="Event"),
        pytest.param(_lock_sync_methods, id="Lock-and-StrictFIFOLock"),
        pytest.param(_semaphore_sync_methods, id="Semaphore"),
        pytest.param(_capacity_limiter_sync_methods, id="CapacityLimiter"),
        pytest.param(_condition_sync_methods, id="Condition"),
    ],
)
def test_sync_methods_are_never_checkpoints(impl: ModuleType, run: Run, case: Case) -> None:
    run(case, impl)


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(_lock_async_with_exit, id="Lock"),
        pytest.param(_semaphore_async_with_exit, id="Semaphore"),
        pytest.param(_capacity_limiter_async_with_exit, id="CapacityLimiter"),
        pytest.param(_condition_async_with_exit, id="Condition"),
    ],
)
def test_async_with_exit_only_releases_and_is_not_a_checkpoint(
    impl: ModuleType, run: Run, case: Case
) -> None:
    run(case, impl)


# ---------------------------------------------------------------------------
# Event


def test_event_wait_blocks_until_set(impl: ModuleType, run: Run) -> None:
    event = impl.Event()
    record: list[tuple[str, float]] = []

    async def waiter() -> None:
        await event.wait()
        record.append(("woke", impl.current_time()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await impl.sleep(3)
            record.append(("set", impl.current_time()))
            event.set()

    run(main)
    assert record == [("set", 3.0), ("woke", 3.0)]


def test_event_set_wakes_every_waiter(impl: ModuleType, run: Run) -> None:
    event = impl.Event()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await event.wait()
        woken.append(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(waiter, n)
            await settle(impl)
            assert event.statistics() == impl.EventStatistics(tasks_waiting=4)
            event.set()
            assert event.statistics() == impl.EventStatistics(tasks_waiting=0)

    run(main)
    assert sorted(woken) == [0, 1, 2, 3]


def test_event_set_twice_keeps_it_set(impl: ModuleType, run: Run) -> None:
    event = impl.Event()

    async def main() -> None:
        event.set()
        event.set()
        assert event.is_set() is True
        await event.wait()

    run(main)


def test_event_cannot_be_used_as_a_bool(impl: ModuleType) -> None:
    with pytest.raises(NotImplementedError, match="is_set"):
        bool(impl.Event())


def test_event_cancelled_waiter_is_removed(impl: ModuleType, run: Run) -> None:
    event = impl.Event()

    async def main() -> None:
        with impl.move_on_after(2) as scope:
            await event.wait()
        assert scope.cancelled_caught is True
        assert impl.current_time() == 2.0
        assert event.statistics() == impl.EventStatistics(tasks_waiting=0)
        assert event.is_set() is False

    run(main)


def test_event_wait_on_set_event_in_cancelled_scope_raises_cancelled(
    impl: ModuleType, run: Run
) -> None:
    event = impl.Event()
    event.set()
    reached: list[str] = []

    async def main() -> None:
        with impl.CancelScope() as scope:
            scope.cancel()
            await event.wait()
            reached.append("after wait")
        assert scope.cancelled_caught is True

    run(main)
    assert reached == []


# ---------------------------------------------------------------------------
# Lock and StrictFIFOLock


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_acquire_nowait_when_held_raises_would_block(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    outcome: list[str] = []

    async def other() -> None:
        try:
            lock.acquire_nowait()
        except impl.WouldBlock:
            outcome.append("WouldBlock")

    async def main() -> None:
        async with lock, impl.open_nursery() as nursery:
            nursery.start_soon(other)

    run(main)
    assert outcome == ["WouldBlock"]


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_release_by_non_owner_raises(impl: ModuleType, run: Run, lock_class: str) -> None:
    lock = getattr(impl, lock_class)()
    errors: list[str] = []

    async def intruder() -> None:
        try:
            lock.release()
        except RuntimeError as exc:
            errors.append(str(exc))

    async def main() -> None:
        async with lock, impl.open_nursery() as nursery:
            nursery.start_soon(intruder)
        assert lock.locked() is False

    run(main)
    assert len(errors) == 1
    assert "don't own" in errors[0]


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_release_when_not_held_raises(impl: ModuleType, run: Run, lock_class: str) -> None:
    lock = getattr(impl, lock_class)()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="don't own"):
            lock.release()

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_acquire_nowait_by_owner_raises(impl: ModuleType, run: Run, lock_class: str) -> None:
    lock = getattr(impl, lock_class)()

    async def main() -> None:
        lock.acquire_nowait()
        with pytest.raises(RuntimeError, match="re-acquire"):
            lock.acquire_nowait()
        assert lock.locked() is True

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_acquire_by_owner_raises_instead_of_deadlocking(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()

    async def main() -> None:
        await lock.acquire()
        with pytest.raises(RuntimeError, match="re-acquire"):
            await lock.acquire()
        assert impl.current_time() == 0.0

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_wakes_waiters_in_arrival_order(impl: ModuleType, run: Run, lock_class: str) -> None:
    lock = getattr(impl, lock_class)()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        async with lock:
            woken.append(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await lock.acquire()
            for n in range(4):
                nursery.start_soon(waiter, n)
                await settle(impl)
            lock.release()

    run(main)
    assert woken == [0, 1, 2, 3]


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_release_hands_ownership_to_first_waiter(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    waiter_tasks: list[object] = []

    async def waiter() -> None:
        waiter_tasks.append(impl.lowlevel.current_task())
        async with lock:
            pass

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await lock.acquire()
            nursery.start_soon(waiter)
            await settle(impl)
            lock.release()
            # The waiter owns the lock before it even runs: no barging.
            assert lock.statistics() == impl.LockStatistics(
                locked=True, owner=waiter_tasks[0], tasks_waiting=0
            )
            with pytest.raises(impl.WouldBlock):
                lock.acquire_nowait()

    run(main)
    assert lock.locked() is False


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_statistics_report_owner_and_waiters(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()

    async def main() -> None:
        me = impl.lowlevel.current_task()
        assert lock.statistics() == impl.LockStatistics(locked=False, owner=None, tasks_waiting=0)
        async with impl.open_nursery() as nursery:
            await lock.acquire()
            assert lock.statistics() == impl.LockStatistics(locked=True, owner=me, tasks_waiting=0)
            nursery.start_soon(lock.acquire)
            nursery.start_soon(lock.acquire)
            await settle(impl)
            assert lock.statistics() == impl.LockStatistics(locked=True, owner=me, tasks_waiting=2)
            nursery.cancel_scope.cancel()
        assert lock.statistics() == impl.LockStatistics(locked=True, owner=me, tasks_waiting=0)
        lock.release()
        assert lock.statistics() == impl.LockStatistics(locked=False, owner=None, tasks_waiting=0)

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_cancelled_waiter_gives_up_its_place(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    record: list[str] = []

    async def waiter(name: str, scope: Any) -> None:
        with scope:
            async with lock:
                record.append(name)

    async def main() -> None:
        first_scope = impl.CancelScope()
        async with impl.open_nursery() as nursery:
            await lock.acquire()
            nursery.start_soon(waiter, "first", first_scope)
            await settle(impl)
            nursery.start_soon(waiter, "second", impl.CancelScope())
            await settle(impl)
            first_scope.cancel()
            await settle(impl)
            assert lock.statistics().tasks_waiting == 1
            lock.release()

    run(main)
    assert record == ["second"]


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_acquire_in_cancelled_scope_does_not_take_a_free_lock(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()

    async def main() -> None:
        with impl.CancelScope() as scope:
            scope.cancel()
            await lock.acquire()
        assert scope.cancelled_caught is True
        assert lock.locked() is False

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_owner_exiting_while_holding_breaks_waiting_acquire(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    record: list[tuple[str, float]] = []

    async def holder() -> None:
        await lock.acquire()
        await impl.sleep(1)
        record.append(("holder exits", impl.current_time()))

    async def waiter(n: int) -> None:
        try:
            await lock.acquire()
        except impl.BrokenResourceError as exc:
            assert "exited without releasing" in str(exc)
            record.append((f"waiter {n} broken", impl.current_time()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(holder)
            await settle(impl)
            nursery.start_soon(waiter, 0)
            nursery.start_soon(waiter, 1)
            await settle(impl)
            assert lock.statistics().tasks_waiting == 2

    run(main)
    assert record[0] == ("holder exits", 1.0)
    assert sorted(record[1:]) == [("waiter 0 broken", 1.0), ("waiter 1 broken", 1.0)]


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_abandoned_by_exited_owner_stays_locked_and_breaks_later_acquires(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    holder_task: list[object] = []

    async def holder() -> None:
        holder_task.append(impl.lowlevel.current_task())
        await lock.acquire()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(holder)
        assert lock.statistics() == impl.LockStatistics(
            locked=True, owner=holder_task[0], tasks_waiting=0
        )
        with pytest.raises(impl.WouldBlock):
            lock.acquire_nowait()
        with pytest.raises(impl.BrokenResourceError, match="exited without releasing"):
            await lock.acquire()
        with pytest.raises(RuntimeError, match="don't own"):
            lock.release()

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_held_when_a_run_ends_is_broken_in_the_next_run(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()

    async def take_and_return() -> None:
        await lock.acquire()

    async def try_again() -> None:
        with pytest.raises(impl.BrokenResourceError):
            await lock.acquire()

    run(take_and_return)
    run(try_again)
    assert lock.locked() is True


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_released_before_owner_exits_is_not_broken(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()

    async def borrower() -> None:
        async with lock:
            await impl.sleep(1)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(borrower)
            await settle(impl)
            async with lock:
                assert impl.current_time() == 1.0
        await settle(impl)
        async with lock:
            pass

    run(main)


@pytest.mark.parametrize("lock_class", LOCK_CLASSES)
def test_lock_handed_to_a_waiter_is_not_broken_when_previous_owner_exits(
    impl: ModuleType, run: Run, lock_class: str
) -> None:
    lock = getattr(impl, lock_class)()
    record: list[tuple[str, float]] = []

    async def first() -> None:
        await lock.acquire()
        await impl.sleep(1)
        lock.release()
        record.append(("first exits", impl.current_time()))

    async def second() -> None:
        await lock.acquire()
        await impl.sleep(1)
        record.append(("second still owns", impl.current_time()))
        lock.release()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(first)
            await settle(impl)
            nursery.start_soon(second)

    run(main)
    assert record == [("first exits", 1.0), ("second still owns", 2.0)]
    assert lock.locked() is False


# ---------------------------------------------------------------------------
# Semaphore


def test_semaphore_negative_initial_value_raises_value_error(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        impl.Semaphore(-1)


def test_semaphore_initial_value_above_max_value_raises_value_error(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="initial_value"):
        impl.Semaphore(2, max_value=1)


@pytest.mark.parametrize("bad", [1.0, "1", None])
def test_semaphore_non_int_initial_value_raises_type_error(impl: ModuleType, bad: object) -> None:
    with pytest.raises(TypeError, match="initial_value"):
        impl.Semaphore(bad)


@pytest.mark.parametrize("bad", [1.5, "2"])
def test_semaphore_non_int_max_value_raises_type_error(impl: ModuleType, bad: object) -> None:
    with pytest.raises(TypeError, match="max_value"):
        impl.Semaphore(1, max_value=bad)


def test_semaphore_value_and_max_value_properties(impl: ModuleType) -> None:
    assert (impl.Semaphore(3).value, impl.Semaphore(3).max_value) == (3, None)
    bounded = impl.Semaphore(1, max_value=4)
    assert (bounded.value, bounded.max_value) == (1, 4)
    empty = impl.Semaphore(0, max_value=0)
    assert (empty.value, empty.max_value) == (0, 0)


def test_semaphore_release_past_max_value_raises_value_error(impl: ModuleType) -> None:
    semaphore = impl.Semaphore(1, max_value=2)
    semaphore.release()
    assert semaphore.value == 2
    with pytest.raises(ValueError, match="released too many times"):
        semaphore.release()
    assert semaphore.value == 2


def test_semaphore_without_max_value_releases_without_limit(impl: ModuleType) -> None:
    semaphore = impl.Semaphore(0)
    for _ in range(5):
        semaphore.release()
    assert semaphore.value == 5


def test_semaphore_acquire_nowait_decrements_then_would_block(impl: ModuleType, run: Run) -> None:
    semaphore = impl.Semaphore(2)

    async def main() -> None:
        semaphore.acquire_nowait()
        semaphore.acquire_nowait()
        assert semaphore.value == 0
        with pytest.raises(impl.WouldBlock):
            semaphore.acquire_nowait()
        assert semaphore.value == 0

    run(main)


def test_semaphore_wakes_waiters_in_arrival_order(impl: ModuleType, run: Run) -> None:
    semaphore = impl.Semaphore(0)
    woken: list[int] = []

    async def waiter(n: int) -> None:
        await semaphore.acquire()
        woken.append(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(waiter, n)
                await settle(impl)
            for _ in range(4):
                semaphore.release()
                await settle(impl)

    run(main)
    assert woken == [0, 1, 2, 3]


def test_semaphore_release_with_waiter_hands_over_without_raising_value(
    impl: ModuleType, run: Run
) -> None:
    semaphore = impl.Semaphore(0, max_value=1)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(semaphore.acquire)
            await settle(impl)
            assert semaphore.statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=1)
            semaphore.release()
            assert semaphore.value == 0
            assert semaphore.statistics() == impl.lowlevel.ParkingLotStatistics(tasks_waiting=0)
            with pytest.raises(impl.WouldBlock):
                semaphore.acquire_nowait()
        assert semaphore.value == 0

    run(main)


def test_semaphore_can_be_released_by_any_task(impl: ModuleType, run: Run) -> None:
    semaphore = impl.Semaphore(1)

    async def releaser() -> None:
        semaphore.release()

    async def main() -> None:
        await semaphore.acquire()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(releaser)
        assert semaphore.value == 1

    run(main)


def test_semaphore_is_not_broken_when_an_acquirer_exits(impl: ModuleType, run: Run) -> None:
    semaphore = impl.Semaphore(1)
    record: list[tuple[str, float]] = []

    async def taker() -> None:
        await semaphore.acquire()

    async def waiter() -> None:
        await semaphore.acquire()
        record.append(("waiter acquired", impl.current_time()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(taker)
            await settle(impl)
            nursery.start_soon(waiter)
            await impl.sleep(5)
            assert semaphore.statistics().tasks_waiting == 1
            semaphore.release()

    run(main)
    assert record == [("waiter acquired", 5.0)]


def test_semaphore_acquire_in_cancelled_scope_leaves_value_unchanged(
    impl: ModuleType, run: Run
) -> None:
    semaphore = impl.Semaphore(1)

    async def main() -> None:
        with impl.CancelScope() as scope:
            scope.cancel()
            await semaphore.acquire()
        assert scope.cancelled_caught is True
        assert semaphore.value == 1

    run(main)


def test_semaphore_async_with_acquires_and_releases(impl: ModuleType, run: Run) -> None:
    semaphore = impl.Semaphore(2)
    values: list[int] = []

    async def main() -> None:
        async with semaphore:
            values.append(semaphore.value)
        values.append(semaphore.value)

    run(main)
    assert values == [1, 2]


# ---------------------------------------------------------------------------
# Condition


@pytest.mark.parametrize(
    "make_not_a_lock",
    [
        pytest.param(lambda impl: impl.StrictFIFOLock(), id="StrictFIFOLock"),
        pytest.param(lambda impl: impl.Semaphore(1), id="Semaphore"),
        pytest.param(lambda impl: object(), id="object"),
    ],
)
def test_condition_rejects_anything_but_a_lock(
    impl: ModuleType, make_not_a_lock: Callable[[ModuleType], object]
) -> None:
    with pytest.raises(TypeError, match="Lock"):
        impl.Condition(make_not_a_lock(impl))


def test_condition_uses_the_lock_it_is_given(impl: ModuleType, run: Run) -> None:
    lock = impl.Lock()
    condition = impl.Condition(lock)

    async def main() -> None:
        await lock.acquire()
        assert condition.locked() is True
        with pytest.raises(RuntimeError, match="re-acquire"):
            condition.acquire_nowait()
        condition.release()
        assert lock.locked() is False

    run(main)


def test_condition_wait_without_holding_lock_raises(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="must hold the lock"):
            await condition.wait()

    run(main)


def test_condition_wait_while_another_task_holds_lock_raises(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()
    errors: list[str] = []

    async def other() -> None:
        try:
            await condition.wait()
        except RuntimeError as exc:
            errors.append(str(exc))

    async def main() -> None:
        async with condition, impl.open_nursery() as nursery:
            nursery.start_soon(other)

    run(main)
    assert len(errors) == 1
    assert "must hold the lock" in errors[0]


@pytest.mark.parametrize("method", ["notify", "notify_all"])
def test_condition_notify_without_holding_lock_raises(
    impl: ModuleType, run: Run, method: str
) -> None:
    condition = impl.Condition()

    async def main() -> None:
        with pytest.raises(RuntimeError, match="must hold the lock"):
            getattr(condition, method)()

    run(main)


def test_condition_wait_releases_lock_and_reacquires_before_returning(
    impl: ModuleType, run: Run
) -> None:
    condition = impl.Condition()
    record: list[tuple[str, bool]] = []

    async def waiter() -> None:
        async with condition:
            await condition.wait()
            record.append(("waiter woke holding lock", condition.locked()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await settle(impl)
            record.append(("lock free while waiting", not condition.locked()))
            async with condition:
                condition.notify()
                await settle(impl)
                record.append(("notifier still holds", condition.locked()))

    run(main)
    assert record == [
        ("lock free while waiting", True),
        ("notifier still holds", True),
        ("waiter woke holding lock", True),
    ]


def test_condition_notify_moves_waiters_to_the_lock_queue(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()

    async def waiter() -> None:
        async with condition:
            await condition.wait()

    async def main() -> None:
        me = impl.lowlevel.current_task()
        async with impl.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(waiter)
            await settle(impl)
            assert condition.statistics() == impl.ConditionStatistics(
                tasks_waiting=3,
                lock_statistics=impl.LockStatistics(locked=False, owner=None, tasks_waiting=0),
            )
            async with condition:
                condition.notify(2)
                assert condition.statistics() == impl.ConditionStatistics(
                    tasks_waiting=1,
                    lock_statistics=impl.LockStatistics(locked=True, owner=me, tasks_waiting=2),
                )
                condition.notify_all()

    run(main)
    assert condition.statistics().tasks_waiting == 0


def test_condition_notify_wakes_n_waiters_in_arrival_order(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        async with condition:
            await condition.wait()
            woken.append(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(5):
                nursery.start_soon(waiter, n)
                await settle(impl)
            async with condition:
                condition.notify(2)
            await settle(impl)
            assert woken == [0, 1]
            async with condition:
                condition.notify()
            await settle(impl)
            assert woken == [0, 1, 2]
            async with condition:
                condition.notify_all()

    run(main)
    assert woken == [0, 1, 2, 3, 4]


def test_condition_notify_all_wakes_all_in_arrival_order(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()
    woken: list[int] = []

    async def waiter(n: int) -> None:
        async with condition:
            await condition.wait()
            woken.append(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for n in range(4):
                nursery.start_soon(waiter, n)
                await settle(impl)
            async with condition:
                condition.notify_all()

    run(main)
    assert woken == [0, 1, 2, 3]


def test_condition_notify_without_waiters_does_nothing(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()

    async def main() -> None:
        async with condition:
            condition.notify()
            condition.notify(5)
            condition.notify_all()
            assert condition.statistics().tasks_waiting == 0

    run(main)


def test_condition_cancelled_wait_reacquires_lock_before_raising(
    impl: ModuleType, run: Run
) -> None:
    condition = impl.Condition()
    record: list[tuple[str, float, bool]] = []

    async def waiter() -> None:
        async with condition:
            with impl.move_on_after(1):
                await condition.wait()
            record.append(("waiter resumed", impl.current_time(), condition.locked()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await settle(impl)
            await condition.acquire()
            await impl.sleep(5)
            record.append(("main releases", impl.current_time(), condition.locked()))
            condition.release()

    run(main)
    assert record == [("main releases", 5.0, True), ("waiter resumed", 5.0, True)]
    assert condition.statistics().tasks_waiting == 0


def test_condition_acquire_raises_broken_when_lock_owner_exited(impl: ModuleType, run: Run) -> None:
    condition = impl.Condition()

    async def holder() -> None:
        await condition.acquire()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(holder)
        with pytest.raises(impl.BrokenResourceError):
            await condition.acquire()

    run(main)


# ---------------------------------------------------------------------------
# CapacityLimiter


def test_capacity_limiter_accepts_zero_tokens(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(0)
    assert limiter.total_tokens == 0

    async def main() -> None:
        with pytest.raises(impl.WouldBlock):
            limiter.acquire_nowait()

    run(main)


def test_capacity_limiter_accepts_infinite_tokens(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(math.inf)
    assert limiter.total_tokens == math.inf
    assert limiter.available_tokens == math.inf
    for n in range(100):
        limiter.acquire_on_behalf_of_nowait(n)
    assert limiter.borrowed_tokens == 100


def test_capacity_limiter_negative_total_tokens_raises_value_error(impl: ModuleType) -> None:
    with pytest.raises(ValueError, match="total_tokens"):
        impl.CapacityLimiter(-1)


@pytest.mark.parametrize("bad", [1.5, 2.0, "2", None, -math.inf])
def test_capacity_limiter_non_int_total_tokens_raises_type_error(
    impl: ModuleType, bad: object
) -> None:
    with pytest.raises(TypeError, match="total_tokens"):
        impl.CapacityLimiter(bad)


def test_capacity_limiter_total_tokens_setter_validates(impl: ModuleType) -> None:
    limiter = impl.CapacityLimiter(2)
    with pytest.raises(TypeError, match="total_tokens"):
        limiter.total_tokens = 2.5
    with pytest.raises(ValueError, match="total_tokens"):
        limiter.total_tokens = -1
    assert limiter.total_tokens == 2


def test_capacity_limiter_token_counts(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(3)

    async def main() -> None:
        await limiter.acquire()
        limiter.acquire_on_behalf_of_nowait("other")
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (2, 1)
        limiter.release()
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (1, 2)

    run(main)


def test_capacity_limiter_acquire_nowait_when_exhausted_raises_would_block(
    impl: ModuleType, run: Run
) -> None:
    limiter = impl.CapacityLimiter(1)

    async def main() -> None:
        limiter.acquire_on_behalf_of_nowait("first")
        with pytest.raises(impl.WouldBlock):
            limiter.acquire_nowait()
        with pytest.raises(impl.WouldBlock):
            limiter.acquire_on_behalf_of_nowait("second")

    run(main)


def test_capacity_limiter_same_task_borrowing_twice_raises(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(5)

    async def main() -> None:
        await limiter.acquire()
        with pytest.raises(RuntimeError, match="already holding"):
            limiter.acquire_nowait()
        with pytest.raises(RuntimeError, match="already holding"):
            await limiter.acquire()
        assert limiter.borrowed_tokens == 1

    run(main)


def test_capacity_limiter_same_object_borrowing_twice_raises(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(5)
    borrower = object()

    async def main() -> None:
        await limiter.acquire_on_behalf_of(borrower)
        with pytest.raises(RuntimeError, match="already holding"):
            limiter.acquire_on_behalf_of_nowait(borrower)
        with pytest.raises(RuntimeError, match="already holding"):
            await limiter.acquire_on_behalf_of(borrower)

    run(main)


def test_capacity_limiter_release_by_non_borrower_raises(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(2)

    async def main() -> None:
        limiter.acquire_on_behalf_of_nowait("holder")
        with pytest.raises(RuntimeError, match="isn't holding"):
            limiter.release()
        with pytest.raises(RuntimeError, match="isn't holding"):
            limiter.release_on_behalf_of("stranger")
        assert limiter.borrowed_tokens == 1

    run(main)


def test_capacity_limiter_borrower_can_be_any_object(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(1)
    borrower = object()

    async def main() -> None:
        await limiter.acquire_on_behalf_of(borrower)
        assert limiter.statistics() == impl.CapacityLimiterStatistics(
            borrowed_tokens=1, total_tokens=1, borrowers=[borrower], tasks_waiting=0
        )
        limiter.release_on_behalf_of(borrower)
        assert limiter.statistics() == impl.CapacityLimiterStatistics(
            borrowed_tokens=0, total_tokens=1, borrowers=[], tasks_waiting=0
        )

    run(main)


def test_capacity_limiter_task_borrower_is_the_current_task(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(1)

    async def main() -> None:
        async with limiter:
            assert limiter.statistics().borrowers == [impl.lowlevel.current_task()]

    run(main)


def test_capacity_limiter_wakes_waiters_in_arrival_order(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(1)
    woken: list[int] = []

    async def waiter(n: int) -> None:
        async with limiter:
            woken.append(n)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            await limiter.acquire()
            for n in range(4):
                nursery.start_soon(waiter, n)
                await settle(impl)
            limiter.release()

    run(main)
    assert woken == [0, 1, 2, 3]


def test_capacity_limiter_release_hands_token_to_first_waiter(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(1)

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            limiter.acquire_on_behalf_of_nowait("a")
            nursery.start_soon(limiter.acquire_on_behalf_of, "b")
            await settle(impl)
            nursery.start_soon(limiter.acquire_on_behalf_of, "c")
            await settle(impl)
            assert limiter.statistics() == impl.CapacityLimiterStatistics(
                borrowed_tokens=1, total_tokens=1, borrowers=["a"], tasks_waiting=2
            )
            limiter.release_on_behalf_of("a")
            assert limiter.statistics() == impl.CapacityLimiterStatistics(
                borrowed_tokens=1, total_tokens=1, borrowers=["b"], tasks_waiting=1
            )
            with pytest.raises(impl.WouldBlock):
                limiter.acquire_on_behalf_of_nowait("d")
            limiter.release_on_behalf_of("b")
            assert limiter.statistics().borrowers == ["c"]
            limiter.release_on_behalf_of("c")

    run(main)


def test_capacity_limiter_raising_total_tokens_wakes_waiters(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(0)
    woken: list[tuple[str, float]] = []

    async def waiter(name: str) -> None:
        await limiter.acquire_on_behalf_of(name)
        woken.append((name, impl.current_time()))

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            for name in ("a", "b", "c"):
                nursery.start_soon(waiter, name)
                await settle(impl)
            await impl.sleep(1)
            limiter.total_tokens = 1
            assert limiter.statistics().borrowers == ["a"]
            await impl.sleep(1)
            limiter.total_tokens = 3
            assert limiter.statistics().tasks_waiting == 0

    run(main)
    assert woken[0] == ("a", 1.0)
    assert sorted(woken[1:]) == [("b", 2.0), ("c", 2.0)]


def test_capacity_limiter_lowering_total_tokens_keeps_current_borrowers(
    impl: ModuleType, run: Run
) -> None:
    limiter = impl.CapacityLimiter(3)

    async def main() -> None:
        for name in ("a", "b", "c"):
            limiter.acquire_on_behalf_of_nowait(name)
        limiter.total_tokens = 1
        assert (limiter.borrowed_tokens, limiter.available_tokens) == (3, -2)
        limiter.release_on_behalf_of("a")
        limiter.release_on_behalf_of("b")
        with pytest.raises(impl.WouldBlock):
            limiter.acquire_on_behalf_of_nowait("d")
        limiter.release_on_behalf_of("c")
        limiter.acquire_on_behalf_of_nowait("d")

    run(main)


def test_capacity_limiter_borrower_exit_does_not_return_token(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(1)

    async def leaker() -> None:
        await limiter.acquire()

    async def main() -> None:
        async with impl.open_nursery() as nursery:
            nursery.start_soon(leaker)
        assert limiter.borrowed_tokens == 1
        with pytest.raises(impl.WouldBlock):
            limiter.acquire_nowait()

    run(main)


def test_capacity_limiter_cancelled_waiter_does_not_get_a_token(impl: ModuleType, run: Run) -> None:
    limiter = impl.CapacityLimiter(1)

    async def main() -> None:
        limiter.acquire_on_behalf_of_nowait("holder")
        with impl.move_on_after(1):
            await limiter.acquire_on_behalf_of("waiter")
        assert limiter.statistics() == impl.CapacityLimiterStatistics(
            borrowed_tokens=1, total_tokens=1, borrowers=["holder"], tasks_waiting=0
        )
        limiter.release_on_behalf_of("holder")
        assert limiter.borrowed_tokens == 0

    run(main)


def test_capacity_limiter_acquire_in_cancelled_scope_does_not_borrow(
    impl: ModuleType, run: Run
) -> None:
    limiter = impl.CapacityLimiter(1)

    async def main() -> None:
        with impl.CancelScope() as scope:
            scope.cancel()
            await limiter.acquire()
        assert scope.cancelled_caught is True
        assert limiter.borrowed_tokens == 0

    run(main)


# ---------------------------------------------------------------------------
# No waiter outlives its nursery.


def _parked_waiters(impl: ModuleType) -> list[tuple[Any, Callable[[], Awaitable[object]], Any]]:
    """(primitive, a blocking call on it, a way to read its waiter count)."""
    event = impl.Event()
    lock = impl.Lock()
    fifo_lock = impl.StrictFIFOLock()
    semaphore = impl.Semaphore(0)
    limiter = impl.CapacityLimiter(0)
    condition = impl.Condition()

    async def condition_wait() -> None:
        async with condition:
            await condition.wait()

    return [
        (event, event.wait, event),
        (lock, lock.acquire, lock),
        (fifo_lock, fifo_lock.acquire, fifo_lock),
        (semaphore, semaphore.acquire, semaphore),
        (limiter, limiter.acquire, limiter),
        (condition, condition_wait, condition),
    ]


def test_cancelled_nursery_leaves_no_waiter_parked(impl: ModuleType, run: Run) -> None:
    waiters = _parked_waiters(impl)

    async def main() -> None:
        blocker = impl.lowlevel.current_task()
        await waiters[1][0].acquire()  # Lock held by main
        await waiters[2][0].acquire()  # StrictFIFOLock held by main
        async with impl.open_nursery() as nursery:
            for _, wait, _ in waiters:
                nursery.start_soon(wait)
                nursery.start_soon(wait)
            await settle(impl)
            assert [w[2].statistics().tasks_waiting for w in waiters] == [2] * len(waiters)
            nursery.cancel_scope.cancel()
        assert [w[2].statistics().tasks_waiting for w in waiters] == [0] * len(waiters)
        assert waiters[1][0].statistics().owner is blocker

    run(main)
