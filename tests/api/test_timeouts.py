"""Black-box tests of sleeping and timeouts in virtual time: sleep*,
move_on_*/fail_*, argument validation, MockClock and wait_all_tasks_blocked."""

from __future__ import annotations

import math

import pytest

# ---------------------------------------------------------------- sleeping


def test_sleep_wakes_at_exact_virtual_time(run, impl) -> None:
    async def main():
        times = []
        await impl.sleep(1.5)
        times.append(impl.current_time())
        await impl.sleep(2)
        times.append(impl.current_time())
        return times

    assert run(main) == [1.5, 3.5]


def test_sleep_zero_is_a_checkpoint_and_takes_no_time(run, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.sleep(0)
        return impl.current_time()

    assert run(main) == 0.0


def test_sleep_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.sleep(1)

    run(main)


def test_sleep_in_cancelled_scope_raises_immediately(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            await impl.sleep(10)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 0.0)


def test_sleep_until_wakes_at_deadline(run, impl) -> None:
    async def main():
        await impl.sleep_until(4)
        return impl.current_time()

    assert run(main) == 4.0


def test_sleep_until_past_deadline_returns_immediately(run, impl) -> None:
    async def main():
        await impl.sleep(2)
        with impl.testing.assert_checkpoints():
            await impl.sleep_until(1)
        return impl.current_time()

    assert run(main) == 2.0


def test_sleep_forever_only_ends_by_cancellation(run, impl) -> None:
    async def main():
        with impl.move_on_after(1000) as scope:
            await impl.sleep_forever()
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 1000.0)


def test_sleep_infinity_only_ends_by_cancellation(run, impl) -> None:
    async def main():
        with impl.move_on_after(7):
            await impl.sleep(math.inf)
        return impl.current_time()

    assert run(main) == 7.0


def test_concurrent_sleepers_wake_in_deadline_order(run, impl) -> None:
    woken = []

    async def sleeper(seconds):
        await impl.sleep(seconds)
        woken.append((seconds, impl.current_time()))

    async def main():
        async with impl.open_nursery() as nursery:
            for seconds in (3, 1, 2):
                nursery.start_soon(sleeper, seconds)

    run(main)
    assert woken == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_sleep_negative_raises_value_error(run, impl) -> None:
    async def main():
        with pytest.raises(ValueError):
            await impl.sleep(-1)

    run(main)


def test_sleep_nan_raises_value_error(run, impl) -> None:
    async def main():
        with pytest.raises(ValueError):
            await impl.sleep(math.nan)

    run(main)


def test_sleep_until_nan_raises_value_error(run, impl) -> None:
    async def main():
        with pytest.raises(ValueError):
            await impl.sleep_until(math.nan)

    run(main)


# ---------------------------------------------------------------- move_on / fail


def test_move_on_after_cancels_at_exact_time(run, impl) -> None:
    async def main():
        await impl.sleep(1)
        with impl.move_on_after(2) as scope:
            await impl.sleep(5)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 3.0)


def test_move_on_after_does_nothing_when_body_finishes_first(run, impl) -> None:
    async def main():
        with impl.move_on_after(2) as scope:
            await impl.sleep(1)
        return scope.cancel_called, scope.cancelled_caught, impl.current_time()

    assert run(main) == (False, False, 1.0)


def test_move_on_after_returns_relative_cancel_scope(run, impl) -> None:
    async def main():
        scope = impl.move_on_after(2)
        assert isinstance(scope, impl.CancelScope)
        assert (scope.relative_deadline, scope.is_relative) == (2, True)
        await impl.sleep(1)
        with scope:
            return scope.deadline

    # The deadline counts from entering the block, not from the call.
    assert run(main) == 3.0


def test_move_on_after_zero_cancels_at_first_checkpoint(run, impl) -> None:
    async def main():
        with impl.move_on_after(0) as scope:
            await impl.lowlevel.checkpoint()
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 0.0)


def test_move_on_after_shield_blocks_outer_cancel(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            outer.cancel()
            with impl.move_on_after(2, shield=True) as scope:
                await impl.sleep(5)
        return scope.shield, scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, True, 2.0)


def test_move_on_at_cancels_at_deadline(run, impl) -> None:
    async def main():
        with impl.move_on_at(3) as scope:
            await impl.sleep_forever()
        return scope.deadline, scope.cancelled_caught, impl.current_time()

    assert run(main) == (3, True, 3.0)


def test_move_on_at_shield(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            outer.cancel()
            with impl.move_on_at(4, shield=True) as scope:
                await impl.sleep_forever()
        return scope.shield, impl.current_time()

    assert run(main) == (True, 4.0)


def test_fail_after_raises_too_slow_error_at_exact_time(run, impl) -> None:
    async def main():
        with pytest.raises(impl.TooSlowError):
            with impl.fail_after(2):
                await impl.sleep(5)
        return impl.current_time()

    assert run(main) == 2.0


def test_fail_after_yields_its_cancel_scope(run, impl) -> None:
    async def main():
        with impl.fail_after(2) as scope:
            await impl.sleep(1)
        return isinstance(scope, impl.CancelScope), scope.deadline, scope.cancelled_caught

    assert run(main) == (True, 2.0, False)


def test_fail_after_does_not_raise_when_body_finishes_first(run, impl) -> None:
    async def main():
        with impl.fail_after(2):
            await impl.sleep(1)
        return impl.current_time()

    assert run(main) == 1.0


def test_fail_after_raises_when_its_scope_is_cancelled_explicitly(run, impl) -> None:
    async def main():
        with pytest.raises(impl.TooSlowError):
            with impl.fail_after(10) as scope:
                scope.cancel()
                await impl.sleep(1)
        return impl.current_time()

    assert run(main) == 0.0


def test_fail_after_outer_cancel_is_not_too_slow(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            with impl.fail_after(10):
                outer.cancel()
                await impl.sleep(1)
        return outer.cancelled_caught

    assert run(main) is True


def test_fail_after_shield_blocks_outer_cancel(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            outer.cancel()
            with pytest.raises(impl.TooSlowError):
                with impl.fail_after(2, shield=True) as scope:
                    assert scope.shield is True
                    await impl.sleep(5)
        return impl.current_time()

    assert run(main) == 2.0


def test_fail_at_raises_too_slow_error_at_deadline(run, impl) -> None:
    async def main():
        with pytest.raises(impl.TooSlowError):
            with impl.fail_at(6):
                await impl.sleep_forever()
        return impl.current_time()

    assert run(main) == 6.0


def test_fail_at_shield(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            outer.cancel()
            with pytest.raises(impl.TooSlowError):
                with impl.fail_at(3, shield=True):
                    await impl.sleep_forever()
        return impl.current_time()

    assert run(main) == 3.0


@pytest.mark.parametrize("seconds", [-1, math.nan], ids=["negative", "nan"])
@pytest.mark.parametrize("name", ["move_on_after", "fail_after"])
def test_relative_timeout_bad_seconds_raise_value_error(run, impl, name, seconds) -> None:
    async def main():
        with pytest.raises(ValueError):
            with getattr(impl, name)(seconds):
                await impl.lowlevel.checkpoint()

    run(main)


@pytest.mark.parametrize("name", ["move_on_at", "fail_at"])
def test_absolute_timeout_nan_deadline_raises_value_error(run, impl, name) -> None:
    async def main():
        with pytest.raises(ValueError):
            with getattr(impl, name)(math.nan):
                await impl.lowlevel.checkpoint()

    run(main)


def test_move_on_at_past_deadline_cancels_at_first_checkpoint(run, impl) -> None:
    async def main():
        await impl.sleep(5)
        with impl.move_on_at(-1) as scope:
            await impl.sleep(1)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 5.0)


# ---------------------------------------------------------------- MockClock


def test_mock_clock_defaults(impl) -> None:
    clock = impl.testing.MockClock()
    assert clock.current_time() == 0.0
    assert clock.rate == 0.0
    assert clock.autojump_threshold == math.inf


def test_mock_clock_jump_advances_time(impl) -> None:
    clock = impl.testing.MockClock()
    clock.jump(5)
    clock.jump(2.5)
    assert clock.current_time() == 7.5


def test_mock_clock_negative_jump_raises_value_error(impl) -> None:
    clock = impl.testing.MockClock()
    with pytest.raises(ValueError):
        clock.jump(-1)


def test_mock_clock_negative_rate_raises_value_error(impl) -> None:
    with pytest.raises(ValueError):
        impl.testing.MockClock(rate=-1)
    clock = impl.testing.MockClock()
    with pytest.raises(ValueError):
        clock.rate = -1


def test_mock_clock_rate_and_threshold_are_assignable(impl) -> None:
    clock = impl.testing.MockClock(rate=2.0, autojump_threshold=0.5)
    assert (clock.rate, clock.autojump_threshold) == (2.0, 0.5)
    clock.rate = 0
    clock.autojump_threshold = math.inf
    assert (clock.rate, clock.autojump_threshold) == (0.0, math.inf)


def test_mock_clock_at_rate_zero_stands_still(impl) -> None:
    clock = impl.testing.MockClock()
    clock.jump(3)

    async def main():
        before = impl.current_time()
        for _ in range(5):
            await impl.lowlevel.checkpoint()
        return before, impl.current_time()

    assert impl.run(main, clock=clock) == (3.0, 3.0)


def test_mock_clock_jump_wakes_sleepers_without_autojump(impl) -> None:
    clock = impl.testing.MockClock()
    events = []

    async def sleeper():
        await impl.sleep(10)
        events.append(("woke", impl.current_time()))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await impl.testing.wait_all_tasks_blocked()
            clock.jump(4)
            await impl.testing.wait_all_tasks_blocked()
            events.append(("after first jump", impl.current_time()))
            clock.jump(6)

    impl.run(main, clock=clock)
    assert events == [("after first jump", 4.0), ("woke", 10.0)]


def test_mock_clock_autojump_enabled_during_run(impl) -> None:
    async def main():
        impl.lowlevel.current_clock().autojump_threshold = 0
        await impl.sleep(5)
        return impl.current_time()

    assert impl.run(main, clock=impl.testing.MockClock()) == 5.0


def test_mock_clock_autojump_jumps_to_next_deadline(run, impl) -> None:
    async def main():
        with impl.move_on_after(30):
            await impl.sleep(100)
        return impl.current_time()

    assert run(main) == 30.0


# ---------------------------------------------------------------- wait_all_tasks_blocked


def test_wait_all_tasks_blocked_returns_after_others_block(run, impl) -> None:
    events = []

    async def worker(name):
        for step in range(3):
            events.append((name, step))
            await impl.lowlevel.checkpoint()
        await impl.sleep_forever()

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(worker, "w")
            await impl.testing.wait_all_tasks_blocked()
            events.append("all blocked")
            nursery.cancel_scope.cancel()

    run(main)
    assert events == [("w", 0), ("w", 1), ("w", 2), "all blocked"]


def test_wait_all_tasks_blocked_wakes_smallest_cushion_first(run, impl) -> None:
    events = []

    async def waiter(cushion):
        await impl.testing.wait_all_tasks_blocked(cushion)
        events.append((cushion, impl.current_time()))

    async def sleeper():
        await impl.sleep(5)
        events.append(("sleeper", impl.current_time()))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter, 0.02)
            nursery.start_soon(waiter, 0.01)
            nursery.start_soon(waiter, 0)
            nursery.start_soon(sleeper)

    run(main)
    # A task in wait_all_tasks_blocked counts as busy for autojump, so the
    # clock jumps only once every waiter has woken.
    assert events == [(0, 0.0), (0.01, 0.0), (0.02, 0.0), ("sleeper", 5.0)]


def test_wait_all_tasks_blocked_equal_cushions_wake_together(run, impl) -> None:
    events = []

    async def waiter(name):
        await impl.testing.wait_all_tasks_blocked(0.01)
        events.append(name)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter, "a")
            nursery.start_soon(waiter, "b")

    run(main)
    assert sorted(events) == ["a", "b"]


def test_wait_all_tasks_blocked_is_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.testing.wait_all_tasks_blocked()

    run(main)
