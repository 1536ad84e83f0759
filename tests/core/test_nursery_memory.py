"""Memory hygiene of nurseries: a Cancelled escaping a child always stems
from the nursery's scope or one around it, so the nursery keeps only the
first (``Nursery._holds_cancelled``) instead of one per child, with its
traceback and frames, until ``__aexit__``.  And the common paths free their
objects by reference counting alone: no reference cycles for the collector
(a cycle through a frame keeps every local of that frame alive until the
next collection)."""

from __future__ import annotations

import gc
import types
from collections.abc import Awaitable, Callable

import tether
from tether import _core
from tether.testing import wait_all_tasks_blocked

CHILDREN = 200


def cancelled_ids() -> set[int]:
    gc.collect()
    return {id(obj) for obj in gc.get_objects() if type(obj) is tether.Cancelled}


async def holdout(released: list[_core.Task]) -> None:
    # Stays in the nursery (shielded) until main reschedules it.
    with _core.CancelScope(shield=True):
        released.append(_core.current_task())
        await _core.wait_task_rescheduled(_core.abort_always_succeeds)


def test_many_cancelled_children_leave_one_cancelled_in_the_nursery(run) -> None:
    released: list[_core.Task] = []
    observed: list[object] = []

    async def main() -> None:
        # Cancelled objects other tests left alive (say, in kept reports).
        before = cancelled_ids()
        async with tether.open_nursery() as nursery:
            assert nursery._holds_cancelled is False
            nursery.start_soon(holdout, released)
            for _ in range(CHILDREN):
                nursery.start_soon(tether.sleep_forever)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            with _core.CancelScope(shield=True):
                await wait_all_tasks_blocked()
                try:
                    observed.append(len(nursery.child_tasks))  # only the holdout
                    observed.append(nursery._holds_cancelled)
                    observed.append([type(e).__name__ for e in nursery._pending_excs])
                    # The other Cancelled exceptions (and their frames) are gone.
                    observed.append(len(cancelled_ids() - before))
                finally:
                    _core.reschedule(released[0])
        assert nursery.cancel_scope.cancelled_caught
        assert nursery._pending_excs == []

    run(main)
    assert observed == [1, True, ["Cancelled"], 1]


def test_child_error_among_cancelled_children_comes_out_alone(run) -> None:
    async def failing() -> None:
        await wait_all_tasks_blocked()
        raise ValueError("child failed")

    async def main() -> None:
        try:
            async with tether.open_nursery() as nursery:
                for _ in range(CHILDREN):
                    nursery.start_soon(tether.sleep_forever)
                nursery.start_soon(failing)
        except BaseExceptionGroup as group:
            assert [type(e) for e in group.exceptions] == [ValueError]
            assert nursery._holds_cancelled is True
        else:
            raise AssertionError("nursery did not raise")

    run(main)


def test_outer_cancellation_passes_through_nursery_once(run) -> None:
    async def main() -> None:
        with _core.CancelScope() as outer:
            async with tether.open_nursery() as nursery:
                for _ in range(CHILDREN):
                    nursery.start_soon(tether.sleep_forever)
                await wait_all_tasks_blocked()
                outer.cancel()
                await tether.sleep_forever()
        assert outer.cancelled_caught
        assert not nursery.cancel_scope.cancelled_caught
        assert nursery._holds_cancelled is True

    run(main)


def test_non_cancelled_errors_are_all_kept(run) -> None:
    async def failing(n: int) -> None:
        raise ValueError(n)

    async def main() -> None:
        try:
            async with tether.open_nursery() as nursery:
                for n in range(5):
                    nursery.start_soon(failing, n)
        except BaseExceptionGroup as group:
            assert sorted(e.args[0] for e in group.exceptions) == [0, 1, 2, 3, 4]
        else:
            raise AssertionError("nursery did not raise")

    run(main)


def test_cancelled_children_then_clean_exit_leave_nothing_behind(run) -> None:
    async def main() -> None:
        before = cancelled_ids()
        for _ in range(3):
            async with tether.open_nursery() as nursery:
                for _ in range(CHILDREN):
                    nursery.start_soon(tether.sleep_forever)
                await wait_all_tasks_blocked()
                nursery.cancel_scope.cancel()
        assert cancelled_ids() - before == set()
        assert _core.current_statistics().tasks_living == 2  # <init> and main

    run(main)


# ---------------------------------------------------------------- cyclic garbage


def describe(obj: object) -> str:
    if isinstance(obj, types.FrameType):
        return f"frame {obj.f_code.co_name}"
    return type(obj).__name__


async def cyclic_garbage_of(scenario: Callable[[], Awaitable[object]]) -> list[str]:
    """What ``scenario()`` leaves for the cycle collector (after a warm-up run)."""
    await scenario()
    gc.collect()
    gc.set_debug(gc.DEBUG_SAVEALL)
    gc.disable()
    try:
        await scenario()
        gc.collect()
        return sorted(describe(obj) for obj in gc.garbage)
    finally:
        gc.garbage.clear()
        gc.set_debug(0)
        gc.enable()


def test_checkpoints_and_sleeps_leave_no_cyclic_garbage(run) -> None:
    async def scenario() -> None:
        for _ in range(10):
            await _core.checkpoint()
        await tether.sleep(1)

    async def main() -> list[str]:
        return await cyclic_garbage_of(scenario)

    assert run(main) == []


def test_move_on_after_leaves_no_cyclic_garbage(run) -> None:
    async def scenario() -> None:
        with tether.move_on_after(1):
            await tether.sleep_forever()

    async def main() -> list[str]:
        return await cyclic_garbage_of(scenario)

    assert run(main) == []


def test_nursery_leaves_no_cyclic_garbage(run) -> None:
    async def scenario() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.sleep, 1)

    async def main() -> list[str]:
        return await cyclic_garbage_of(scenario)

    assert run(main) == []


def test_task_exiting_with_cancelled_leaves_loop_frames_alone(run) -> None:
    async def scenario() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.sleep_forever)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

    async def main() -> list[str]:
        return await cyclic_garbage_of(scenario)

    garbage = run(main)
    assert "frame run_loop" not in garbage
    assert "frame iterate" not in garbage


def test_cancelled_nursery_leaves_no_cyclic_garbage(run) -> None:
    async def scenario() -> None:
        async with tether.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(tether.sleep_forever)
            await wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

    async def main() -> list[str]:
        return await cyclic_garbage_of(scenario)

    assert run(main) == []
