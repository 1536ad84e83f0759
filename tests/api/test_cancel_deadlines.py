"""Black-box tests of cancel-scope deadlines: absolute and relative deadlines,
changing them while a task waits, validation, current_effective_deadline()."""

from __future__ import annotations

import math

import pytest

# ---------------------------------------------------------------- deadlines


def test_deadline_cancels_at_exact_time(run, impl) -> None:
    async def main():
        with impl.CancelScope(deadline=2.5) as scope:
            await impl.sleep_forever()
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 2.5)


def test_deadline_extended_while_waiting(run, impl) -> None:
    async def main():
        scope = impl.CancelScope(deadline=2)

        async def waiter():
            with scope:
                await impl.sleep_forever()
            return None

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await impl.sleep(1)
            scope.deadline = 5
        return impl.current_time()

    assert run(main) == 5.0


def test_deadline_shortened_while_waiting(run, impl) -> None:
    async def main():
        scope = impl.CancelScope()

        async def waiter():
            with scope:
                await impl.sleep_forever()

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await impl.sleep(1)
            scope.deadline = 10
            await impl.sleep(1)
            scope.deadline = 5
        return impl.current_time()

    assert run(main) == 5.0


def test_deadline_in_the_past_cancels_at_next_checkpoint(run, impl) -> None:
    async def main():
        await impl.sleep(3)
        with impl.CancelScope() as scope:
            scope.deadline = 1
            await impl.sleep(10)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 3.0)


def test_deadline_set_by_own_task_extends_sleep(run, impl) -> None:
    async def main():
        with impl.move_on_after(2) as scope:
            await impl.sleep(1)
            scope.deadline = 5
            await impl.sleep_forever()
        return impl.current_time()

    assert run(main) == 5.0


def test_default_deadline_is_infinite(impl) -> None:
    scope = impl.CancelScope()
    assert scope.deadline == math.inf
    assert scope.relative_deadline == math.inf
    assert scope.is_relative is False


def test_deadline_nan_raises_value_error(impl) -> None:
    with pytest.raises(ValueError):
        impl.CancelScope(deadline=math.nan)
    scope = impl.CancelScope()
    with pytest.raises(ValueError):
        scope.deadline = math.nan


def test_relative_deadline_counts_from_scope_entry(run, impl) -> None:
    async def main():
        scope = impl.CancelScope(relative_deadline=5)
        await impl.sleep(10)
        with scope:
            deadline = scope.deadline
            await impl.sleep_forever()
        return deadline, impl.current_time()

    assert run(main) == (15.0, 15.0)


def test_relative_deadline_before_entering(impl) -> None:
    scope = impl.CancelScope(relative_deadline=5)
    assert scope.relative_deadline == 5
    assert scope.is_relative is True


def test_absolute_deadline_scope_is_not_relative(impl) -> None:
    assert impl.CancelScope(deadline=3).is_relative is False


def test_relative_deadline_after_entering_is_time_remaining(run, impl) -> None:
    async def main():
        await impl.sleep(10)
        with impl.CancelScope(relative_deadline=5) as scope:
            await impl.sleep(1)
            return scope.relative_deadline, scope.is_relative

    assert run(main) == (4.0, None)


def test_setting_relative_deadline_inside_scope_counts_from_now(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            await impl.sleep(3)
            scope.relative_deadline = 2
            deadline = scope.deadline
            await impl.sleep_forever()
        return deadline, impl.current_time()

    assert run(main) == (5.0, 5.0)


def test_setting_relative_deadline_before_entering(run, impl) -> None:
    async def main():
        scope = impl.CancelScope()
        scope.relative_deadline = 4
        relative_before = (scope.relative_deadline, scope.is_relative)
        await impl.sleep(1)
        with scope:
            await impl.sleep_forever()
        return relative_before, impl.current_time()

    assert run(main) == ((4, True), 5.0)


def test_unentered_relative_scope_has_no_absolute_deadline(impl) -> None:
    scope = impl.CancelScope(relative_deadline=5)
    with pytest.raises(RuntimeError):
        scope.deadline
    with pytest.raises(RuntimeError):
        scope.deadline = 3


def test_unentered_absolute_scope_has_no_relative_deadline(impl) -> None:
    scope = impl.CancelScope(deadline=5)
    with pytest.raises(RuntimeError):
        scope.relative_deadline
    with pytest.raises(RuntimeError):
        scope.relative_deadline = 3


def test_deadline_and_relative_deadline_together_raise_value_error(impl) -> None:
    with pytest.raises(ValueError, match="Cannot specify both"):
        impl.CancelScope(deadline=1, relative_deadline=1)


def test_negative_relative_deadline_raises_value_error(impl) -> None:
    with pytest.raises(ValueError):
        impl.CancelScope(relative_deadline=-1)
    scope = impl.CancelScope()
    with pytest.raises(ValueError):
        scope.relative_deadline = -1


def test_nan_relative_deadline_raises_value_error(impl) -> None:
    with pytest.raises(ValueError):
        impl.CancelScope(relative_deadline=math.nan)
    scope = impl.CancelScope()
    with pytest.raises(ValueError):
        scope.relative_deadline = math.nan


# ---------------------------------------------------------------- effective deadline


def test_current_effective_deadline_in_nested_scopes(run, impl) -> None:
    async def main():
        seen = [impl.current_effective_deadline()]
        with impl.CancelScope(deadline=10):
            seen.append(impl.current_effective_deadline())
            with impl.CancelScope(deadline=20):
                seen.append(impl.current_effective_deadline())
                with impl.CancelScope(deadline=5):
                    seen.append(impl.current_effective_deadline())
            seen.append(impl.current_effective_deadline())
        return seen

    assert run(main) == [math.inf, 10, 10, 5, 10]


def test_current_effective_deadline_under_shield_ignores_outer(run, impl) -> None:
    async def main():
        with impl.CancelScope(deadline=10):
            with impl.CancelScope(shield=True):
                shielded = impl.current_effective_deadline()
                with impl.CancelScope(deadline=15):
                    inner = impl.current_effective_deadline()
        return shielded, inner

    assert run(main) == (math.inf, 15)


def test_current_effective_deadline_when_cancelled_is_minus_infinity(run, impl) -> None:
    async def main():
        with impl.CancelScope(deadline=10) as scope:
            scope.cancel()
            return impl.current_effective_deadline()

    assert run(main) == -math.inf


def test_current_effective_deadline_outside_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.current_effective_deadline()
