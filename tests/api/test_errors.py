"""Black-box tests of the core exception types and of how errors travel:
class hierarchy, Cancelled's construction rules, tracebacks through tasks,
errors raised while cancelling, and the messages users search for."""

from __future__ import annotations

import pytest


def leaves(exc: BaseException) -> list[BaseException]:
    """The non-group exceptions inside ``exc``, depth first."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for sub in exc.exceptions for leaf in leaves(sub)]
    return [exc]


def frame_names(exc: BaseException) -> list[str]:
    names = []
    tb = exc.__traceback__
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    return names


# ---------------------------------------------------------------- hierarchy


def test_cancelled_is_base_exception_not_exception(impl) -> None:
    assert issubclass(impl.Cancelled, BaseException)
    assert not issubclass(impl.Cancelled, Exception)


@pytest.mark.parametrize(
    "name",
    [
        "TooSlowError",
        "TrioInternalError",
        "BusyResourceError",
        "ClosedResourceError",
        "BrokenResourceError",
        "WouldBlock",
        "EndOfChannel",
    ],
)
def test_core_error_is_plain_exception(impl, name) -> None:
    error_type = getattr(impl, name)
    assert error_type.__mro__[1:] == Exception.__mro__


def test_run_finished_error_is_runtime_error(impl) -> None:
    assert issubclass(impl.RunFinishedError, RuntimeError)


def test_trio_deprecation_warning_is_future_warning(impl) -> None:
    assert issubclass(impl.TrioDeprecationWarning, FutureWarning)


# ---------------------------------------------------------------- Cancelled


def test_cancelled_cannot_be_constructed_directly(impl) -> None:
    with pytest.raises(TypeError):
        impl.Cancelled()


def test_cancelled_raised_by_checkpoint_is_a_cancelled_instance(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            try:
                await impl.lowlevel.checkpoint()
            except BaseException as exc:
                caught = exc
                raise
        return type(caught) is impl.Cancelled

    assert run(main) is True


# ---------------------------------------------------------------- travelling errors


def test_child_error_traceback_includes_child_frame(run, impl) -> None:
    async def failing_child():
        await impl.sleep(1)
        raise ValueError("from child")

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(failing_child)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    (leaf,) = leaves(info.value)
    assert "failing_child" in frame_names(leaf)


def test_main_task_error_traceback_includes_main_frame(run, impl) -> None:
    async def failing_main():
        await impl.sleep(1)
        raise ValueError("from main")

    with pytest.raises(ValueError) as info:
        run(failing_main)
    assert "failing_main" in frame_names(info.value)


def test_nursery_group_holds_the_raised_exception_objects(run, impl) -> None:
    errors = [ValueError("a"), KeyError("b")]

    async def fail(exc):
        raise exc

    async def main():
        async with impl.open_nursery() as nursery:
            for error in errors:
                nursery.start_soon(fail, error)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert sorted(map(id, info.value.exceptions)) == sorted(map(id, errors))


def test_error_raised_while_handling_cancel_replaces_cancelled(run, impl) -> None:
    async def cleanup_fails():
        try:
            await impl.sleep_forever()
        except impl.Cancelled:
            raise KeyError("cleanup failed") from None

    async def main():
        async with impl.open_nursery() as nursery:
            nursery.start_soon(cleanup_fails)
            await impl.testing.wait_all_tasks_blocked()
            nursery.cancel_scope.cancel()

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in info.value.exceptions] == ["KeyError('cleanup failed')"]


def test_error_in_cancelled_scope_propagates_past_the_scope(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel()
            raise ValueError("not swallowed")

    with pytest.raises(ValueError, match="not swallowed"):
        run(main)


def test_cancelled_siblings_are_not_reported_with_real_error(run, impl) -> None:
    async def fail():
        await impl.sleep(1)
        raise ValueError("real")

    async def main():
        async with impl.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(impl.sleep_forever)
            nursery.start_soon(fail)

    with pytest.raises(ExceptionGroup) as info:
        run(main)
    assert [repr(exc) for exc in leaves(info.value)] == ["ValueError('real')"]


def test_system_exit_from_main_task_propagates_unchanged(run) -> None:
    error = SystemExit(3)

    async def main():
        raise error

    with pytest.raises(SystemExit) as info:
        run(main)
    assert info.value is error


# ---------------------------------------------------------------- messages users search for


def test_outside_run_error_message(impl) -> None:
    with pytest.raises(RuntimeError, match="must be called from async context"):
        impl.current_time()


def test_nested_run_error_message(run, impl) -> None:
    async def inner():
        return None

    async def main():
        with pytest.raises(RuntimeError, match=r"Attempted to call run\(\) from inside a run\(\)"):
            impl.run(inner)

    run(main)


def test_run_sync_function_message_names_function(impl) -> None:
    def my_sync_function():
        return None

    with pytest.raises(TypeError, match="my_sync_function"):
        impl.run(my_sync_function)


def test_cancelled_str_names_source_and_reason(run, impl) -> None:
    async def main():
        with impl.CancelScope() as scope:
            scope.cancel(reason="shutting down")
            try:
                await impl.lowlevel.checkpoint()
            except impl.Cancelled as exc:
                text = str(exc)
                raise
        return text

    text = run(main)
    assert text.startswith("cancelled due to explicit with reason 'shutting down' from task ")
