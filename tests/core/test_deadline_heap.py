"""The deadline heap: entries are ``[deadline, sequence, target]`` and a
``None`` target is stale.  Stale entries are skipped, counted, and purged by
a rebuild once they pile up; every live entry belongs to a sleeping task or
an active, uncancelled scope with a finite deadline."""

from __future__ import annotations

import itertools
import math
from typing import Any

import tether
from tether import _core
from tether._core._cancel import _ScopeState
from tether._core._run import _STALE_DEADLINES_LIMIT
from tether.testing import wait_all_tasks_blocked


def live_entries(runner: _core.Runner, target: object = None) -> list[list[Any]]:
    return [
        entry
        for entry in runner.deadlines
        if entry[2] is not None and (target is None or entry[2] is target)
    ]


def assert_heap_consistent(runner: _core.Runner) -> None:
    # The stale counter matches the heap, and every live entry is the timer
    # its target points back at.
    stale = sum(1 for entry in runner.deadlines if entry[2] is None)
    assert runner.stale_deadlines == stale
    for entry in live_entries(runner):
        target = entry[2]
        assert target._timer is entry
        if isinstance(target, _core.CancelScope):
            assert target._state is _ScopeState.ACTIVE
            assert not target._cancel_called
            assert target._deadline == entry[0]
        else:
            assert target._abort_func is not None  # a sleeping task


def test_move_on_after_in_a_loop_keeps_heap_bounded(run) -> None:
    sizes: list[int] = []

    async def main() -> None:
        runner = _core.current_runner()
        for _ in range(3 * _STALE_DEADLINES_LIMIT):
            with tether.move_on_after(10):
                await _core.checkpoint()
            sizes.append(len(runner.deadlines))
        assert_heap_consistent(runner)

    run(main)
    assert max(sizes) <= _STALE_DEADLINES_LIMIT + 1
    # The heap was rebuilt (it shrank), more than once.
    shrinks = sum(1 for before, after in itertools.pairwise(sizes) if after < before)
    assert shrinks >= 2


def test_rebuild_keeps_live_entries_and_their_identity(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        with tether.move_on_after(500) as outer:
            entry = outer._timer
            assert entry is not None
            for _ in range(2 * _STALE_DEADLINES_LIMIT):
                with tether.move_on_after(10):
                    await _core.checkpoint()
            # 2 * LIMIT entries went stale; a rebuild purged most of them.
            assert runner.stale_deadlines < _STALE_DEADLINES_LIMIT
            # The scope still holds the very entry that is in the heap.
            assert outer._timer is entry
            assert any(candidate is entry for candidate in runner.deadlines)
            assert_heap_consistent(runner)
            await tether.sleep_forever()
        assert outer.cancelled_caught
        assert _core.current_time() == 500

    run(main)


def test_heap_is_not_rebuilt_while_live_entries_dominate(run) -> None:
    sleepers = 2 * _STALE_DEADLINES_LIMIT

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            for n in range(sleepers):
                nursery.start_soon(tether.sleep, 100 + n)
            await wait_all_tasks_blocked()
            for _ in range(_STALE_DEADLINES_LIMIT + 10):
                with tether.move_on_after(10):
                    await _core.checkpoint()
            # Stale entries exceed the limit but are not half of the heap.
            assert runner.stale_deadlines == _STALE_DEADLINES_LIMIT + 10
            assert len(runner.deadlines) == sleepers + _STALE_DEADLINES_LIMIT + 10
            assert_heap_consistent(runner)
            nursery.cancel_scope.cancel()
        assert_heap_consistent(runner)

    run(main)


def test_next_deadline_skips_and_pops_stale_entries(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        now = _core.current_time()
        with _core.CancelScope(deadline=now + 1):
            pass
        assert runner.deadlines[0][2] is None  # the stale entry is on top
        with _core.CancelScope(deadline=now + 5) as scope:
            assert runner.next_deadline() == now + 5
            assert runner.deadlines[0][2] is scope
            assert runner.stale_deadlines == 0
            assert _core.current_statistics().seconds_to_next_deadline == 5
        assert runner.next_deadline() == math.inf
        assert runner.deadlines == []

    run(main)


def test_cancelled_sleeper_leaves_no_live_entry(run) -> None:
    tasks: list[_core.Task] = []

    async def sleeper() -> None:
        tasks.append(_core.current_task())
        await tether.sleep(100)

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await wait_all_tasks_blocked()
            [task] = tasks
            [entry] = live_entries(runner)
            assert entry[2] is task and entry[0] == 100
            assert task._timer is entry
            nursery.cancel_scope.cancel()
            assert task._timer is None
            assert live_entries(runner) == []
            assert_heap_consistent(runner)
        assert _core.current_time() == 0
        assert _core.current_statistics().seconds_to_next_deadline == math.inf

    run(main)


def test_sleep_that_completes_removes_its_entry(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        await tether.sleep(3)
        assert _core.current_task()._timer is None
        assert runner.deadlines == []
        assert runner.stale_deadlines == 0

    run(main)


def test_changing_deadline_while_waiting_reregisters_earlier(run) -> None:
    scopes: list[_core.CancelScope] = []
    woke_at: list[float] = []

    async def waiter() -> None:
        with _core.CancelScope(deadline=10) as scope:
            scopes.append(scope)
            await tether.sleep_forever()
        woke_at.append(_core.current_time())

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            [scope] = scopes
            old_entry = scope._timer
            scope.deadline = 3
            assert old_entry is not None and old_entry[2] is None  # now stale
            [entry] = live_entries(runner, scope)
            assert entry[0] == 3 and scope._timer is entry
            assert_heap_consistent(runner)

    run(main)
    assert woke_at == [3]


def test_changing_deadline_while_waiting_reregisters_later(run) -> None:
    scopes: list[_core.CancelScope] = []
    woke_at: list[float] = []

    async def waiter() -> None:
        with _core.CancelScope(deadline=3) as scope:
            scopes.append(scope)
            await tether.sleep_forever()
        woke_at.append(_core.current_time())

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await wait_all_tasks_blocked()
            scopes[0].deadline = 20
            [entry] = live_entries(runner, scopes[0])
            assert entry[0] == 20
            assert_heap_consistent(runner)

    run(main)
    assert woke_at == [20]


def test_deadline_set_to_infinity_removes_live_entry(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        with _core.CancelScope(deadline=5) as scope:
            assert len(live_entries(runner, scope)) == 1
            scope.deadline = math.inf
            assert scope._timer is None
            assert live_entries(runner) == []
            assert_heap_consistent(runner)
            await tether.sleep(10)  # not cancelled at 5
        assert not scope.cancelled_caught
        assert _core.current_time() == 10

    run(main)


def test_relative_deadline_change_reregisters_from_now(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        await tether.sleep(1)
        with _core.CancelScope(relative_deadline=10) as scope:
            assert scope.deadline == 11
            await tether.sleep(2)
            scope.relative_deadline = 4
            [entry] = live_entries(runner, scope)
            assert entry[0] == 7
            await tether.sleep_forever()
        assert _core.current_time() == 7

    run(main)


def test_cancel_discards_scope_timer(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        with _core.CancelScope(deadline=5) as scope:
            entry = scope._timer
            scope.cancel()
            assert scope._timer is None
            assert entry is not None and entry[2] is None
            assert runner.stale_deadlines == 1
            assert_heap_consistent(runner)
            # Moving the deadline of a cancelled scope registers nothing.
            scope.deadline = 50
            assert live_entries(runner) == []

    run(main)


def test_exited_scope_has_no_timer(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        with _core.CancelScope(deadline=5) as scope:
            pass
        assert scope._timer is None
        scope.deadline = 8  # after exit: stored, not registered
        assert live_entries(runner) == []
        assert_heap_consistent(runner)

    run(main)


def test_deadline_in_the_past_cancels_on_entry_without_heap_entry(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        await tether.sleep(5)
        with _core.CancelScope(deadline=2) as scope:
            assert scope.cancel_called
            assert scope.effectively_cancelled
            assert runner.deadlines == []
            await _core.checkpoint()
        assert scope.cancelled_caught

    run(main)


def test_expired_scope_entry_is_consumed(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        with tether.move_on_after(2) as scope:
            await tether.sleep_forever()
        assert scope.cancelled_caught
        assert scope._timer is None
        assert runner.deadlines == []
        assert runner.stale_deadlines == 0
        assert scope._cancel_info == ("deadline", None, None)

    run(main)


def test_sleeping_task_inside_expiring_scope_leaves_one_stale_entry(run) -> None:
    # The scope's deadline fires first; the task's own sleep entry goes stale.
    async def main() -> None:
        runner = _core.current_runner()
        with tether.move_on_after(2):
            await tether.sleep(50)
        assert _core.current_time() == 2
        assert live_entries(runner) == []
        assert_heap_consistent(runner)
        assert runner.next_deadline() == math.inf
        assert runner.stale_deadlines == 0

    run(main)


def test_same_deadline_entries_fire_in_registration_order(run, fifo) -> None:
    order: list[int] = []

    async def sleeper(n: int) -> None:
        await tether.sleep_until(7)
        order.append(n)

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            for n in range(5):
                nursery.start_soon(sleeper, n)
                await wait_all_tasks_blocked()

    run(main)
    assert order == [0, 1, 2, 3, 4]
