"""Black-box tests of trio.lowlevel's task-level API: Task introspection,
system tasks, checkpoint accounting, the run clock and run statistics.
Traps (wait_task_rescheduled, detaching) live in test_lowlevel_traps.py."""

from __future__ import annotations

import contextvars

import pytest

color: contextvars.ContextVar[str] = contextvars.ContextVar("color", default="none")


def reachable(exc: BaseException) -> list[BaseException]:
    """Every exception reachable from ``exc`` through groups, causes and contexts."""
    found: list[BaseException] = []
    pending = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is seen for seen in found):
            continue
        found.append(current)
        pending += [current.__cause__, current.__context__]
        if isinstance(current, BaseExceptionGroup):
            pending += current.exceptions
    return found


# ---------------------------------------------------------------- tasks


def test_current_task_is_stable_within_a_task(run, impl) -> None:
    async def main():
        first = impl.lowlevel.current_task()
        await impl.sleep(1)
        return first is impl.lowlevel.current_task()

    assert run(main) is True


def test_current_task_differs_between_tasks(run, impl) -> None:
    tasks = []

    async def child():
        tasks.append(impl.lowlevel.current_task())

    async def main():
        tasks.append(impl.lowlevel.current_task())
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            nursery.start_soon(child)

    run(main)
    assert len({id(task) for task in tasks}) == 3


def test_current_task_outside_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.lowlevel.current_task()


def test_current_root_task_outside_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.lowlevel.current_root_task()


def test_root_task_is_ultimate_parent_of_main_task(run, impl) -> None:
    async def main():
        root = impl.lowlevel.current_root_task()
        task = impl.lowlevel.current_task()
        while task.parent_nursery is not None:
            task = task.parent_nursery.parent_task
        return task is root, root.parent_nursery

    assert run(main) == (True, None)


def test_task_name_of_main_task_is_qualified_function_name(run, impl) -> None:
    async def main():
        return impl.lowlevel.current_task().name

    assert run(main) == f"{main.__module__}.{main.__qualname__}"


def test_task_coro_is_running_coroutine(run, impl) -> None:
    async def main():
        return impl.lowlevel.current_task().coro.cr_code is main.__code__

    assert run(main) is True


def test_task_context_holds_task_context_variables(run, impl) -> None:
    async def child():
        color.set("blue")
        await impl.sleep_forever()

    async def main():
        color.set("red")
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            await impl.testing.wait_all_tasks_blocked()
            (task,) = nursery.child_tasks
            seen = (impl.lowlevel.current_task().context.get(color), task.context.get(color))
            nursery.cancel_scope.cancel()
        return seen

    assert run(main) == ("red", "blue")


def test_task_parent_nursery_and_child_nurseries(run, impl) -> None:
    async def child():
        await impl.sleep_forever()

    async def main():
        me = impl.lowlevel.current_task()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            (task,) = nursery.child_tasks
            seen = (
                task.parent_nursery is nursery,
                task.eventual_parent_nursery,
                task.child_nurseries,
                me.child_nurseries == [nursery],
            )
            nursery.cancel_scope.cancel()
        return seen

    assert run(main) == (True, None, [], True)


def test_iter_await_frames_yields_frames_and_line_numbers(run, impl) -> None:
    async def inner():
        await impl.sleep_forever()

    async def outer():
        await inner()

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(outer)
            await impl.testing.wait_all_tasks_blocked()
            (task,) = nursery.child_tasks
            frames = list(task.iter_await_frames())
            nursery.cancel_scope.cancel()
        return [(frame.f_code.co_name, lineno) for frame, lineno in frames]

    frames = run(main)
    # Only the user's frames come first; frames of the library's own
    # waiting functions may follow.
    assert frames[:2] == [
        ("outer", outer.__code__.co_firstlineno + 1),
        ("inner", inner.__code__.co_firstlineno + 1),
    ]


# ---------------------------------------------------------------- system tasks


def test_spawn_system_task_runs_and_returns_task(run, impl) -> None:
    events = []

    async def system(arg):
        events.append(("system ran", arg))

    async def main():
        task = impl.lowlevel.spawn_system_task(system, "arg", name="sys worker")
        await impl.testing.wait_all_tasks_blocked()
        return task.name

    assert run(main) == "sys worker"
    assert events == [("system ran", "arg")]


def test_system_task_is_cancelled_when_main_task_exits(run, impl) -> None:
    events = []

    async def system():
        try:
            await impl.sleep_forever()
        except impl.Cancelled:
            events.append(("cancelled", impl.current_time()))
            raise
        finally:
            events.append("finally")

    async def main():
        impl.lowlevel.spawn_system_task(system)
        await impl.sleep(2)
        return "main result"

    assert run(main) == "main result"
    assert events == [("cancelled", 2.0), "finally"]


def test_system_task_error_raises_trio_internal_error(run, impl) -> None:
    async def system():
        await impl.sleep(1)
        raise ValueError("system failed")

    async def main():
        impl.lowlevel.spawn_system_task(system)
        await impl.sleep(5)

    with pytest.raises(impl.TrioInternalError) as info:
        run(main)
    # Where the original error hangs is not specified; it must be reachable.
    assert "ValueError('system failed')" in map(repr, reachable(info.value))


def test_system_task_error_cancels_main_task(run, impl) -> None:
    events = []

    async def system():
        await impl.sleep(1)
        raise ValueError("system failed")

    async def main():
        impl.lowlevel.spawn_system_task(system)
        try:
            await impl.sleep(5)
        except impl.Cancelled:
            events.append(("main cancelled", impl.current_time()))
            raise

    with pytest.raises(impl.TrioInternalError):
        run(main)
    assert events == [("main cancelled", 1.0)]


def test_system_task_does_not_inherit_spawner_context(run, impl) -> None:
    seen = []

    async def system():
        seen.append(color.get())

    async def main():
        color.set("spawner value")
        impl.lowlevel.spawn_system_task(system)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert seen == ["none"]


def test_system_task_uses_given_context(run, impl) -> None:
    seen = []

    async def system():
        seen.append(color.get())

    async def main():
        context = contextvars.copy_context()
        context.run(color.set, "from context")
        impl.lowlevel.spawn_system_task(system, context=context)
        await impl.testing.wait_all_tasks_blocked()

    run(main)
    assert seen == ["from context"]


def test_system_task_parent_is_not_main_task(run, impl) -> None:
    async def system():
        await impl.sleep_forever()

    async def main():
        task = impl.lowlevel.spawn_system_task(system)
        main_task = impl.lowlevel.current_task()
        return task.parent_nursery.parent_task is not main_task, main_task.child_nurseries

    assert run(main) == (True, [])


def test_spawn_system_task_coroutine_object_raises_type_error(run, impl) -> None:
    async def system():
        return None

    async def main():
        coro = system()
        with pytest.raises(TypeError):
            impl.lowlevel.spawn_system_task(coro)
        assert coro.cr_frame is None

    run(main)


# ---------------------------------------------------------------- checkpoint accounting


def test_checkpoint_passes_assert_checkpoints(run, impl) -> None:
    async def main():
        with impl.testing.assert_checkpoints():
            await impl.lowlevel.checkpoint()

    run(main)


def test_assert_checkpoints_fails_without_checkpoint(run, impl) -> None:
    async def main():
        with pytest.raises(AssertionError):
            with impl.testing.assert_checkpoints():
                pass

    run(main)


def test_assert_checkpoints_accepts_exit_by_exception(run, impl) -> None:
    async def main():
        with pytest.raises(KeyError):
            with impl.testing.assert_checkpoints():
                raise KeyError("no checkpoint needed")

    run(main)


def test_assert_no_checkpoints_passes_for_sync_code(run, impl) -> None:
    async def main():
        with impl.testing.assert_no_checkpoints():
            impl.lowlevel.current_task()
            impl.CancelScope().cancel()

    run(main)


def test_assert_no_checkpoints_fails_on_checkpoint(run, impl) -> None:
    async def main():
        with pytest.raises(AssertionError):
            with impl.testing.assert_no_checkpoints():
                await impl.lowlevel.checkpoint()

    run(main)


def test_cancel_shielded_checkpoint_is_not_a_full_checkpoint(run, impl) -> None:
    async def main():
        # It schedules but cannot be cancelled: neither assertion accepts it.
        with pytest.raises(AssertionError):
            with impl.testing.assert_checkpoints():
                await impl.lowlevel.cancel_shielded_checkpoint()
        with pytest.raises(AssertionError):
            with impl.testing.assert_no_checkpoints():
                await impl.lowlevel.cancel_shielded_checkpoint()

    run(main)


def test_checkpoint_if_cancelled_in_cancelled_scope_passes_assert_checkpoints(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            with impl.testing.assert_checkpoints():
                await impl.lowlevel.checkpoint_if_cancelled()
        return scope.cancelled_caught

    assert run(main) is True


def test_checkpoint_lets_other_tasks_run(run, impl) -> None:
    async def main():
        done = []

        async def other():
            done.append(True)

        async with impl.open_nursery() as nursery:
            nursery.start_soon(other)
            spins = 0
            while not done:
                assert spins < 100, "checkpoint() never let the other task run"
                await impl.lowlevel.checkpoint()
                spins += 1
        return impl.current_time()

    assert run(main) == 0.0


# ---------------------------------------------------------------- clock and statistics


def test_current_clock_is_the_run_clock(impl) -> None:
    clock = impl.testing.MockClock()

    async def main():
        return impl.lowlevel.current_clock()

    assert impl.run(main, clock=clock) is clock


def test_current_clock_default_is_a_clock(impl) -> None:
    async def main():
        return impl.lowlevel.current_clock()

    assert isinstance(impl.run(main), impl.abc.Clock)


def test_current_statistics_counts_tasks_and_deadlines(run, impl) -> None:
    async def child():
        await impl.sleep(5)

    async def main():
        before = impl.lowlevel.current_statistics()
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            nursery.start_soon(child)
            spawned = impl.lowlevel.current_statistics()
            await impl.testing.wait_all_tasks_blocked()
            blocked = impl.lowlevel.current_statistics()
            await impl.sleep(1)
            later = impl.lowlevel.current_statistics()
        return before, spawned, blocked, later

    before, spawned, blocked, later = run(main)
    assert (before.tasks_runnable, before.seconds_to_next_deadline) == (0, float("inf"))
    assert spawned.tasks_living == before.tasks_living + 2
    assert spawned.tasks_runnable == 2
    assert (blocked.tasks_runnable, blocked.seconds_to_next_deadline) == (0, 5.0)
    assert later.seconds_to_next_deadline == 4.0


def test_current_statistics_counts_run_sync_soon_queue(run, impl) -> None:
    async def main():
        token = impl.lowlevel.current_trio_token()
        empty = impl.lowlevel.current_statistics().run_sync_soon_queue_size
        token.run_sync_soon(lambda: None)
        token.run_sync_soon(lambda: None)
        queued = impl.lowlevel.current_statistics().run_sync_soon_queue_size
        await impl.testing.wait_all_tasks_blocked()
        drained = impl.lowlevel.current_statistics().run_sync_soon_queue_size
        return empty, queued, drained

    assert run(main) == (0, 2, 0)


def test_current_statistics_outside_run_raises_runtime_error(impl) -> None:
    with pytest.raises(RuntimeError):
        impl.lowlevel.current_statistics()
