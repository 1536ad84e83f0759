"""Black-box tests of the low-level traps: wait_task_rescheduled with
reschedule() and abort functions, and detaching/reattaching coroutines."""

from __future__ import annotations

import outcome
import pytest

# ---------------------------------------------------------------- wait_task_rescheduled


def test_reschedule_with_value_returns_it_from_wait(run, impl) -> None:
    async def main():
        task = impl.lowlevel.current_task()

        async def waker():
            await impl.sleep(1)
            impl.lowlevel.reschedule(task, outcome.Value("hello"))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waker)
            value = await impl.lowlevel.wait_task_rescheduled(
                lambda raise_cancel: impl.lowlevel.Abort.FAILED
            )
            return value, impl.current_time()

    assert run(main) == ("hello", 1.0)


def test_reschedule_with_error_raises_it_from_wait(run, impl) -> None:
    error = KeyError("delivered")

    async def main():
        task = impl.lowlevel.current_task()

        async def waker():
            await impl.sleep(1)
            impl.lowlevel.reschedule(task, outcome.Error(error))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waker)
            with pytest.raises(KeyError) as info:
                await impl.lowlevel.wait_task_rescheduled(
                    lambda raise_cancel: impl.lowlevel.Abort.FAILED
                )
            return info.value is error

    assert run(main) is True


def test_reschedule_without_outcome_returns_none(run, impl) -> None:
    async def main():
        task = impl.lowlevel.current_task()

        async def waker():
            impl.lowlevel.reschedule(task)

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waker)
            return await impl.lowlevel.wait_task_rescheduled(
                lambda raise_cancel: impl.lowlevel.Abort.FAILED
            )

    assert run(main) is None


def test_abort_succeeded_raises_cancelled_at_cancel_time(run, impl) -> None:
    calls = []

    def abort(raise_cancel):
        calls.append(impl.current_time())
        return impl.lowlevel.Abort.SUCCEEDED

    async def main():
        with impl.move_on_after(2) as scope:
            await impl.lowlevel.wait_task_rescheduled(abort)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 2.0)
    assert calls == [2.0]


def test_abort_failed_keeps_task_waiting_until_rescheduled(run, impl) -> None:
    events = []

    def abort(raise_cancel):
        events.append(("abort", impl.current_time()))
        return impl.lowlevel.Abort.FAILED

    async def main():
        task = impl.lowlevel.current_task()

        async def late_waker():
            await impl.sleep(3)
            impl.lowlevel.reschedule(task, outcome.Value("late value"))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(late_waker)
            with impl.move_on_after(1) as scope:
                events.append(await impl.lowlevel.wait_task_rescheduled(abort))
                events.append(("resumed", impl.current_time()))
                await impl.lowlevel.checkpoint()
                events.append("not reached")
            events.append(("caught", scope.cancelled_caught, impl.current_time()))

    run(main)
    assert events == [
        ("abort", 1.0),
        "late value",
        ("resumed", 3.0),
        ("caught", True, 3.0),
    ]


def test_abort_failed_then_reschedule_with_raise_cancel(run, impl) -> None:
    async def main():
        task = impl.lowlevel.current_task()

        def abort(raise_cancel):
            impl.lowlevel.reschedule(task, outcome.capture(raise_cancel))
            return impl.lowlevel.Abort.FAILED

        with impl.move_on_after(1) as scope:
            await impl.lowlevel.wait_task_rescheduled(abort)
        return scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 1.0)


def test_abort_function_not_called_without_cancellation(run, impl) -> None:
    calls = []

    def abort(raise_cancel):
        calls.append("abort")
        return impl.lowlevel.Abort.SUCCEEDED

    async def main():
        task = impl.lowlevel.current_task()

        async def waker():
            await impl.sleep(1)
            impl.lowlevel.reschedule(task, outcome.Value(None))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(waker)
            await impl.lowlevel.wait_task_rescheduled(abort)

    run(main)
    assert calls == []


def test_abort_called_immediately_when_already_cancelled(run, impl) -> None:
    calls = []

    def abort(raise_cancel):
        calls.append(impl.current_time())
        return impl.lowlevel.Abort.SUCCEEDED

    async def main():
        await impl.sleep(1)
        with impl.CancelScope() as scope:
            scope.cancel()
            await impl.lowlevel.wait_task_rescheduled(abort)
        return scope.cancelled_caught

    assert run(main) is True
    assert calls == [1.0]


# ---------------------------------------------------------------- detaching


def test_temporarily_detached_coroutine_is_driven_then_reattached(run, impl) -> None:
    events = []

    async def main():
        async def child():
            task = impl.lowlevel.current_task()
            got = await impl.lowlevel.temporarily_detach_coroutine_object(
                lambda raise_cancel: impl.lowlevel.Abort.FAILED
            )
            events.append(("foreign runner sent", got))
            await impl.lowlevel.reattach_detached_coroutine_object(task, "to foreign runner")
            events.append(("reattached", impl.current_time()))
            await impl.sleep(1)
            events.append(("done", impl.current_time()))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            await impl.testing.wait_all_tasks_blocked()
            await impl.sleep(2)
            (task,) = nursery.child_tasks  # the task lives on while detached
            # Act as the foreign coroutine runner for one step.
            events.append(("foreign runner got", task.coro.send("hello")))

    run(main)
    assert events == [
        ("foreign runner sent", "hello"),
        ("foreign runner got", "to foreign runner"),
        ("reattached", 2.0),
        ("done", 3.0),
    ]


def test_reattach_from_wrong_coroutine_raises_runtime_error(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.sleep_forever)
            await impl.testing.wait_all_tasks_blocked()
            (task,) = nursery.child_tasks
            with pytest.raises(RuntimeError):
                await impl.lowlevel.reattach_detached_coroutine_object(task, None)
            nursery.cancel_scope.cancel()

    run(main)


def test_permanently_detached_task_exits_with_given_outcome(run, impl) -> None:
    events = []
    detached = []

    async def child():
        detached.append(impl.lowlevel.current_task().coro)
        got = await impl.lowlevel.permanently_detach_coroutine_object(outcome.Value("ignored"))
        events.append(("foreign runner sent", got))
        return "coroutine result"

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
        events.append(("nursery closed", nursery.child_tasks))

    run(main)
    with pytest.raises(StopIteration) as info:
        detached[0].send("resumed elsewhere")
    assert events == [
        ("nursery closed", frozenset()),
        ("foreign runner sent", "resumed elsewhere"),
    ]
    assert info.value.value == "coroutine result"


def test_permanently_detached_task_error_outcome_reaches_nursery(run, impl) -> None:
    detached = []

    async def child():
        detached.append(impl.lowlevel.current_task().coro)
        await impl.lowlevel.permanently_detach_coroutine_object(outcome.Error(ValueError("gone")))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    try:
        with pytest.raises(ExceptionGroup) as info:
            run(main)
    finally:
        detached[0].close()
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('gone')"]


def test_permanently_detach_with_open_nursery_raises_runtime_error(run, impl) -> None:
    async def main():
        async with impl.open_nursery():
            with pytest.raises(RuntimeError):
                await impl.lowlevel.permanently_detach_coroutine_object(outcome.Value(None))

    run(main)
