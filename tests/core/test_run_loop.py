"""The Runner's own bookkeeping: task states and counters, the idle waiters
of ``wait_all_tasks_blocked``, lazy deadline checks, the wake-up pipe's
drain, MockClock's link to the runner, and what a task reports about where
it is suspended."""

from __future__ import annotations

import os
from typing import Any

import pytest

import tether
from tether import _core
from tether.testing import MockClock, wait_all_tasks_blocked


def test_abort_func_is_set_exactly_while_blocked(run) -> None:
    # Invariant (_task.py): _abort_func is not None exactly while blocked.
    async def main() -> None:
        runner = _core.current_runner()
        me = _core.current_task()
        assert me._abort_func is None  # running
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.sleep_forever)
            [child] = nursery.child_tasks
            assert child in runner.runq and child._abort_func is None  # runnable
            await wait_all_tasks_blocked()
            assert child._abort_func is not None and child not in runner.runq  # blocked
            nursery.cancel_scope.cancel()
            assert child._abort_func is None and child in runner.runq  # woken
            assert isinstance(child._next_exc, tether.Cancelled)

    run(main)


def test_reschedule_of_a_task_that_is_not_blocked_raises(run) -> None:
    async def main() -> None:
        with pytest.raises(RuntimeError, match="not blocked"):
            _core.reschedule(_core.current_task())

    run(main)


def test_statistics_count_living_and_runnable_tasks_exactly(run) -> None:
    async def main() -> None:
        stats = _core.current_statistics()
        assert (stats.tasks_living, stats.tasks_runnable) == (2, 0)  # <init>, main
        async with tether.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(tether.sleep, 5)
            stats = _core.current_statistics()
            assert (stats.tasks_living, stats.tasks_runnable) == (5, 3)
            await wait_all_tasks_blocked()
            stats = _core.current_statistics()
            assert (stats.tasks_living, stats.tasks_runnable) == (5, 0)
            assert stats.seconds_to_next_deadline == 5
        stats = _core.current_statistics()
        assert (stats.tasks_living, stats.tasks_runnable) == (2, 0)

    run(main)


def test_runner_is_detached_from_the_thread_after_run(run) -> None:
    runners: list[_core.Runner] = []

    async def main() -> None:
        runners.append(_core.current_runner())

    run(main)
    [runner] = runners
    assert runner.finished
    assert runner.current is None
    assert _core.RUN.runner is None
    assert runner.entry_queue.closed


# ---------------------------------------------------------------- wait_all_tasks_blocked


def test_idle_waiters_wake_by_cushion_then_arrival(run, fifo) -> None:
    woken: list[str] = []

    async def waiter(label: str, cushion: float) -> None:
        await wait_all_tasks_blocked(cushion)
        woken.append(label)

    async def main() -> None:
        runner = _core.current_runner()
        async with tether.open_nursery() as nursery:
            for label, cushion in [("b1", 0.02), ("a1", 0.01), ("b2", 0.02), ("a2", 0.01)]:
                nursery.start_soon(waiter, label, cushion)
            await _core.checkpoint()
            await _core.checkpoint()
            cushions = [entry[0] for entry in runner.waiting_for_idle]
            assert cushions == sorted(cushions)

    run(main)
    # The 0.01 pair wakes together first, then the 0.02 pair (main's own
    # nursery wait does not count as "busy").
    assert woken == ["a1", "a2", "b1", "b2"]


def test_cancelled_idle_waiter_is_removed(run) -> None:
    async def main() -> None:
        runner = _core.current_runner()
        with _core.CancelScope() as scope:
            scope.cancel()
            await wait_all_tasks_blocked(10)  # registered, then aborted at once
        assert scope.cancelled_caught
        assert runner.waiting_for_idle == []

    run(main)


def test_idle_waiters_do_not_let_the_clock_autojump(run) -> None:
    async def main() -> float:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(tether.sleep, 50)
            await wait_all_tasks_blocked()
            return _core.current_time()

    assert run(main) == 0


# ---------------------------------------------------------------- lazy deadline checks


def test_cancel_called_notices_a_passed_deadline_before_the_loop(run) -> None:
    clock = MockClock()

    async def main() -> None:
        with _core.CancelScope(deadline=5) as outer:
            with _core.CancelScope() as inner:
                clock.jump(6)
                assert not outer.effectively_cancelled  # the loop has not looked yet
                assert outer.cancel_called  # asking looks
                assert outer.effectively_cancelled and inner.effectively_cancelled
                assert outer._timer is None
                assert outer._cancel_info == ("deadline", None, None)
                await _core.checkpoint()
        assert outer.cancelled_caught

    run(main, clock=clock)


def test_cancel_scope_repr_tells_deadline_and_state(run) -> None:
    async def main() -> None:
        scope = _core.CancelScope(deadline=2.5)
        assert "unbound" in repr(scope)
        with scope:
            assert "active" in repr(scope) and "deadline is 2.50 seconds from now" in repr(scope)
            scope.cancel()
            assert "cancelled" in repr(scope)
        assert "exited" in repr(scope)

    run(main)


# ---------------------------------------------------------------- the wake-up pipe


def test_wakeup_pipe_survives_being_full_and_drains_completely(run) -> None:
    async def main() -> None:
        queue = _core.current_runner().entry_queue
        queue.sleeping = True  # pretend, so that wake_loop writes
        try:
            for _ in range(100_000):  # more than a pipe holds
                queue.wake_loop()
        finally:
            queue.sleeping = False
        queue.drain_wakeup()
        with pytest.raises(BlockingIOError):
            os.read(queue.wakeup_read_fd, 1)

    run(main)


def test_run_sync_soon_after_run_raises_run_finished(run) -> None:
    tokens: list[_core.TrioToken] = []

    async def main() -> None:
        tokens.append(_core.current_trio_token())

    run(main)
    with pytest.raises(tether.RunFinishedError):
        tokens[0].run_sync_soon(print)
    with pytest.raises(tether.RunFinishedError):
        tokens[0].run_sync_soon(print, idempotent=True)


def test_idempotent_callbacks_are_merged(run) -> None:
    calls: list[int] = []

    async def main() -> None:
        token = _core.current_trio_token()
        for _ in range(3):
            token.run_sync_soon(calls.append, 1, idempotent=True)
        token.run_sync_soon(calls.append, 2, idempotent=True)
        assert _core.current_statistics().run_sync_soon_queue_size == 2
        await _core.checkpoint()
        await _core.checkpoint()

    run(main)
    assert calls == [1, 2]


# ---------------------------------------------------------------- MockClock and the runner


def test_mock_clock_threshold_change_reaches_the_runner() -> None:
    clock = MockClock()

    async def main() -> float:
        runner = _core.current_runner()
        assert runner.autojump_threshold == float("inf")
        clock.autojump_threshold = 0
        assert runner.autojump_threshold == 0
        await tether.sleep(100)
        return _core.current_time()

    assert tether.run(main, clock=clock) == 100


# ---------------------------------------------------------------- where a task is suspended


def frame_names(task: _core.Task) -> list[str]:
    return [frame.f_code.co_name for frame, _ in task.iter_await_frames()]


def test_iter_await_frames_follows_coroutines_and_generators(run) -> None:
    names: list[list[str]] = []

    async def inner() -> None:
        await tether.sleep_forever()

    async def outer() -> None:
        await inner()

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(outer)
            await wait_all_tasks_blocked()
            [task] = nursery.child_tasks
            names.append(frame_names(task))
            nursery.cancel_scope.cancel()

    run(main)
    [found] = names
    assert found[:3] == ["outer", "inner", "sleep_forever"]


def test_iter_await_frames_walks_into_async_generators(run) -> None:
    names: list[list[str]] = []

    async def numbers() -> Any:
        await tether.sleep_forever()
        yield 1

    async def consumer() -> None:
        async for _ in numbers():
            pass

    async def main() -> None:
        async with tether.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await wait_all_tasks_blocked()
            [task] = nursery.child_tasks
            names.append(frame_names(task))
            nursery.cancel_scope.cancel()

    run(main)
    [found] = names
    assert found[:3] == ["consumer", "numbers", "sleep_forever"]


def test_a_task_woken_by_before_io_wait_does_not_wait_for_io() -> None:
    # Regression: the loop decided to sleep before calling the instrument,
    # so a task the instrument woke waited for the (endless) I/O wait.
    event = tether.Event()

    class Waker(tether.abc.Instrument):
        def before_io_wait(self, timeout: float) -> None:
            if timeout > 0:
                event.set()

    async def main() -> str:
        await event.wait()  # nothing else could ever wake it
        return "woken"

    assert tether.run(main, instruments=[Waker()]) == "woken"
