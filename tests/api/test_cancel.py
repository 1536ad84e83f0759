"""Black-box tests of CancelScope and Cancelled: level-triggered delivery,
which scope catches, shields, partial checkpoints, cancel reasons and misuse.
Deadlines live in test_cancel_deadlines.py."""

from __future__ import annotations

import pytest

# ---------------------------------------------------------------- delivery


def test_every_checkpoint_in_cancelled_scope_raises(run, impl) -> None:
    async def main():
        raised = 0
        with impl.CancelScope() as scope:
            scope.cancel()
            for _ in range(3):
                try:
                    await impl.lowlevel.checkpoint()
                except impl.Cancelled:
                    raised += 1
        return raised

    assert run(main) == 3


def test_cancel_wakes_blocked_task_at_cancel_time(run, impl) -> None:
    events = []

    async def main():
        scope = impl.CancelScope()

        async def sleeper():
            with scope:
                await impl.sleep_forever()
            events.append(("woke", impl.current_time()))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(sleeper)
            await impl.sleep(4)
            scope.cancel()

    run(main)
    assert events == [("woke", 4.0)]


def test_cancelled_scope_catches_its_cancelled(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            await impl.sleep(1)
            return "not reached"
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 0.0)


def test_cancelled_is_caught_by_the_scope_that_was_cancelled(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            with impl.CancelScope() as inner:
                outer.cancel()
                await impl.lowlevel.checkpoint()
        return inner.cancel_called, inner.cancelled_caught, outer.cancelled_caught

    assert run(main) == (False, False, True)


def test_inner_cancel_does_not_affect_outer_scope(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            with impl.CancelScope() as inner:
                inner.cancel()
                await impl.lowlevel.checkpoint()
            await impl.lowlevel.checkpoint()
        return inner.cancelled_caught, outer.cancel_called, outer.cancelled_caught

    assert run(main) == (True, False, False)


def test_cancelled_from_nested_cancelled_scopes_reaches_outermost(run, impl) -> None:
    events = []

    async def main():
        with impl.CancelScope() as outer:
            outer.cancel()
            with impl.CancelScope() as inner:
                inner.cancel()
                await impl.lowlevel.checkpoint()
            events.append("between scopes")
        return inner.cancelled_caught, outer.cancelled_caught

    assert run(main) == (False, True)
    assert events == []


def test_cancelled_caught_false_when_no_checkpoint_ran(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
        return scope.cancel_called, scope.cancelled_caught

    assert run(main) == (True, False)


def test_cancelled_caught_false_when_cancelled_handled_inside(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            try:
                await impl.lowlevel.checkpoint()
            except impl.Cancelled:
                pass
        return scope.cancel_called, scope.cancelled_caught

    assert run(main) == (True, False)


def test_cancel_called_is_false_until_cancel(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            before = scope.cancel_called
            scope.cancel()
            after = scope.cancel_called
        return before, after

    assert run(main) == (False, True)


def test_cancel_before_entering_cancels_on_first_checkpoint(run, impl) -> None:
    async def main():
        scope = impl.CancelScope()
        scope.cancel()
        before = (scope.cancel_called, scope.cancelled_caught)
        with scope:
            await impl.sleep(5)
        return before, scope.cancelled_caught, impl.current_time()

    assert run(main) == ((True, False), True, 0.0)


def test_cancel_after_exit_is_harmless(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            pass
        scope.cancel()
        await impl.lowlevel.checkpoint()
        return scope.cancel_called, scope.cancelled_caught

    assert run(main) == (True, False)


def test_cancel_is_synchronous_and_not_a_checkpoint(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            with impl.testing.assert_no_checkpoints():
                scope.cancel()
        return scope.cancel_called

    assert run(main) is True


def test_cancel_outside_run_before_entering(run, impl) -> None:
    scope = impl.CancelScope()
    scope.cancel()

    async def main():
        with scope:
            await impl.sleep_forever()
        return scope.cancelled_caught

    assert run(main) is True


def test_cancel_scope_can_only_be_entered_once(run, impl) -> None:
    async def main():
        scope = impl.CancelScope()
        with scope:
            pass
        with pytest.raises(RuntimeError, match="single 'with' block"):
            with scope:
                pass

    run(main)


def test_cancel_scope_cannot_be_entered_while_active(run, impl) -> None:
    async def main():
        scope = impl.CancelScope()
        with scope:
            with pytest.raises(RuntimeError, match="single 'with' block"):
                with scope:
                    pass

    run(main)


def test_exiting_cancel_scopes_out_of_order_raises_runtime_error(run, impl) -> None:
    async def main():
        outer = impl.CancelScope()
        inner = impl.CancelScope()
        outer.__enter__()
        inner.__enter__()
        with pytest.raises(RuntimeError, match="Cancel scope stack corrupted"):
            outer.__exit__(None, None, None)
        inner.__exit__(None, None, None)

    run(main)


def test_cancelled_exception_passes_through_except_exception(run, impl) -> None:
    events = []

    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            try:
                await impl.lowlevel.checkpoint()
            except Exception:
                events.append("caught as Exception")
        return scope.cancelled_caught

    assert run(main) is True
    assert events == []


# ---------------------------------------------------------------- shields


def test_shield_blocks_outer_cancellation(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            outer.cancel()
            with impl.CancelScope(shield=True):
                await impl.sleep(2)
                reached = impl.current_time()
            await impl.lowlevel.checkpoint()
        return reached, outer.cancelled_caught

    assert run(main) == (2.0, True)


def test_shield_does_not_block_own_cancellation(run, impl) -> None:
    async def main():
        with impl.CancelScope(shield=True) as scope:
            scope.cancel()
            await impl.sleep(2)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 0.0)


def test_shield_does_not_block_inner_scope_cancellation(run, impl) -> None:
    async def main():
        with impl.CancelScope(shield=True):
            with impl.move_on_after(1) as inner:
                await impl.sleep(5)
        return inner.cancelled_caught, impl.current_time()

    assert run(main) == (True, 1.0)


def test_shield_blocks_outer_deadline(run, impl) -> None:
    async def main():
        with impl.move_on_after(1) as outer:
            with impl.CancelScope(shield=True):
                await impl.sleep(3)
                woke = impl.current_time()
        return woke, outer.cancel_called, outer.cancelled_caught

    # cancelled_caught stays False: no checkpoint ran between shield and exit.
    assert run(main) == (3.0, True, False)


def test_removing_shield_while_waiting_delivers_pending_cancel(run, impl) -> None:
    events = []

    async def main():
        outer = impl.CancelScope()
        shield = impl.CancelScope(shield=True)

        async def waiter():
            with outer:
                with shield:
                    try:
                        await impl.sleep_forever()
                    except impl.Cancelled:
                        events.append(("cancelled", impl.current_time()))
                        raise

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waiter)
            await impl.testing.wait_all_tasks_blocked()
            outer.cancel()
            await impl.sleep(3)
            events.append(("unshield", impl.current_time()))
            shield.shield = False
        events.append((outer.cancelled_caught, shield.cancelled_caught))

    run(main)
    assert events == [("unshield", 3.0), ("cancelled", 3.0), (True, False)]


def test_setting_shield_while_cancelled_protects_later_checkpoints(run, impl) -> None:
    async def main():
        with impl.CancelScope() as outer:
            with impl.CancelScope() as inner:
                outer.cancel()
                inner.shield = True
                await impl.sleep(1)
                inner.shield = False
                reached = impl.current_time()
                await impl.lowlevel.checkpoint()
        return reached, outer.cancelled_caught

    assert run(main) == (1.0, True)


def test_shield_attribute_reflects_constructor_and_assignment(impl) -> None:
    scope = impl.CancelScope()
    assert scope.shield is False
    scope.shield = True
    assert scope.shield is True
    assert impl.CancelScope(shield=True).shield is True


def test_shield_must_be_bool(impl) -> None:
    scope = impl.CancelScope()
    with pytest.raises(TypeError, match="shield must be a bool"):
        scope.shield = 1


# ---------------------------------------------------------------- partial checkpoints


def test_cancel_shielded_checkpoint_does_not_raise_while_cancelled(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            await impl.lowlevel.cancel_shielded_checkpoint()
            reached = True
        return reached, scope.cancelled_caught

    assert run(main) == (True, False)


def test_cancel_shielded_checkpoint_lets_other_tasks_run(run, impl) -> None:
    async def main():
        done = []

        async def other():
            done.append(True)

        async with impl.open_nursery() as nursery:
            nursery.start_soon(other)
            with impl.CancelScope() as scope:
                scope.cancel()
                spins = 0
                while not done:
                    assert spins < 100, "cancel_shielded_checkpoint() never yielded"
                    await impl.lowlevel.cancel_shielded_checkpoint()
                    spins += 1
        return scope.cancelled_caught

    assert run(main) is False


def test_checkpoint_if_cancelled_raises_only_when_cancelled(run, impl) -> None:
    async def main():
        await impl.lowlevel.checkpoint_if_cancelled()
        with impl.CancelScope() as scope:
            scope.cancel()
            await impl.lowlevel.checkpoint_if_cancelled()
            return "not reached"
        return scope.cancelled_caught

    assert run(main) is True


def test_checkpoint_if_cancelled_does_not_yield_when_not_cancelled(run, impl) -> None:
    events = []

    async def other():
        events.append("other")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(other)
            await impl.lowlevel.checkpoint_if_cancelled()
            events.append("main")

    run(main)
    assert events == ["main", "other"]


# ---------------------------------------------------------------- Cancelled details


def catch_cancelled(impl):
    """Run ``body`` and return the Cancelled it raised."""

    async def capture(body):
        try:
            await body()
        except impl.Cancelled as exc:
            return exc
        raise AssertionError("no Cancelled raised")

    return capture


def test_explicit_cancel_source_and_task(run, impl) -> None:
    capture = catch_cancelled(impl)

    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            exc = await capture(impl.lowlevel.checkpoint)
        return exc.source, exc.reason, exc.source_task == repr(impl.lowlevel.current_task())

    assert run(main) == ("explicit", None, True)


def test_explicit_cancel_reason(run, impl) -> None:
    capture = catch_cancelled(impl)

    async def main():
        with impl.CancelScope() as scope:
            scope.cancel(reason="user pressed stop")
            exc = await capture(impl.lowlevel.checkpoint)
        return exc.source, exc.reason

    assert run(main) == ("explicit", "user pressed stop")


def test_cancel_source_task_is_the_cancelling_task(run, impl) -> None:
    capture = catch_cancelled(impl)

    async def main():
        scope = impl.CancelScope()
        canceller_repr = []

        async def canceller():
            canceller_repr.append(repr(impl.lowlevel.current_task()))
            scope.cancel()

        async with impl.open_nursery() as nursery:
            with scope:
                nursery.start_soon(canceller)
                exc = await capture(impl.sleep_forever)
        return exc.source, [exc.source_task] == canceller_repr

    assert run(main) == ("explicit", True)


def test_deadline_cancel_source(run, impl) -> None:
    capture = catch_cancelled(impl)

    async def main():
        with impl.move_on_after(1):
            exc = await capture(impl.sleep_forever)
        return exc.source, exc.reason, exc.source_task

    assert run(main) == ("deadline", None, None)


def test_nursery_cancel_source_names_failing_child(run, impl) -> None:
    capture = catch_cancelled(impl)
    seen = {}

    async def failing():
        seen["failing"] = repr(impl.lowlevel.current_task())
        raise ValueError("bad")

    async def sibling():
        seen["exc"] = await capture(impl.sleep_forever)
        raise seen["exc"]

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(sibling)
            await impl.testing.wait_all_tasks_blocked()
            nursery.start_soon(failing)

    with pytest.raises(ExceptionGroup):
        run(main)
    exc = seen["exc"]
    assert exc.source == "nursery"
    assert exc.source_task == seen["failing"]
    assert exc.reason == "child task raised exception ValueError('bad')"


def test_system_task_shutdown_cancel_source(run, impl) -> None:
    capture = catch_cancelled(impl)
    seen = []

    async def system():
        exc = await capture(impl.sleep_forever)
        seen.append(exc.source)
        raise exc

    async def main():
        impl.lowlevel.spawn_system_task(system)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert seen == ["shutdown"]


def test_first_cancel_reason_wins(run, impl) -> None:
    capture = catch_cancelled(impl)

    async def main():
        with impl.CancelScope() as scope:
            scope.cancel(reason="first")
            scope.cancel(reason="second")
            exc = await capture(impl.lowlevel.checkpoint)
        return exc.reason

    assert run(main) == "first"


def test_explicit_cancel_after_deadline_keeps_deadline_source(run, impl) -> None:
    capture = catch_cancelled(impl)

    async def main():
        with impl.move_on_after(1) as scope:
            first = await capture(impl.sleep_forever)
            scope.cancel(reason="too late")
            second = await capture(impl.lowlevel.checkpoint)
        return first.source, second.source, second.reason

    assert run(main) == ("deadline", "deadline", None)
