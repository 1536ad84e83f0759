"""Black-box tests of nurseries: waiting, error propagation and grouping,
introspection and context variables. ``start()`` and task names live in
test_nursery_start.py."""

from __future__ import annotations

import contextvars

import pytest

STRICT_FALSE_WARNING = "ignore:.*strict_exception_groups=False.*"

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="unset")


async def fail(exc: BaseException) -> None:
    raise exc


# ---------------------------------------------------------------- waiting


def test_nursery_waits_for_all_children(run, impl) -> None:
    finished = []

    async def child(seconds):
        await impl.sleep(seconds)
        finished.append((seconds, impl.current_time()))

    async def main():
        async with impl.open_nursery() as nursery:
            for seconds in (1, 3, 2):
                nursery.start_soon(child, seconds)
        return impl.current_time()

    assert run(main) == 3.0
    assert finished == [(1, 1.0), (2, 2.0), (3, 3.0)]


def test_nursery_runs_every_child_started_soon(run, impl) -> None:
    ran = []

    async def child(n):
        ran.append(n)

    async def main():
        async with impl.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(child, n)

    run(main)
    assert sorted(ran) == list(range(10))


def test_start_soon_child_does_not_run_before_parent_yields(run, impl) -> None:
    events = []

    async def child():
        events.append("child")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
            events.append("parent still running")
        events.append("nursery closed")

    run(main)
    assert events == ["parent still running", "child", "nursery closed"]


def test_children_ordered_by_sequencer(run, impl) -> None:
    sequencer = impl.testing.Sequencer()
    events = []

    async def worker(name, first, second):
        async with sequencer(first):
            events.append((name, first))
        async with sequencer(second):
            events.append((name, second))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(worker, "a", 1, 2)
            nursery.start_soon(worker, "b", 0, 3)

    run(main)
    assert events == [("b", 0), ("a", 1), ("a", 2), ("b", 3)]


def test_child_may_spawn_into_nursery_while_parent_waits_in_exit(run, impl) -> None:
    events = []

    async def main():
        async def second():
            await impl.sleep(1)
            events.append(("second", impl.current_time()))

        async def first():
            await impl.sleep(1)
            nursery.start_soon(second)
            events.append(("first", impl.current_time()))

        async with impl.open_nursery() as nursery:
            nursery.start_soon(first)
        events.append(("closed", impl.current_time()))

    run(main)
    assert events == [("first", 1.0), ("second", 2.0), ("closed", 2.0)]


def test_start_soon_on_closed_nursery_raises_runtime_error(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            pass
        with pytest.raises(RuntimeError, match="Nursery is closed to new arrivals"):
            nursery.start_soon(impl.sleep, 1)

    run(main)


def test_start_on_closed_nursery_raises_runtime_error(run, impl) -> None:
    async def child(task_status=impl.TASK_STATUS_IGNORED):
        task_status.started()

    async def main():
        async with impl.open_nursery() as nursery:
            pass
        with pytest.raises(RuntimeError, match="Nursery is closed to new arrivals"):
            await nursery.start(child)

    run(main)


def test_start_soon_coroutine_object_raises_type_error(run, impl) -> None:
    async def child():
        return None

    async def main():
        coro = child()
        async with impl.open_nursery() as nursery:
            with pytest.raises(TypeError, match="coroutine object"):
                nursery.start_soon(coro)
            assert nursery.child_tasks == frozenset()
        # refused coroutine is closed, so no "never awaited" warning fires
        assert coro.cr_frame is None

    run(main)


def test_start_soon_sync_function_raises_type_error(run, impl) -> None:
    def not_async():
        return None

    async def main():
        async with impl.open_nursery() as nursery:
            with pytest.raises(TypeError, match="appears to be synchronous"):
                nursery.start_soon(not_async)

    run(main)


# ---------------------------------------------------------------- errors


def test_child_error_cancels_siblings(run, impl) -> None:
    events = []

    async def sibling():
        try:
            await impl.sleep_forever()
        except impl.Cancelled:
            events.append(("sibling cancelled", impl.current_time()))
            raise

    async def failing():
        await impl.sleep(2)
        raise ValueError("child failed")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(sibling)
            nursery.start_soon(failing)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('child failed')"]
    assert events == [("sibling cancelled", 2.0)]


def test_child_error_cancels_parent_body(run, impl) -> None:
    events = []

    async def failing():
        await impl.sleep(1)
        raise ValueError("child failed")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(failing)
            try:
                await impl.sleep(10)
            except impl.Cancelled:
                events.append(("body cancelled", impl.current_time()))
                raise
            events.append("body not cancelled")

    with pytest.raises(ExceptionGroup):
        run(main)
    assert events == [("body cancelled", 1.0)]


def test_two_child_errors_collected_in_one_exception_group(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(fail, ValueError(1))
            nursery.start_soon(fail, KeyError(2))

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert type(info.value) is ExceptionGroup
    assert sorted(map(repr, info.value.exceptions)) == ["KeyError(2)", "ValueError(1)"]


def test_nursery_exception_group_message(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(fail, ValueError(1))

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert info.value.message == "Exceptions from Trio nursery"


def test_base_exception_from_child_gives_base_exception_group(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(fail, ValueError(1))
            nursery.start_soon(fail, SystemExit(2))

    with pytest.raises(BaseExceptionGroup) as info:
        run(main)
    assert not isinstance(info.value, ExceptionGroup)
    assert sorted(map(repr, info.value.exceptions)) == ["SystemExit(2)", "ValueError(1)"]


def test_nested_nursery_errors_give_nested_groups(run, impl) -> None:
    async def middle():
        async with impl.open_nursery() as inner:
            inner.start_soon(fail, ValueError("deep"))

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(middle)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    (inner_group,) = info.value.exceptions
    assert type(inner_group) is ExceptionGroup
    assert [repr(exc) for exc in inner_group.exceptions] == ["ValueError('deep')"]


def test_body_error_is_wrapped_in_group_by_default(run, impl) -> None:
    error = KeyError("body")

    async def main():
        async with impl.open_nursery():
            raise error

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert info.value.exceptions == (error,)


def test_body_and_child_errors_collected_together(run, impl) -> None:
    async def shielded_failure():
        with impl.CancelScope(shield=True):
            await impl.sleep(1)
        raise ValueError("child")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(shielded_failure)
            await impl.testing.wait_all_tasks_blocked()
            raise KeyError("body")

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert sorted(map(repr, info.value.exceptions)) == ["KeyError('body')", "ValueError('child')"]


def test_cancelled_children_and_body_raise_nothing(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.sleep_forever)
            nursery.start_soon(impl.sleep_forever)
            await impl.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()
            await impl.sleep_forever()
        return nursery.cancel_scope.cancelled_caught, impl.current_time()

    assert run(main) == (True, 0.0)


def test_block_exits_cleanly_when_children_swallow_a_cancel_that_arrives_in_exit(run, impl) -> None:
    # The parent's own Cancelled, raised while it waits for the children, is
    # dropped: the children answer for the cancellation, and the parent meets
    # it again at its next checkpoint.
    events = []

    async def swallows():
        try:
            await impl.sleep_forever()
        except impl.Cancelled:
            events.append("child swallowed")

    async def main():
        with impl.move_on_after(1) as scope:
            async with impl.open_nursery() as nursery:
                nursery.start_soon(swallows)
            events.append("after the block")
            await impl.lowlevel.checkpoint()
            events.append("not reached")
        return scope.cancelled_caught

    assert run(main) is True
    assert events == ["child swallowed", "after the block"]


def test_child_cancelled_while_parent_waits_in_exit_keeps_the_original_reason(run, impl) -> None:
    reasons = []

    async def child():
        try:
            await impl.sleep_forever()
        except impl.Cancelled as cancelled:
            reasons.append(str(cancelled))
            raise

    async def main():
        with impl.move_on_after(1):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(child)

    run(main)
    assert reasons == ["cancelled due to deadline"]


def test_child_error_during_cancel_in_exit_is_the_only_error(run, impl) -> None:
    async def fails_when_cancelled():
        try:
            await impl.sleep_forever()
        finally:
            raise ValueError("cleanup failed")

    async def main():
        with impl.move_on_after(1):
            async with impl.open_nursery() as nursery:
                nursery.start_soon(fails_when_cancelled)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('cleanup failed')"]


def test_cancelled_siblings_do_not_appear_in_exception_group(run, impl) -> None:
    async def stubborn():
        try:
            await impl.sleep_forever()
        finally:
            with impl.CancelScope(shield=True):
                await impl.sleep(1)

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(stubborn)
            await impl.testing.wait_all_tasks_blocked()
            nursery.start_soon(fail, ValueError("x"))
        return "unreachable"

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('x')"]


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_open_nursery_strict_false_does_not_wrap_single_child_error(run, impl) -> None:
    async def main():
        async with impl.open_nursery(strict_exception_groups=False) as nursery:
            nursery.start_soon(fail, ValueError("alone"))

    with pytest.raises(ValueError, match="alone"):
        run(main)


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_open_nursery_strict_false_does_not_wrap_body_error(run, impl) -> None:
    error = KeyError("body")

    async def main():
        async with impl.open_nursery(strict_exception_groups=False):
            raise error

    with pytest.raises(KeyError) as info:
        run(main)
    assert info.value is error


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_open_nursery_strict_false_still_groups_two_errors(run, impl) -> None:
    async def main():
        async with impl.open_nursery(strict_exception_groups=False) as nursery:
            nursery.start_soon(fail, ValueError(1))
            nursery.start_soon(fail, KeyError(2))

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert sorted(map(repr, info.value.exceptions)) == ["KeyError(2)", "ValueError(1)"]


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_open_nursery_strict_true_overrides_loose_run(run, impl) -> None:
    async def main():
        async with impl.open_nursery(strict_exception_groups=True) as nursery:
            nursery.start_soon(fail, ValueError("alone"))

    with pytest.raises(ExceptionGroup) as info:
        run(main, strict_exception_groups=False)
    assert [repr(exc) for exc in info.value.exceptions] == ["ValueError('alone')"]


@pytest.mark.filterwarnings(STRICT_FALSE_WARNING)
def test_open_nursery_default_follows_loose_run(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(fail, ValueError("alone"))

    with pytest.raises(ValueError, match="alone"):
        run(main, strict_exception_groups=False)


def test_open_nursery_strict_false_is_deprecated(run, impl) -> None:
    async def main():
        async with impl.open_nursery(strict_exception_groups=False):
            pass

    with pytest.warns(impl.TrioDeprecationWarning, match="strict_exception_groups=False"):
        run(main)


# ---------------------------------------------------------------- introspection


def test_nursery_parent_task_is_opening_task(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            return nursery.parent_task is impl.lowlevel.current_task()

    assert run(main) is True


def test_nursery_method_can_be_wrapped_on_the_instance(run, impl) -> None:
    # tricycle's service nursery replaces start_soon on the nursery it opens.
    started = []

    async def child(name):
        started.append(name)

    async def main():
        async with impl.open_nursery() as nursery:
            original = nursery.start_soon

            def start_soon(async_fn, *args, name=None):
                original(async_fn, *(arg.upper() for arg in args), name=name)

            nursery.start_soon = start_soon
            nursery.start_soon(child, "wrapped")

    run(main)
    assert started == ["WRAPPED"]


def test_nursery_child_tasks_tracks_running_children(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            assert nursery.child_tasks == frozenset()
            nursery.start_soon(impl.sleep, 1, name="short")
            nursery.start_soon(impl.sleep, 2, name="long")
            assert isinstance(nursery.child_tasks, frozenset)
            assert sorted(task.name for task in nursery.child_tasks) == ["long", "short"]
            await impl.sleep(1.5)
            assert [task.name for task in nursery.child_tasks] == ["long"]
        return nursery.child_tasks

    assert run(main) == frozenset()


def test_nursery_children_have_nursery_as_parent(run, impl) -> None:
    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(impl.sleep, 1)
            (child,) = nursery.child_tasks
            return child.parent_nursery is nursery

    assert run(main) is True


def test_nursery_cancel_scope_cancels_children(run, impl) -> None:
    events = []

    async def child():
        try:
            await impl.sleep_forever()
        except impl.Cancelled:
            events.append(("child cancelled", impl.current_time()))
            raise

    async def main():
        async with impl.open_nursery() as nursery:
            assert isinstance(nursery.cancel_scope, impl.CancelScope)
            nursery.start_soon(child)
            await impl.sleep(3)
            nursery.cancel_scope.cancel()
        events.append(("closed", impl.current_time()))

    run(main)
    assert events == [("child cancelled", 3.0), ("closed", 3.0)]


def test_task_child_nurseries_lists_open_nurseries(run, impl) -> None:
    async def main():
        me = impl.lowlevel.current_task()
        observed = [me.child_nurseries]
        async with impl.open_nursery() as outer:
            observed.append(me.child_nurseries == [outer])
            async with impl.open_nursery() as inner:
                observed.append(me.child_nurseries == [outer, inner])
            observed.append(me.child_nurseries == [outer])
        observed.append(me.child_nurseries)
        return observed

    assert run(main) == [[], True, True, True, []]


# ---------------------------------------------------------------- contextvars


def test_child_sees_spawner_context_value(run, impl) -> None:
    seen = []

    async def child():
        seen.append(request_id.get())

    async def main():
        request_id.set("from parent")
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)

    run(main)
    assert seen == ["from parent"]


def test_child_context_is_copied_at_spawn_time(run, impl) -> None:
    seen = []

    async def child():
        seen.append(request_id.get())

    async def main():
        async with impl.open_nursery() as nursery:
            request_id.set("first")
            nursery.start_soon(child)
            request_id.set("second")
            nursery.start_soon(child)

    run(main)
    assert sorted(seen) == ["first", "second"]


def test_child_context_changes_are_invisible_to_parent(run, impl) -> None:
    async def child():
        request_id.set("changed by child")

    async def main():
        request_id.set("parent value")
        async with impl.open_nursery() as nursery:
            nursery.start_soon(child)
        return request_id.get()

    assert run(main) == "parent value"


def test_started_child_context_changes_are_invisible_to_parent(run, impl) -> None:
    async def server(task_status=impl.TASK_STATUS_IGNORED):
        before = request_id.get()
        request_id.set("changed by child")
        task_status.started(before)

    async def main():
        request_id.set("parent value")
        async with impl.open_nursery() as nursery:
            seen_by_child = await nursery.start(server)
        return seen_by_child, request_id.get()

    assert run(main) == ("parent value", "parent value")


def test_run_main_task_sees_caller_context(impl) -> None:
    async def main():
        return request_id.get()

    token = request_id.set("outside run")
    try:
        assert impl.run(main) == "outside run"
    finally:
        request_id.reset(token)


def test_run_main_task_changes_do_not_leak_out(impl) -> None:
    async def main():
        request_id.set("inside run")

    impl.run(main)
    assert request_id.get() == "unset"
